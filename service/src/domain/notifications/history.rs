//! What was sent: a person's own notifications, newest first, and the
//! delivery state of a programme's notifications for its admins.

use entity::enums::DeliveryState;
use entity::notification;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::error::AppResult;

/// Ids are time-ordered (UUIDv7): newest first is the id descending, and
/// the cursor is the last id seen.
fn cursor(row: &notification::Model) -> Cursor {
    Cursor {
        key: String::new(),
        id: row.id,
    }
}

fn newest_first(
    mut query: sea_orm::Select<notification::Entity>,
    page: &PageRequest,
) -> sea_orm::Select<notification::Entity> {
    if let Some(after) = &page.after {
        query = query.filter(notification::Column::Id.lt(after.id));
    }
    query
        .order_by_desc(notification::Column::Id)
        .limit(page.first + 1)
}

/// The caller's own notifications (every channel that names them).
pub async fn mine(
    db: &DatabaseConnection,
    caller: &Caller,
    page: &PageRequest,
) -> AppResult<Page<notification::Model>> {
    let Some(me) = caller.employee_id else {
        return Ok(Page::from_rows(Vec::new(), page, cursor));
    };
    let query = notification::Entity::find().filter(notification::Column::RecipientId.eq(me));
    let rows = newest_first(query, page).all(db).await?;
    Ok(Page::from_rows(rows, page, cursor))
}

/// Admins: a programme's notifications, every recipient and channel,
/// optionally in one delivery state, newest first.
pub async fn of_programme(
    db: &DatabaseConnection,
    caller: &Caller,
    programme_id: Uuid,
    state: Option<DeliveryState>,
    page: &PageRequest,
) -> AppResult<Page<notification::Model>> {
    access::require(caller, Area::Administration)?;
    let mut query =
        notification::Entity::find().filter(notification::Column::ProgrammeId.eq(programme_id));
    if let Some(state) = state {
        query = query.filter(notification::Column::State.eq(state));
    }
    let rows = newest_first(query, page).all(db).await?;
    Ok(Page::from_rows(rows, page, cursor))
}
