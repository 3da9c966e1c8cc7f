//! The one error policy of the service.
//!
//! - Code outside requests (start-up, CLI) uses `anyhow` with context.
//! - Domain functions return [`AppError`]: either the caller's fault, with a
//!   message fit for them, or [`AppError::Internal`], whose cause is logged in
//!   full and never shown.
//! - The GraphQL layer maps each variant to the contract's `extensions.code`
//!   in exactly one place (`graphql::error`).

use sea_orm::DbErr;

/// Everything a domain operation can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller is not authenticated (no, invalid or expired token).
    #[error("authentication required")]
    Unauthenticated,
    /// Authenticated, but this caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The record does not exist, or the caller may not know that it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An argument is invalid; `field` names the offending input field.
    #[error("{message}")]
    BadInput {
        /// Input field at fault, as the client spelled it (e.g. `first`, `consent`).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Valid input that contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// PostgreSQL sacrificed the transaction to a concurrent one (deadlock
    /// `40P01`, serialisation failure `40001`): nothing was written and the
    /// same request may simply be repeated. Not the caller's fault and not
    /// a business rule, so kept apart from [`AppError::Conflict`].
    #[error("a concurrent change got in the way; try again")]
    Retry,
    /// Anything unexpected; logged with its cause chain, shown as a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// A [`AppError::BadInput`] for `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`AppError::Forbidden`] with a message the caller may read.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_transient_conflict(&err) {
            tracing::warn!(error = %err, "a transaction lost to a concurrent one");
            return Self::Retry;
        }
        Self::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// PostgreSQL gave up on the transaction because of another one (deadlock
/// `40P01`, serialisation failure `40001`).
fn is_transient_conflict(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(cause)) | DbErr::Query(RuntimeErr::SqlxError(cause))) =
        err
    else {
        return false;
    };
    cause
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

/// Result of a domain operation.
pub type AppResult<T> = Result<T, AppError>;

/// Runs `operation` and, when PostgreSQL sacrificed its transaction
/// ([`AppError::Retry`]), runs it once more. Only for operations that are
/// idempotent as a whole (an HRIS push, a SCIM replace): the lost
/// transaction wrote nothing, and what the attempt committed before it is
/// written again unchanged; but a caller-visible effect outside the
/// database would happen twice.
pub async fn retry_once<T, F, Fut>(mut operation: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    match operation().await {
        Err(AppError::Retry) => {
            tracing::info!("retrying once after a transaction lost to a concurrent one");
            operation().await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lost_transaction_is_run_once_more_and_only_once() {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let always_lost = retry_once(|| async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<(), _>(AppError::Retry)
        })
        .await;
        assert!(matches!(always_lost, Err(AppError::Retry)));
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_business_conflict_is_not_retried() {
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let refused = retry_once(|| async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<(), _>(AppError::Conflict("full".into()))
        })
        .await;
        assert!(matches!(refused, Err(AppError::Conflict(_))));
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
