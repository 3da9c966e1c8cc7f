//! The business rules, as plain async functions over a database connection.
//!
//! Nothing here knows GraphQL: functions take a [`Caller`](crate::auth::Caller)
//! and plain arguments (newtypes that prove their validity), and answer
//! entities or [`AppError`](crate::error::AppError).

pub mod access;
pub mod audit;
pub mod departments;
pub mod employees;
pub mod pagination;
pub mod programmes;
pub mod seed;
pub mod skills;

/// A fresh, time-ordered id for a new row.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
