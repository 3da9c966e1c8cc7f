//! Enumerations stored as short upper-case strings, so that both SQLite and
//! PostgreSQL hold the same readable values and CHECK constraints can list them.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares a string-backed enum whose database value is its upper-snake name.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
        pub enum $name {
            $(#[sea_orm(string_value = $value)] $variant,)+
        }

        impl $name {
            /// Every database value, in declaration order (used by CHECK constraints and docs).
            pub const DB_VALUES: &'static [&'static str] = &[$($value),+];
        }
    };
}

string_enum!(
    /// Generation derived from the birth year the HRIS sends (the year itself is never stored).
    Generation { BabyBoomer = "BABY_BOOMER", GenX = "GEN_X", GenY = "GEN_Y", GenZ = "GEN_Z", Unknown = "UNKNOWN" }
);
string_enum!(
    /// Employment status as the HRIS reports it; TERMINATED employees open nothing.
    EmployeeStatus { Active = "ACTIVE", OnLeave = "ON_LEAVE", Terminated = "TERMINATED" }
);
string_enum!(
    /// Whether a skill profile entry is something the employee can teach or wants to learn.
    SkillDirection { Offers = "OFFERS", Wants = "WANTS" }
);
string_enum!(
    /// When a self-assessment was taken: before the programme or at its end.
    AssessmentPhase { Baseline = "BASELINE", Exit = "EXIT" }
);
string_enum!(
    /// Programme lifecycle: DRAFT → ENROLLING → MATCHING → ACTIVE → CLOSED.
    ProgrammeStatus { Draft = "DRAFT", Enrolling = "ENROLLING", Matching = "MATCHING", Active = "ACTIVE", Closed = "CLOSED" }
);
string_enum!(
    /// One mentee per mentor, or small groups of mentees.
    ProgrammeFormat { OneToOne = "ONE_TO_ONE", Group = "GROUP" }
);
string_enum!(
    /// The side of the reverse-mentoring relation an enrolment is for.
    ParticipantRole { Mentor = "MENTOR", Mentee = "MENTEE" }
);
string_enum!(
    /// Enrolment decision state; WITHDRAWN is the volunteer's own choice.
    EnrolmentStatus { Pending = "PENDING", Approved = "APPROVED", Rejected = "REJECTED", Withdrawn = "WITHDRAWN" }
);
string_enum!(
    /// Pairing lifecycle: PROPOSED → ACTIVE | DECLINED; ACTIVE ⇄ PAUSED; → COMPLETED | ENDED_EARLY.
    PairingStatus { Proposed = "PROPOSED", Active = "ACTIVE", Paused = "PAUSED", Completed = "COMPLETED", EndedEarly = "ENDED_EARLY", Declined = "DECLINED" }
);
string_enum!(
    /// Progress of a pairing goal.
    GoalStatus { Open = "OPEN", Achieved = "ACHIEVED", Dropped = "DROPPED" }
);
string_enum!(
    /// Session lifecycle: SCHEDULED → HELD | CANCELLED | NO_SHOW.
    SessionStatus { Scheduled = "SCHEDULED", Held = "HELD", Cancelled = "CANCELLED", NoShow = "NO_SHOW" }
);
string_enum!(
    /// How a session takes place.
    SessionMode { InPerson = "IN_PERSON", Video = "VIDEO" }
);
string_enum!(
    /// UPSERT touches only the records sent; FULL_SNAPSHOT also deactivates the absent.
    HrisSyncMode { Upsert = "UPSERT", FullSnapshot = "FULL_SNAPSHOT" }
);
string_enum!(
    /// State of an HRIS sync run.
    HrisSyncState { Open = "OPEN", Completed = "COMPLETED", Failed = "FAILED" }
);
string_enum!(
    /// How a notification travels: an email to a person (or to the programme
    /// team's mailbox), or one signed webhook POST per event.
    NotificationChannel { Email = "EMAIL", Webhook = "WEBHOOK" }
);
string_enum!(
    /// Delivery of one notification: PENDING until SENT, FAILED after the last
    /// attempt, SUPPRESSED when nothing was to be sent (no channel configured,
    /// the recipient left, the event no longer holds).
    DeliveryState { Pending = "PENDING", Sent = "SENT", Failed = "FAILED", Suppressed = "SUPPRESSED" }
);

/// What a notification tells (its longest value needs more than the 24
/// characters of the other enumerations).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum NotificationKind {
    #[sea_orm(string_value = "PAIRING_PROPOSED")]
    PairingProposed,
    #[sea_orm(string_value = "PAIRING_STARTED")]
    PairingStarted,
    #[sea_orm(string_value = "PAIRING_ENDED")]
    PairingEnded,
    #[sea_orm(string_value = "SESSION_SCHEDULED")]
    SessionScheduled,
    #[sea_orm(string_value = "SESSION_RESCHEDULED")]
    SessionRescheduled,
    #[sea_orm(string_value = "SESSION_CANCELLED")]
    SessionCancelled,
    #[sea_orm(string_value = "SESSION_REMINDER")]
    SessionReminder,
    #[sea_orm(string_value = "FEEDBACK_REQUESTED")]
    FeedbackRequested,
    #[sea_orm(string_value = "CADENCE_OVERDUE")]
    CadenceOverdue,
    #[sea_orm(string_value = "PAIRING_AT_RISK")]
    PairingAtRisk,
    #[sea_orm(string_value = "ENROLMENT_DECIDED")]
    EnrolmentDecided,
    #[sea_orm(string_value = "ENROLMENTS_AWAITING_DECISION")]
    EnrolmentsAwaitingDecision,
}
