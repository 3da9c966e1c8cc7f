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
    let (notes, unreadable_notes) = reseal::<mentoring_session::Entity>(
        db,
        keyring,
        batch,
        (
            mentoring_session::Column::Id,
            mentoring_session::Column::PrivateNotes,
        ),
        seal::notes_context,
    )
    .await?;
    let (comments, unreadable_comments) = reseal::<session_feedback::Entity>(
        db,
        keyring,
        batch,
        (
            session_feedback::Column::Id,
            session_feedback::Column::Comment,
        ),
        seal::comment_context,
    )
    .await?;
    Ok(Rotation {
        notes,
        comments,
        unreadable: unreadable_notes + unreadable_comments,
    })
}

/// Re-seals one sealed column of `E` (its id and value columns given):
/// how many values were re-sealed, and how many did not open.
async fn reseal<E>(
    db: &DatabaseConnection,
    keyring: &Keyring,
    batch: u64,
    (id, value): (E::Column, E::Column),
    context_of: fn(Uuid) -> String,
) -> AppResult<(u64, u64)>
where
    E: EntityTrait,
{
    let current = keyring
        .current_id()
        .ok_or_else(|| AppError::bad_input("NOTES_ENCRYPTION_KEYS", "no key to seal with"))?;
    let (mut resealed, mut unreadable) = (0, 0);
    let mut after = Uuid::nil();
    loop {
        let rows: Vec<(Uuid, String)> = E::find()
            .select_only()
            .column(id)
            .column(value)
            .filter(id.gt(after))
            .filter(value.is_not_null())
            .order_by_asc(id)
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let txn = super::write_txn(db).await?;
        for (row, stored) in &rows {
            if seal::sealed_with(stored) == Some(current) {
                continue;
            }
            let context = context_of(*row);
            match keyring.open(stored, &context) {
                Ok(text) => {
                    let replaced = E::update_many()
                        .col_expr(value, Expr::value(keyring.seal(&text, &context)?))
                        .filter(id.eq(*row))
                        .filter(value.eq(stored.as_str()))
                        .exec(&txn)
                        .await?;
                    resealed += replaced.rows_affected;
                }
                Err(why) => {
                    tracing::error!(%context, error = %why, "a sealed value could not be re-sealed");
                    unreadable += 1;
                }
            }
        }
        txn.commit().await?;
    }
    Ok((resealed, unreadable))
}
