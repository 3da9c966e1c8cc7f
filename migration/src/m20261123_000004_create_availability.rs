//! Availability: recurring weekly slots (in the employee's zone) and one-off
//! unavailabilities.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

use crate::ddl::{create_indexes, drop_tables, fk, id, index, instant, int_in, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("weekly_slots")
                    .col(id())
                    .col(uuid_ref("employee_id"))
                    .col(int_in("weekly_slots", "weekday", 0, 6))
                    .col(int_in("weekly_slots", "start_minute", 0, 1439))
                    .col(int_in("weekly_slots", "end_minute", 1, 1440))
                    .check((
                        "ck-weekly_slots-order",
                        Expr::col("end_minute").gt(Expr::col("start_minute")),
                    ))
                    .foreign_key(&mut fk(
                        "weekly_slots",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("unavailabilities")
                    .col(id())
                    .col(uuid_ref("employee_id"))
                    .col(instant("starts_at"))
                    .col(instant("ends_at"))
                    .col(text_null("reason"))
                    .col(instant("created_at"))
                    .check((
                        "ck-unavailabilities-interval",
                        Expr::col("ends_at").gt(Expr::col("starts_at")),
                    ))
                    .foreign_key(&mut fk(
                        "unavailabilities",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("weekly_slots", &["employee_id", "weekday"]),
                index("unavailabilities", &["employee_id", "starts_at"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["unavailabilities", "weekly_slots"]).await
    }
}
