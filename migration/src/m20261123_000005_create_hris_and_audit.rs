//! HRIS sync runs with their row errors, the audit log of admin actions, and
//! the dev-mode signing key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, integer, json, string, string_null, text};

use crate::ddl::{
    create_indexes, drop_tables, enum_value, fk, id, index, instant, instant_null, uuid_ref,
    uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut run = Table::create();
        run.table("hris_sync_runs")
            .col(id())
            .col(enum_value(
                "hris_sync_runs",
                "mode",
                &["UPSERT", "FULL_SNAPSHOT"],
            ))
            .col(string("source"))
            .col(boolean("dry_run"))
            .col(enum_value(
                "hris_sync_runs",
                "state",
                &["OPEN", "COMPLETED", "FAILED"],
            ));
        for counter in ["created", "updated", "unchanged", "deactivated", "failed"] {
            run.col(integer(counter).default(0)).check((
                format!("ck-hris_sync_runs-{counter}"),
                Expr::col(counter).gte(0),
            ));
        }
        run.col(instant("started_at"))
            .col(instant_null("completed_at"));
        manager.create_table(run.to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table("hris_row_errors")
                    .col(id())
                    .col(uuid_ref("run_id"))
                    .col(integer("row_index"))
                    .col(string("external_id"))
                    .col(string_null("field"))
                    .col(text("message"))
                    .foreign_key(&mut fk(
                        "hris_row_errors",
                        "run_id",
                        "hris_sync_runs",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(id())
                    .col(string("actor"))
                    .col(string("action"))
                    .col(string("target_type"))
                    .col(uuid_ref_null("target_id"))
                    .col(string("request_id"))
                    .col(json("details"))
                    .col(instant("at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("dev_signing_keys")
                    .col(id())
                    .col(string("secret"))
                    .col(instant("created_at"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("hris_row_errors", &["run_id", "row_index"]),
                index("audit_log", &["target_type", "target_id"]),
                index("audit_log", &["at"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "dev_signing_keys",
                "audit_log",
                "hris_row_errors",
                "hris_sync_runs",
            ],
        )
        .await
    }
}
