//! Personal iCalendar feeds: one secret URL per employee. Only the SHA-256
//! of its token is stored (hex, 64 characters), so a copy of the database
//! subscribes to nobody's calendar; a new token replaces the row, which
//! kills the previous URL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text;

use crate::ddl::{create_indexes, drop_tables, fk, instant, unique, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("calendar_feeds")
                    .col(uuid_ref("employee_id").primary_key())
                    .col(text("token_hash"))
                    .col(instant("created_at"))
                    .check((
                        "ck-calendar_feeds-token_hash",
                        Expr::cust("length(token_hash) = 64"),
                    ))
                    .foreign_key(&mut fk(
                        "calendar_feeds",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(manager, vec![unique("calendar_feeds", &["token_hash"])]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["calendar_feeds"]).await
    }
}
