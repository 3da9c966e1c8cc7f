//! Personal data done the European way (issue #20).
//!
//! - `audit_log.actor_employee_id`: the employee who acted (null for service
//!   accounts), so the log can be filtered by person (`auditLog(actorId:)`).
//! - `employees.terminated_at`: when the person left (retention counts
//!   from it; existing leavers get their last update).
//! - `employees.erased_at`: when the person's data was erased (by
//!   `eraseEmployee` or by retention); the row stays, nameless, so counts,
//!   ratings and pairings keep adding up.
//! - `erased_identities`: the SHA-256 of each erased HRIS externalId, so a
//!   later push cannot bring the person back, without keeping the id.
//! - `retention_runs`: each retention pass, with what it erased.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text};

use crate::ddl::{create_indexes, drop_tables, id, index, instant, instant_null, uuid_ref_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for (table, mut column) in [
            ("audit_log", uuid_ref_null("actor_employee_id")),
            ("employees", instant_null("terminated_at")),
            ("employees", instant_null("erased_at")),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE employees SET terminated_at = updated_at WHERE status = 'TERMINATED'",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("erased_identities")
                    .col(text("external_id_hash").primary_key())
                    .col(instant("erased_at"))
                    .check((
                        "ck-erased_identities-external_id_hash",
                        Expr::cust("length(external_id_hash) = 64"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("retention_runs")
                    .col(id())
                    .col(instant("as_of"))
                    .col(instant("ran_at"))
                    .col(integer("notes_erased"))
                    .col(integer("comments_erased"))
                    .col(integer("people_erased"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("audit_log", &["actor_employee_id", "id"]),
                index("audit_log", &["target_id", "id"]),
                index("audit_log", &["action", "id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["retention_runs", "erased_identities"]).await?;
        for name in [
            "ix-audit_log-action-id",
            "ix-audit_log-target_id-id",
            "ix-audit_log-actor_employee_id-id",
        ] {
            manager
                .drop_index(Index::drop().name(name).table("audit_log").to_owned())
                .await?;
        }
        for column in ["erased_at", "terminated_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("employees")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("audit_log")
                    .drop_column("actor_employee_id")
                    .to_owned(),
            )
            .await
    }
}
