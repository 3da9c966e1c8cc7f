//! Notifications: the outbox (one row per event, recipient and channel,
//! unique on its dedup key so nothing is raised twice) and each employee's
//! preferences. The partial index on due rows keeps an idle notifier pass
//! to one index probe however long the history grows; two indexes let the
//! scheduler read sessions and ratings around the present only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, integer, json, string_len, text_null};

use crate::ddl::{
    create_indexes, drop_tables, enum_value, fk, id, index, instant, instant_null, int_in,
    uuid_ref, uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const KINDS: &[&str] = &[
    "PAIRING_PROPOSED",
    "PAIRING_STARTED",
    "PAIRING_ENDED",
    "SESSION_SCHEDULED",
    "SESSION_RESCHEDULED",
    "SESSION_CANCELLED",
    "SESSION_REMINDER",
    "FEEDBACK_REQUESTED",
    "CADENCE_OVERDUE",
    "PAIRING_AT_RISK",
    "ENROLMENT_DECIDED",
    "ENROLMENTS_AWAITING_DECISION",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut kind = string_len("kind", 32);
        kind.check((
            "ck-notifications-kind",
            Expr::col("kind").is_in(KINDS.iter().map(|v| String::from(*v))),
        ));
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(id())
                    .col(string_len("dedup_key", 200))
                    .col(kind)
                    .col(enum_value(
                        "notifications",
                        "channel",
                        &["EMAIL", "WEBHOOK"],
                    ))
                    .col(uuid_ref_null("recipient_id"))
                    .col(uuid_ref_null("programme_id"))
                    .col(uuid_ref_null("pairing_id"))
                    .col(uuid_ref_null("session_id"))
                    .col(json("payload"))
                    .col(enum_value(
                        "notifications",
                        "state",
                        &["PENDING", "SENT", "FAILED", "SUPPRESSED"],
                    ))
                    .col(integer("attempts").default(0))
                    .col(instant("next_attempt_at"))
                    .col(text_null("subject"))
                    .col(text_null("last_error"))
                    .col(instant("created_at"))
                    .col(instant_null("sent_at"))
                    .foreign_key(&mut fk(
                        "notifications",
                        "recipient_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "notifications",
                        "programme_id",
                        "programmes",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        let mut due = index("notifications", &["next_attempt_at"]);
        due.name("ix-notifications-due")
            .and_where(Expr::col("state").eq("PENDING"));
        create_indexes(
            manager,
            vec![
                crate::ddl::unique("notifications", &["dedup_key"]),
                due,
                index("notifications", &["recipient_id", "created_at"]),
                index("notifications", &["programme_id", "created_at"]),
                // A pairing's latest held and next booked session, one index
                // seek each (health, nudges, the attention list).
                index("mentoring_sessions", &["pairing_id", "status", "starts_at"]),
                // Poor ratings given lately (at-risk alerts).
                index("session_feedback", &["submitted_at"]),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("notification_preferences")
                    .col(uuid_ref("employee_id").primary_key())
                    .col(boolean("session_reminders"))
                    .col(int_in(
                        "notification_preferences",
                        "reminder_lead_minutes",
                        15,
                        10_080,
                    ))
                    .col(boolean("nudges"))
                    .col(enum_value(
                        "notification_preferences",
                        "language",
                        &["fr", "en"],
                    ))
                    .col(instant("updated_at"))
                    .foreign_key(&mut fk(
                        "notification_preferences",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [
            (
                "mentoring_sessions",
                "ix-mentoring_sessions-pairing_id-status-starts_at",
            ),
            ("session_feedback", "ix-session_feedback-submitted_at"),
        ] {
            manager
                .drop_index(Index::drop().table(table).name(name).to_owned())
                .await?;
        }
        drop_tables(manager, &["notification_preferences", "notifications"]).await
    }
}
