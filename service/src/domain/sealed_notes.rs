//! The sealed columns in the database: whether any exist (a start without
//! keys must refuse then) and their re-sealing under the current key
//! (`tandem rotate-notes-key`), batch by batch while the service runs.

use entity::{mentoring_session, session_feedback};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::seal::{self, Keyring, SEALED_LIKE};
use crate::error::{AppError, AppResult};

/// Whether the database holds any sealed note or comment.
pub async fn any_sealed(db: &DatabaseConnection) -> AppResult<bool> {
    let note = mentoring_session::Entity::find()
        .select_only()
        .column(mentoring_session::Column::Id)
        .filter(mentoring_session::Column::PrivateNotes.like(SEALED_LIKE))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    if note.is_some() {
        return Ok(true);
    }
    let comment = session_feedback::Entity::find()
        .select_only()
        .column(session_feedback::Column::Id)
        .filter(session_feedback::Column::Comment.like(SEALED_LIKE))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(comment.is_some())
}

/// What a rotation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Private notes re-sealed (or sealed for the first time).
    pub notes: u64,
    /// Feedback comments re-sealed (or sealed for the first time).
    pub comments: u64,
    /// Values that did not open with any configured key (left as they are,
    /// each logged).
    pub unreadable: u64,
}

/// Re-seals every note and comment not yet under the keyring's first key,
/// `batch` rows per transaction, so the service keeps serving (every key
/// still opens) and an interrupted rotation simply resumes. Which values
/// need it is decided here, not by a LIKE pattern (key ids may hold `_`,
/// and SQLite's LIKE ignores case); each is replaced only if it is still
/// the value read, so a note edited meanwhile is never reverted.
pub async fn rotate(db: &DatabaseConnection, keyring: &Keyring, batch: u64) -> AppResult<Rotation> {
    let current = keyring
        .current_id()
        .ok_or_else(|| AppError::bad_input("NOTES_ENCRYPTION_KEYS", "no key to seal with"))?
        .to_owned();
    let stale = |stored: &str| seal::sealed_with(stored) != Some(current.as_str());
    let mut done = Rotation::default();
    let mut after = Uuid::nil();
    loop {
        let rows: Vec<(Uuid, String)> = mentoring_session::Entity::find()
            .select_only()
            .column(mentoring_session::Column::Id)
            .column(mentoring_session::Column::PrivateNotes)
            .filter(mentoring_session::Column::Id.gt(after))
            .filter(mentoring_session::Column::PrivateNotes.is_not_null())
            .order_by_asc(mentoring_session::Column::Id)
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let txn = super::write_txn(db).await?;
        for (id, stored) in rows.iter().filter(|(_, stored)| stale(stored)) {
            let context = seal::notes_context(*id);
            match keyring.open(stored, &context) {
                Ok(text) => {
                    let replaced = mentoring_session::Entity::update_many()
                        .col_expr(
                            mentoring_session::Column::PrivateNotes,
                            Expr::value(keyring.seal(&text, &context)?),
                        )
                        .filter(mentoring_session::Column::Id.eq(*id))
                        .filter(mentoring_session::Column::PrivateNotes.eq(stored.as_str()))
                        .exec(&txn)
                        .await?;
                    done.notes += replaced.rows_affected;
                }
                Err(why) => {
                    tracing::error!(session = %id, error = %why, "a private note could not be re-sealed");
                    done.unreadable += 1;
                }
            }
        }
        txn.commit().await?;
    }
    let mut after = Uuid::nil();
    loop {
        let rows: Vec<(Uuid, String)> = session_feedback::Entity::find()
            .select_only()
            .column(session_feedback::Column::Id)
            .column(session_feedback::Column::Comment)
            .filter(session_feedback::Column::Id.gt(after))
            .filter(session_feedback::Column::Comment.is_not_null())
            .order_by_asc(session_feedback::Column::Id)
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let txn = super::write_txn(db).await?;
        for (id, stored) in rows.iter().filter(|(_, stored)| stale(stored)) {
            let context = seal::comment_context(*id);
            match keyring.open(stored, &context) {
                Ok(text) => {
                    let replaced = session_feedback::Entity::update_many()
                        .col_expr(
                            session_feedback::Column::Comment,
                            Expr::value(keyring.seal(&text, &context)?),
                        )
                        .filter(session_feedback::Column::Id.eq(*id))
                        .filter(session_feedback::Column::Comment.eq(stored.as_str()))
                        .exec(&txn)
                        .await?;
                    done.comments += replaced.rows_affected;
                }
                Err(why) => {
                    tracing::error!(feedback = %id, error = %why, "a feedback comment could not be re-sealed");
                    done.unreadable += 1;
                }
            }
        }
        txn.commit().await?;
    }
    Ok(done)
}
