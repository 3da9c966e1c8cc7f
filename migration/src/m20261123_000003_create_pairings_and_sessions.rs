//! Pairings (a mentor and one or more mentees), their sessions with topics,
//! the participants' feedback and the pairing's goals.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{date_null, double_null, json, text, text_null};

use crate::ddl::{
    create_indexes, drop_tables, enum_value, fk, id, index, instant, instant_null, int_in,
    int_in_null, unique, uuid_ref, uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("pairings")
                    .col(id())
                    .col(uuid_ref("programme_id"))
                    .col(uuid_ref("mentor_id"))
                    .col(enum_value(
                        "pairings",
                        "status",
                        &[
                            "PROPOSED",
                            "ACTIVE",
                            "PAUSED",
                            "COMPLETED",
                            "ENDED_EARLY",
                            "DECLINED",
                        ],
                    ))
                    .col(double_null("score"))
                    .col(json("reasons"))
                    .col(text_null("end_reason"))
                    .col(instant_null("decided_at"))
                    .col(instant_null("ended_at"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .check((
                        "ck-pairings-score",
                        Expr::col("score")
                            .is_null()
                            .or(Expr::col("score").between(0.0, 1.0)),
                    ))
                    .foreign_key(&mut fk(
                        "pairings",
                        "programme_id",
                        "programmes",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "pairings",
                        "mentor_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pairing_mentees")
                    .col(uuid_ref("pairing_id"))
                    .col(uuid_ref("mentee_id"))
                    .primary_key(Index::create().col("pairing_id").col("mentee_id"))
                    .foreign_key(&mut fk(
                        "pairing_mentees",
                        "pairing_id",
                        "pairings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "pairing_mentees",
                        "mentee_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mentoring_sessions")
                    .col(id())
                    .col(uuid_ref("pairing_id"))
                    .col(instant("starts_at"))
                    .col(instant("ends_at"))
                    .col(enum_value(
                        "mentoring_sessions",
                        "mode",
                        &["IN_PERSON", "VIDEO"],
                    ))
                    .col(enum_value(
                        "mentoring_sessions",
                        "status",
                        &["SCHEDULED", "HELD", "CANCELLED", "NO_SHOW"],
                    ))
                    .col(text_null("agenda"))
                    .col(text_null("private_notes"))
                    .col(text_null("cancel_reason"))
                    .col(uuid_ref_null("created_by"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .check((
                        "ck-mentoring_sessions-interval",
                        Expr::col("ends_at").gt(Expr::col("starts_at")),
                    ))
                    .foreign_key(&mut fk(
                        "mentoring_sessions",
                        "pairing_id",
                        "pairings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "mentoring_sessions",
                        "created_by",
                        "employees",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("session_topics")
                    .col(uuid_ref("session_id"))
                    .col(uuid_ref("skill_id"))
                    .primary_key(Index::create().col("session_id").col("skill_id"))
                    .foreign_key(&mut fk(
                        "session_topics",
                        "session_id",
                        "mentoring_sessions",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "session_topics",
                        "skill_id",
                        "skills",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("session_feedback")
                    .col(id())
                    .col(uuid_ref("session_id"))
                    .col(uuid_ref("author_id"))
                    .col(int_in("session_feedback", "rating", 1, 5))
                    .col(int_in_null("session_feedback", "recommend", 0, 10))
                    .col(text_null("comment"))
                    .col(instant("submitted_at"))
                    .foreign_key(&mut fk(
                        "session_feedback",
                        "session_id",
                        "mentoring_sessions",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "session_feedback",
                        "author_id",
                        "employees",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("goals")
                    .col(id())
                    .col(uuid_ref("pairing_id"))
                    .col(uuid_ref_null("skill_id"))
                    .col(text("description"))
                    .col(enum_value(
                        "goals",
                        "status",
                        &["OPEN", "ACHIEVED", "DROPPED"],
                    ))
                    .col(date_null("due_on"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .foreign_key(&mut fk(
                        "goals",
                        "pairing_id",
                        "pairings",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "goals",
                        "skill_id",
                        "skills",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("pairings", &["programme_id", "status"]),
                index("pairings", &["mentor_id", "status"]),
                index("pairing_mentees", &["mentee_id"]),
                index("mentoring_sessions", &["pairing_id", "starts_at"]),
                index("mentoring_sessions", &["status", "starts_at"]),
                index("session_topics", &["skill_id"]),
                unique("session_feedback", &["session_id", "author_id"]),
                index("session_feedback", &["author_id"]),
                index("goals", &["pairing_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "goals",
                "session_feedback",
                "session_topics",
                "mentoring_sessions",
                "pairing_mentees",
                "pairings",
            ],
        )
        .await
    }
}
