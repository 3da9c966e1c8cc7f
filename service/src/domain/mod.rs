//! The business rules, as plain async functions over a database connection.
//!
//! Nothing here knows GraphQL: functions take a [`Caller`](crate::auth::Caller)
//! and plain arguments (newtypes that prove their validity), and answer
//! entities or [`AppError`](crate::error::AppError).

pub mod access;
pub mod audit;
pub mod availability;
pub mod calendar;
pub mod calendar_import;
pub mod delegations;
pub mod departments;
pub mod employees;
pub mod enrolments;
pub mod erasure;
pub mod exports;
pub mod feeds;
pub mod goals;
pub mod hris;
pub mod icalendar;
pub mod joined;
pub mod matching;
pub mod metrics;
pub mod notifications;
pub mod pagination;
pub mod pairings;
pub mod personal_data;
pub mod programmes;
pub mod rate_limit;
pub mod retention;
pub mod seal;
pub mod sealed_notes;
pub mod seed;
pub mod session_pages;
pub mod sessions;
pub mod settings;
pub mod skills;
pub mod text;
pub mod time;

/// A fresh, time-ordered id for a new row.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// Begins a transaction that writes. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout
/// instead of failing when a read lock cannot be upgraded; PostgreSQL ignores
/// the mode.
pub async fn write_txn(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    db.begin_with_options(options).await
}
