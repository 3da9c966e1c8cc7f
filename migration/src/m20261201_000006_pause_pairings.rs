//! A paused pairing keeps when and why it was paused (`pausePairing`), so
//! its health is not measured against the cadence while it rests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
