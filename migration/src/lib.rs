//! Tandem's schema, one migration per file, applied in order by [`Migrator`].
//!
//! The same statements run on SQLite (the embedded default) and PostgreSQL:
//! they are built with sea-query, and every rule the database can hold —
//! foreign keys, unique keys, CHECK ranges, partial unique indexes — lives
//! here rather than only in Rust, so no code path can write a row that breaks it.

pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261123_000001_create_people;
mod m20261123_000002_create_programmes;
mod m20261123_000003_create_pairings_and_sessions;
mod m20261123_000004_create_availability;
mod m20261123_000005_create_hris_and_audit;
mod m20261201_000006_pauses_and_reschedules;
mod m20261202_000007_delegations;
mod m20261202_000008_calendar_feeds;
mod m20261202_000009_notifications;
mod m20261203_000010_privacy;

/// Every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_people::Migration),
            Box::new(m20261123_000002_create_programmes::Migration),
            Box::new(m20261123_000003_create_pairings_and_sessions::Migration),
            Box::new(m20261123_000004_create_availability::Migration),
            Box::new(m20261123_000005_create_hris_and_audit::Migration),
            Box::new(m20261201_000006_pauses_and_reschedules::Migration),
            Box::new(m20261202_000007_delegations::Migration),
            Box::new(m20261202_000008_calendar_feeds::Migration),
            Box::new(m20261202_000009_notifications::Migration),
            Box::new(m20261203_000010_privacy::Migration),
        ]
    }
}
