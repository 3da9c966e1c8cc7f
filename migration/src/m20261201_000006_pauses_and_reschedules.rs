//! A paused pairing keeps when and why it was paused (`pausePairing`), so
//! its health is not measured against the cadence while it rests; a session
//! counts its reschedules (the iCalendar SEQUENCE of its invitations).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text_null};

use crate::ddl::instant_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("pairings")
                    .add_column(instant_null("paused_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("pairings")
                    .add_column(text_null("pause_reason"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("mentoring_sessions")
                    .add_column(integer("sequence").default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("mentoring_sessions")
                    .drop_column("sequence")
                    .to_owned(),
            )
            .await?;
        for column in ["pause_reason", "paused_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("pairings")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
