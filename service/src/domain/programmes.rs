//! Reading programmes. Drafts are the programme team's work in progress:
//! only admins see them.

use entity::enums::ProgrammeStatus;
use entity::programme;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::pagination::{Cursor, Page, PageRequest, after_condition};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// One programme, if it exists and the caller may see it.
pub async fn get(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<programme::Model> {
    let found = programme::Entity::find_by_id(id).one(db).await?;
    match found {
        Some(p) if caller.is_admin() || p.status != ProgrammeStatus::Draft => Ok(p),
        _ => Err(AppError::NotFound("programme")),
    }
}

/// A page of programmes by name, optionally of one status.
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    page: &PageRequest,
    status: Option<ProgrammeStatus>,
) -> AppResult<Page<programme::Model>> {
    let mut query = programme::Entity::find();
    if let Some(status) = status {
        query = query.filter(programme::Column::Status.eq(status));
    }
    if !caller.is_admin() {
        query = query.filter(programme::Column::Status.ne(ProgrammeStatus::Draft));
    }
    if let Some(after) = &page.after {
        query = query.filter(after_condition(
            programme::Column::Name,
            programme::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(programme::Column::Name)
        .order_by_asc(programme::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |p| Cursor {
        key: p.name.clone(),
        id: p.id,
    }))
}
