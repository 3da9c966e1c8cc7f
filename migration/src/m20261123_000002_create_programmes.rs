//! Programmes, the volunteers' enrolments and their skill self-assessments.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, date_null, string, text, text_null};

use crate::ddl::{
    create_indexes, drop_tables, enum_value, fk, id, index, instant, instant_null, int_in, unique,
    uuid_ref, uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("programmes")
                    .col(id())
                    .col(string("name"))
                    .col(text("purpose"))
                    .col(enum_value(
                        "programmes",
                        "status",
                        &["DRAFT", "ENROLLING", "MATCHING", "ACTIVE", "CLOSED"],
                    ))
                    .col(enum_value("programmes", "format", &["ONE_TO_ONE", "GROUP"]))
                    .col(int_in("programmes", "max_mentees_per_mentor", 1, 10))
                    .col(int_in("programmes", "session_cadence_days", 1, 365))
                    .col(int_in("programmes", "target_sessions", 1, 100))
                    .col(boolean("requires_mentor_training"))
                    .col(date_null("starts_on"))
                    .col(date_null("ends_on"))
                    .col(uuid_ref_null("sponsor_id"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .check((
                        "ck-programmes-dates",
                        Expr::col("ends_on")
                            .is_null()
                            .or(Expr::col("starts_on").is_null())
                            .or(Expr::col("ends_on").gte(Expr::col("starts_on"))),
                    ))
                    .check((
                        "ck-programmes-one-to-one",
                        Expr::col("format")
                            .ne("ONE_TO_ONE")
                            .or(Expr::col("max_mentees_per_mentor").eq(1)),
                    ))
                    .foreign_key(&mut fk(
                        "programmes",
                        "sponsor_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("enrolments")
                    .col(id())
                    .col(uuid_ref("programme_id"))
                    .col(uuid_ref("employee_id"))
                    .col(enum_value("enrolments", "role", &["MENTOR", "MENTEE"]))
                    .col(enum_value(
                        "enrolments",
                        "status",
                        &["PENDING", "APPROVED", "REJECTED", "WITHDRAWN"],
                    ))
                    .col(instant("consented_at"))
                    .col(text_null("motivation"))
                    .col(instant_null("training_completed_at"))
                    .col(uuid_ref_null("supervisor_id"))
                    .col(int_in("enrolments", "capacity", 1, 10))
                    .col(instant_null("decided_at"))
                    .col(text_null("decision_reason"))
                    .col(instant_null("withdrawn_at"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .foreign_key(&mut fk(
                        "enrolments",
                        "programme_id",
                        "programmes",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "enrolments",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "enrolments",
                        "supervisor_id",
                        "employees",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("skill_assessments")
                    .col(id())
                    .col(uuid_ref("programme_id"))
                    .col(uuid_ref("employee_id"))
                    .col(uuid_ref("skill_id"))
                    .col(enum_value(
                        "skill_assessments",
                        "phase",
                        &["BASELINE", "EXIT"],
                    ))
                    .col(int_in("skill_assessments", "level", 0, 4))
                    .col(instant("assessed_at"))
                    .foreign_key(&mut fk(
                        "skill_assessments",
                        "programme_id",
                        "programmes",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "skill_assessments",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "skill_assessments",
                        "skill_id",
                        "skills",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // One live (PENDING or APPROVED) enrolment per employee, programme and role.
        let mut live_enrolment = unique("enrolments", &["programme_id", "employee_id", "role"]);
        live_enrolment
            .name("ux-enrolments-live")
            .and_where(Expr::col("status").is_in(["PENDING", "APPROVED"]));
        create_indexes(
            manager,
            vec![
                index("programmes", &["status", "id"]),
                live_enrolment,
                index("enrolments", &["programme_id", "role", "status"]),
                index("enrolments", &["employee_id"]),
                index("enrolments", &["supervisor_id"]),
                unique(
                    "skill_assessments",
                    &["programme_id", "employee_id", "skill_id", "phase"],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["skill_assessments", "enrolments", "programmes"]).await
    }
}
