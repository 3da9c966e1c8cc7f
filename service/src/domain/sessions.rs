//! Mentoring sessions.

use chrono::{DateTime, Utc};
use entity::enums::SessionStatus;
use entity::mentoring_session;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveEnum, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppResult;

/// Cancels the SCHEDULED sessions of these pairings that start after `now`
/// (a pairing that ends keeps its history, loses its future).
pub async fn cancel_future<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if pairing_ids.is_empty() {
        return Ok(());
    }
    mentoring_session::Entity::update_many()
        .col_expr(
            mentoring_session::Column::Status,
            Expr::value(SessionStatus::Cancelled.to_value()),
        )
        .col_expr(mentoring_session::Column::CancelReason, Expr::value(reason))
        .col_expr(mentoring_session::Column::UpdatedAt, Expr::value(now))
        .filter(mentoring_session::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
        .filter(mentoring_session::Column::StartsAt.gt(now))
        .exec(db)
        .await?;
    Ok(())
}
