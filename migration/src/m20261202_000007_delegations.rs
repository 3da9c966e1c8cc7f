//! Delegations: an executive lets an assistant manage their mentoring
//! agenda (book, move, cancel sessions; their unavailability), never read
//! what is said in it. A revoked delegation keeps its row for the audit.

use sea_orm_migration::prelude::*;

use crate::ddl::{
    create_indexes, drop_tables, fk, id, index, instant, instant_null, unique, uuid_ref,
    uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("delegations")
                    .col(id())
                    .col(uuid_ref("principal_id"))
                    .col(uuid_ref("delegate_id"))
                    .col(uuid_ref_null("granted_by"))
                    .col(instant("created_at"))
                    .col(instant_null("revoked_at"))
                    .check((
                        "ck-delegations-not-self",
                        Expr::col("principal_id").ne(Expr::col("delegate_id")),
                    ))
                    .foreign_key(&mut fk(
                        "delegations",
                        "principal_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "delegations",
                        "delegate_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // One live delegation per principal and delegate.
        let mut live = unique("delegations", &["principal_id", "delegate_id"]);
        live.name("ux-delegations-live")
            .and_where(Expr::col("revoked_at").is_null());
        create_indexes(manager, vec![live, index("delegations", &["delegate_id"])]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["delegations"]).await
    }
}
