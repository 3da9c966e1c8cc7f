//! The sealed columns in the database: whether any exist (a start without
//! keys must refuse then) and their re-sealing under the current key
//! (`tandem rotate-notes-key`), batch by batch while the service runs.

use entity::{mentoring_session, session_feedback};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
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
/// still opens) and an interrupted rotation simply resumes.
pub async fn rotate(db: &DatabaseConnection, keyring: &Keyring, batch: u64) -> AppResult<Rotation> {
    let current = keyring
        .current_id()
        .ok_or_else(|| AppError::bad_input("NOTES_ENCRYPTION_KEYS", "no key to seal with"))?;
    let current_prefix = format!("sealed:v1:{current}:%");
    let mut done = Rotation::default();
    let mut after = Uuid::nil();
    loop {
        let rows = mentoring_session::Entity::find()
            .filter(mentoring_session::Column::Id.gt(after))
            .filter(mentoring_session::Column::PrivateNotes.is_not_null())
            .filter(mentoring_session::Column::PrivateNotes.not_like(current_prefix.as_str()))
            .order_by_asc(mentoring_session::Column::Id)
            .limit(batch)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let txn = super::write_txn(db).await?;
        for row in rows {
            let context = seal::notes_context(row.id);
            let Some(stored) = row.private_notes.as_deref() else {
                continue;
            };
            match keyring.open(stored, &context) {
                Ok(text) => {
                    let mut change: mentoring_session::ActiveModel = row.into();
                    change.private_notes = Set(Some(keyring.seal(&text, &context)?));
                    change.update(&txn).await?;
                    done.notes += 1;
                }
                Err(why) => {
                    tracing::error!(session = %row.id, error = %why, "a private note could not be re-sealed");
                    done.unreadable += 1;
                }
            }
        }
        txn.commit().await?;
    }
    let mut after = Uuid::nil();
    loop {
        let rows = session_feedback::Entity::find()
            .filter(session_feedback::Column::Id.gt(after))
            .filter(session_feedback::Column::Comment.is_not_null())
            .filter(session_feedback::Column::Comment.not_like(current_prefix.as_str()))
            .order_by_asc(session_feedback::Column::Id)
            .limit(batch)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let txn = super::write_txn(db).await?;
        for row in rows {
            let context = seal::comment_context(row.id);
            let Some(stored) = row.comment.as_deref() else {
                continue;
            };
            match keyring.open(stored, &context) {
                Ok(text) => {
                    let mut change: session_feedback::ActiveModel = row.into();
                    change.comment = Set(Some(keyring.seal(&text, &context)?));
                    change.update(&txn).await?;
                    done.comments += 1;
                }
                Err(why) => {
                    tracing::error!(feedback = %row.id, error = %why, "a feedback comment could not be re-sealed");
                    done.unreadable += 1;
                }
            }
        }
        txn.commit().await?;
    }
    Ok(done)
}
