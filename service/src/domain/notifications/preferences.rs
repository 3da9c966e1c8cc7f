//! What an employee wants to be told: reminders and how long before,
//! nudges, and the language of their messages.

use chrono::Utc;
use entity::enums::NotificationKind;
use entity::notification_preference;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Shortest reminder lead, in minutes.
pub const MIN_LEAD_MINUTES: i32 = 15;
/// Longest reminder lead, in minutes (a week).
pub const MAX_LEAD_MINUTES: i32 = 10_080;
/// Reminder lead of someone who chose none: the day before.
pub const DEFAULT_LEAD_MINUTES: i32 = 1_440;

/// A language Tandem writes messages in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// French.
    Fr,
    /// English.
    En,
}

impl Language {
    /// `fr`, `en`, or a BCP 47 tag whose language is one of them
    /// (`fr-FR`, `en-GB`, any case); None for anything else.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?;
        match primary.to_ascii_lowercase().as_str() {
            "fr" => Some(Self::Fr),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The stored and displayed tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }
}

/// One person's preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preferences {
    /// Remind them of their sessions.
    pub session_reminders: bool,
    /// How long before a session, in minutes.
    pub reminder_lead_minutes: i32,
    /// Nudge them when the pair goes quiet, and ask for feedback.
    pub nudges: bool,
    /// Language of their messages.
    pub language: Language,
}

impl Preferences {
    /// What someone who chose nothing gets.
    pub fn defaults(language: Language) -> Self {
        Self {
            session_reminders: true,
            reminder_lead_minutes: DEFAULT_LEAD_MINUTES,
            nudges: true,
            language,
        }
    }

    /// Whether this person wants messages of `kind`: reminders follow
    /// `session_reminders`; feedback requests and cadence nudges follow
    /// `nudges`; everything else (invitations, decisions, alerts) is sent.
    pub fn wants(&self, kind: NotificationKind) -> bool {
        match kind {
            NotificationKind::SessionReminder => self.session_reminders,
            NotificationKind::FeedbackRequested | NotificationKind::CadenceOverdue => self.nudges,
            _ => true,
        }
    }

    fn of_row(row: &notification_preference::Model, fallback: Language) -> Self {
        Self {
            session_reminders: row.session_reminders,
            reminder_lead_minutes: row.reminder_lead_minutes,
            nudges: row.nudges,
            language: Language::parse(&row.language).unwrap_or(fallback),
        }
    }
}

/// A change of preferences: fields left out keep their value.
#[derive(Clone, Debug, Default)]
pub struct PreferencesChange {
    /// Reminders on or off.
    pub session_reminders: Option<bool>,
    /// Lead in minutes (15 to 10080).
    pub reminder_lead_minutes: Option<i32>,
    /// Nudges on or off.
    pub nudges: Option<bool>,
    /// `fr` or `en`.
    pub language: Option<String>,
}

impl PreferencesChange {
    /// `current` with this change applied; BAD_USER_INPUT naming the field
    /// for a lead out of range or a language Tandem does not write.
    pub fn apply(&self, current: Preferences) -> AppResult<Preferences> {
        let lead = self
            .reminder_lead_minutes
            .unwrap_or(current.reminder_lead_minutes);
        if !(MIN_LEAD_MINUTES..=MAX_LEAD_MINUTES).contains(&lead) {
            return Err(AppError::bad_input(
                "reminderLeadMinutes",
                format!(
                    "a reminder comes {MIN_LEAD_MINUTES} to {MAX_LEAD_MINUTES} minutes (a week) before the session"
                ),
            ));
        }
        let language = match &self.language {
            Some(tag) => Language::parse(tag).ok_or_else(|| {
                AppError::bad_input("language", "messages are written in fr or en")
            })?,
            None => current.language,
        };
        Ok(Preferences {
            session_reminders: self.session_reminders.unwrap_or(current.session_reminders),
            reminder_lead_minutes: lead,
            nudges: self.nudges.unwrap_or(current.nudges),
            language,
        })
    }
}

/// The preferences of each of these people (the defaults for those who
/// chose nothing), in one statement per 10,000 people.
pub async fn of_people<C: ConnectionTrait>(
    db: &C,
    people: &[Uuid],
    default_language: Language,
) -> AppResult<HashMap<Uuid, Preferences>> {
    let mut found: HashMap<Uuid, Preferences> = people
        .iter()
        .map(|id| (*id, Preferences::defaults(default_language)))
        .collect();
    for chunk in people.chunks(10_000) {
        let rows = notification_preference::Entity::find()
            .filter(notification_preference::Column::EmployeeId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for row in rows {
            found.insert(row.employee_id, Preferences::of_row(&row, default_language));
        }
    }
    Ok(found)
}

/// The caller's own preferences.
pub async fn mine(
    db: &DatabaseConnection,
    caller: &Caller,
    default_language: Language,
) -> AppResult<Preferences> {
    let me = caller.employee_id.ok_or_else(not_an_employee)?;
    Ok(of_people(db, &[me], default_language)
        .await?
        .remove(&me)
        .unwrap_or(Preferences::defaults(default_language)))
}

/// Changes the caller's own preferences and answers them as stored.
pub async fn set_mine(
    db: &DatabaseConnection,
    caller: &Caller,
    change: &PreferencesChange,
    default_language: Language,
) -> AppResult<Preferences> {
    let me = caller.employee_id.ok_or_else(not_an_employee)?;
    let txn = super::super::write_txn(db).await?;
    let current = of_people(&txn, &[me], default_language)
        .await?
        .remove(&me)
        .unwrap_or(Preferences::defaults(default_language));
    let next = change.apply(current)?;
    let row = notification_preference::ActiveModel {
        employee_id: Set(me),
        session_reminders: Set(next.session_reminders),
        reminder_lead_minutes: Set(next.reminder_lead_minutes),
        nudges: Set(next.nudges),
        language: Set(next.language.tag().to_owned()),
        updated_at: Set(Utc::now()),
    };
    notification_preference::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_preference::Column::EmployeeId)
                .update_columns([
                    notification_preference::Column::SessionReminders,
                    notification_preference::Column::ReminderLeadMinutes,
                    notification_preference::Column::Nudges,
                    notification_preference::Column::Language,
                    notification_preference::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(next)
}

fn not_an_employee() -> AppError {
    AppError::forbidden("only employees have notification preferences")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Preferences {
        Preferences::defaults(Language::Fr)
    }

    #[test]
    fn fields_left_out_keep_their_value() {
        let change = PreferencesChange {
            nudges: Some(false),
            ..Default::default()
        };
        let next = change.apply(defaults()).unwrap();
        assert!(!next.nudges);
        assert_eq!(next.reminder_lead_minutes, DEFAULT_LEAD_MINUTES);
        assert_eq!(next.language, Language::Fr);
        assert!(next.session_reminders);
    }

    #[test]
    fn a_lead_outside_a_quarter_hour_to_a_week_names_its_field() {
        for lead in [0, 14, 10_081, -1, i32::MAX, i32::MIN] {
            let change = PreferencesChange {
                reminder_lead_minutes: Some(lead),
                ..Default::default()
            };
            match change.apply(defaults()) {
                Err(AppError::BadInput { field, .. }) => assert_eq!(field, "reminderLeadMinutes"),
                other => panic!("{lead}: {other:?}"),
            }
        }
        for lead in [15, 10_080] {
            let change = PreferencesChange {
                reminder_lead_minutes: Some(lead),
                ..Default::default()
            };
            assert_eq!(
                change.apply(defaults()).unwrap().reminder_lead_minutes,
                lead
            );
        }
    }

    #[test]
    fn a_language_tandem_does_not_write_names_its_field() {
        for tag in ["de", "", "f", "français", "\0", "en\0"] {
            let change = PreferencesChange {
                language: Some(tag.to_owned()),
                ..Default::default()
            };
            match change.apply(defaults()) {
                Err(AppError::BadInput { field, .. }) => assert_eq!(field, "language", "{tag:?}"),
                other => panic!("{tag:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn reminders_and_nudges_each_follow_their_own_switch_and_nothing_else_is_optional() {
        use sea_orm::Iterable as _;
        let quiet = Preferences {
            session_reminders: false,
            nudges: false,
            ..defaults()
        };
        for kind in NotificationKind::iter() {
            let optional = matches!(
                kind,
                NotificationKind::SessionReminder
                    | NotificationKind::FeedbackRequested
                    | NotificationKind::CadenceOverdue
            );
            assert_eq!(quiet.wants(kind), !optional, "{kind:?}");
            assert!(defaults().wants(kind), "{kind:?}");
        }
        let reminders_only = Preferences {
            nudges: false,
            ..defaults()
        };
        assert!(reminders_only.wants(NotificationKind::SessionReminder));
        assert!(!reminders_only.wants(NotificationKind::CadenceOverdue));
    }

    #[test]
    fn regional_tags_keep_their_language() {
        assert_eq!(Language::parse("fr-FR"), Some(Language::Fr));
        assert_eq!(Language::parse("EN-gb"), Some(Language::En));
        assert_eq!(Language::parse("en"), Some(Language::En));
    }
}
