//! Notifications: what was sent to the caller, their preferences, and the
//! delivery state of a programme's notifications for its admins.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use entity::notification;
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::people::{PageConnection, connection};
use super::scalars::DateTime;
use crate::domain::access::Area;
use crate::domain::notifications::preferences::{self, PreferencesChange};
use crate::domain::notifications::{Preferences, delivery, history};
use crate::domain::pagination::PageRequest;

/// What a notification tells.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::NotificationKind")]
pub enum NotificationKind {
    PairingProposed,
    PairingStarted,
    PairingEnded,
    SessionScheduled,
    SessionRescheduled,
    SessionCancelled,
    SessionReminder,
    FeedbackRequested,
    CadenceOverdue,
    PairingAtRisk,
    EnrolmentDecided,
    EnrolmentsAwaitingDecision,
}

/// How it travels.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::NotificationChannel")]
pub enum NotificationChannel {
    /// An email (to a person, or to the programme team's mailbox).
    Email,
    /// One signed webhook POST per event.
    Webhook,
}

/// Where its delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::DeliveryState")]
pub enum DeliveryState {
    /// Not delivered yet (first attempt to come, or a retry after a failure).
    Pending,
    /// Accepted by the relay or the webhook endpoint.
    Sent,
    /// Every attempt failed; kept, never silently dropped.
    Failed,
    /// Nothing was sent: no channel configured, the recipient left, the
    /// session moved or the person opted out.
    Suppressed,
}

/// One message to one recipient over one channel.
pub struct Notification(pub notification::Model);

#[Object]
impl Notification {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn kind(&self) -> NotificationKind {
        self.0.kind.into()
    }
    async fn channel(&self) -> NotificationChannel {
        self.0.channel.into()
    }
    async fn state(&self) -> DeliveryState {
        self.0.state.into()
    }
    /// Delivery attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn sent_at(&self) -> Option<DateTime> {
        self.0.sent_at.map(DateTime)
    }
    /// The subject line, once the message was written.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// The employee told; null for the programme team's mailbox and webhooks.
    async fn recipient_id(&self) -> Option<Uuid> {
        self.0.recipient_id
    }
    /// Why the last attempt failed or why nothing was sent (never an
    /// address or the message itself).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the next attempt is due, while PENDING.
    async fn next_attempt_at(&self) -> Option<DateTime> {
        (self.0.state == entity::enums::DeliveryState::Pending)
            .then_some(DateTime(self.0.next_attempt_at))
    }
}

/// What the caller wants to be told.
#[derive(SimpleObject)]
pub struct NotificationPreferences {
    /// Reminders before sessions.
    session_reminders: bool,
    /// Minutes before a session that its reminder is sent (15-10080).
    reminder_lead_minutes: i32,
    /// Nudges when the pair goes quiet, and feedback requests.
    nudges: bool,
    /// BCP 47 language of the caller's messages: fr or en.
    language: String,
}

impl From<Preferences> for NotificationPreferences {
    fn from(p: Preferences) -> Self {
        Self {
            session_reminders: p.session_reminders,
            reminder_lead_minutes: p.reminder_lead_minutes,
            nudges: p.nudges,
            language: p.language.tag().to_owned(),
        }
    }
}

/// A change of preferences: fields left out keep their value.
#[derive(InputObject)]
pub struct NotificationPreferencesInput {
    session_reminders: Option<bool>,
    reminder_lead_minutes: Option<i32>,
    nudges: Option<bool>,
    language: Option<String>,
}

/// How a programme's notifications stand, by delivery state.
#[derive(SimpleObject, Default)]
pub struct DeliverySummary {
    pending: i64,
    sent: i64,
    failed: i64,
    suppressed: i64,
}

/// Query fields about notifications.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// What was sent to the caller, newest first.
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn my_notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageConnection<Notification>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let rows = history::mine(ctx.db()?, ctx.caller()?, &page).await.gql()?;
        Ok(connection(rows, Notification))
    }

    /// The caller's notification preferences (the defaults until changed).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn my_notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<NotificationPreferences> {
        let language = ctx.notify_settings()?.default_language;
        Ok(preferences::mine(ctx.db()?, ctx.caller()?, language)
            .await
            .gql()?
            .into())
    }

    /// Admins: a programme's notifications (every recipient and channel),
    /// newest first, optionally in one delivery state.
    #[graphql(
        guard = "AreaGuard(Area::Administration)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn programme_notifications(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
        state: Option<DeliveryState>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageConnection<Notification>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let rows = history::of_programme(
            ctx.db()?,
            ctx.caller()?,
            programme_id,
            state.map(Into::into),
            &page,
        )
        .await
        .gql()?;
        Ok(connection(rows, Notification))
    }

    /// Admins: how a programme's notifications stand, by delivery state.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn programme_delivery_summary(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
    ) -> async_graphql::Result<DeliverySummary> {
        use entity::enums::DeliveryState as State;
        let counts = delivery::counts_of_programme(ctx.db()?, ctx.caller()?, programme_id)
            .await
            .gql()?;
        let count = |state| counts.get(&state).copied().unwrap_or(0);
        Ok(DeliverySummary {
            pending: count(State::Pending),
            sent: count(State::Sent),
            failed: count(State::Failed),
            suppressed: count(State::Suppressed),
        })
    }
}

/// Mutations of notification preferences.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Changes the caller's preferences; fields left out keep their value.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: NotificationPreferencesInput,
    ) -> async_graphql::Result<NotificationPreferences> {
        let change = PreferencesChange {
            session_reminders: input.session_reminders,
            reminder_lead_minutes: input.reminder_lead_minutes,
            nudges: input.nudges,
            language: input.language,
        };
        let language = ctx.notify_settings()?.default_language;
        Ok(
            preferences::set_mine(ctx.db()?, ctx.caller()?, &change, language)
                .await
                .gql()?
                .into(),
        )
    }
}
