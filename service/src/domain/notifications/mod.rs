//! Notifications: Tandem tells people what they need to know, at the right
//! time, once.
//!
//! - [`outbox`]: every change someone must hear about writes its rows in the
//!   change's own transaction (a change that rolls back tells nobody); one
//!   row per event, recipient and channel, unique on a dedup key.
//! - [`scheduler`]: the time-based events (reminders, feedback requests,
//!   cadence nudges, at-risk alerts, the enrolment digest), raised by a
//!   pass at a given instant with the same unique keys.
//! - [`due`]: the pure decisions those two take (when a reminder is due,
//!   when a failed delivery is tried again).
//! - [`delivery`]: claiming due rows (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL), what each becomes (sent, suppressed, retried, failed).
//! - [`render`]: the messages themselves, in French or English, with their
//!   iCalendar part; they are built from [`render::Facts`], which holds no
//!   note and no feedback text, so no message can reveal one.
//! - [`preferences`] and [`history`]: what a person asked for and what was sent.
//!
//! The transports (SMTP, webhooks) and the loop that runs passes live
//! outside the domain, in `crate::notify`.

pub mod delivery;
pub mod due;
pub mod history;
pub mod outbox;
pub mod preferences;
pub mod render;
pub mod scheduler;

pub use preferences::{Language, Preferences};

/// What the notification rules obey (`NOTIFY_*` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// Language of people who chose none (`NOTIFY_DEFAULT_LANGUAGE`).
    pub default_language: Language,
    /// Pending enrolments older than this many days make the admins' daily
    /// digest (`NOTIFY_ENROLMENT_WAIT_DAYS`).
    pub enrolment_wait_days: i64,
    /// Attempts before a delivery is FAILED (`NOTIFY_MAX_ATTEMPTS`).
    pub max_attempts: i32,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            default_language: Language::En,
            enrolment_wait_days: 3,
            max_attempts: 8,
        }
    }
}
