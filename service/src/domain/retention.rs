//! Retention: what is kept only so long (GDPR art. 5(1)(e)).
//!
//! - Private notes and feedback comments: erased `RETENTION_NOTES_DAYS`
//!   (default 365) after their pairing ended.
//! - Leavers: a TERMINATED employee's personal data is erased
//!   `RETENTION_LEAVERS_DAYS` (default 730) after they left, by the same
//!   [`erasure::erase_people`](super::erasure::erase_people) an admin's
//!   request uses, so the programme's figures stay the same.
//!
//! A pass measures both limits from one instant (`as_of`: now, or `--now`
//! for a test or a catch-up), is idempotent, and is recorded with its
//! counts in `retention_runs`.

use chrono::{DateTime, Duration, Utc};
use entity::enums::EmployeeStatus;
use entity::{employee, mentoring_session, pairing, retention_run, session_feedback};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveEnum as _, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel as _,
    QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::error::AppResult;

/// Ids per statement.
const CHUNK: usize = 1_000;

/// How long data is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Days notes and comments outlive their pairing's end.
    pub notes_days: i64,
    /// Days a leaver's personal data outlives their departure.
    pub leavers_days: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            notes_days: 365,
            leavers_days: 730,
        }
    }
}

/// One retention pass at `as_of`, recorded.
pub async fn run(
    db: &DatabaseConnection,
    settings: RetentionSettings,
    as_of: DateTime<Utc>,
) -> AppResult<retention_run::Model> {
    let notes_cutoff = as_of - Duration::days(settings.notes_days);
    let (notes, comments) = erase_old_notes(db, notes_cutoff).await?;
    let leavers_cutoff = as_of - Duration::days(settings.leavers_days);
    let people = erase_old_leavers(db, leavers_cutoff, as_of).await?;
    let record = retention_run::Model {
        id: super::new_id(),
        as_of,
        ran_at: Utc::now(),
        notes_erased: count(notes),
        comments_erased: count(comments),
        people_erased: count(people),
    };
    retention_run::Entity::insert(record.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    if notes + comments + people > 0 {
        tracing::info!(notes, comments, people, %as_of, "retention erased data");
    }
    Ok(record)
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Notes and comments of pairings that ended at or before `cutoff`.
async fn erase_old_notes(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> AppResult<(u64, u64)> {
    let ended: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::EndedAt.is_not_null())
        .filter(pairing::Column::EndedAt.lte(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    let (mut notes, mut comments) = (0, 0);
    for chunk in ended.chunks(CHUNK) {
        let txn = super::write_txn(db).await?;
        notes += mentoring_session::Entity::update_many()
            .col_expr(
                mentoring_session::Column::PrivateNotes,
                Expr::value(Option::<String>::None),
            )
            .filter(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .filter(mentoring_session::Column::PrivateNotes.is_not_null())
            .exec(&txn)
            .await?
            .rows_affected;
        let sessions = Query::select()
            .column(mentoring_session::Column::Id)
            .from(mentoring_session::Entity)
            .and_where(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .to_owned();
        comments += session_feedback::Entity::update_many()
            .col_expr(
                session_feedback::Column::Comment,
                Expr::value(Option::<String>::None),
            )
            .filter(session_feedback::Column::SessionId.in_subquery(sessions))
            .filter(session_feedback::Column::Comment.is_not_null())
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
    }
    Ok((notes, comments))
}

/// Leavers gone at or before `cutoff`, not erased yet.
async fn erase_old_leavers(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> AppResult<u64> {
    // When they left; for a leaver from before the date was kept, their
    // last update.
    let left_by_cutoff = Condition::any()
        .add(employee::Column::TerminatedAt.lte(cutoff))
        .add(
            Condition::all()
                .add(employee::Column::TerminatedAt.is_null())
                .add(employee::Column::UpdatedAt.lte(cutoff)),
        );
    let leavers: Vec<Uuid> = crate::domain::employees::findable()
        .select_only()
        .column(employee::Column::Id)
        .filter(employee::Column::Status.eq(EmployeeStatus::Terminated.to_value()))
        .filter(left_by_cutoff)
        .into_tuple()
        .all(db)
        .await?;
    let mut erased = 0;
    for chunk in leavers.chunks(CHUNK) {
        let txn = super::write_txn(db).await?;
        erased += super::erasure::erase_people(&txn, chunk, as_of).await?;
        txn.commit().await?;
    }
    Ok(erased)
}
