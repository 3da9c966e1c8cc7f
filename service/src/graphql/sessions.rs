//! Mentoring sessions and their feedback.

use std::sync::Arc;

use super::scalars::DateTime;
use async_graphql::{Context, Enum, InputObject, Object};
use entity::{mentoring_session, session_feedback, skill};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{
    EmployeeKey, FeedbackKey, MenteesKey, PairingKey, SkillKey, TopicsKey, load, load_in_order,
    load_required,
};
use super::pairings::Pairing;
use super::people::{Employee, Skill};
use crate::domain::access::{self, Area};
use crate::domain::seal;
use crate::domain::sessions::{self, FeedbackRequest, RescheduleRequest, ScheduleRequest};

/// Session lifecycle.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SessionStatus")]
pub enum SessionStatus {
    Scheduled,
    Held,
    Cancelled,
    NoShow,
}

/// How a session takes place.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SessionMode")]
pub enum SessionMode {
    InPerson,
    Video,
}

/// A meeting of a pairing.
pub struct MentoringSession {
    /// The session's row.
    row: mentoring_session::Model,
    /// Its topics, when the page that listed the session read them with it;
    /// otherwise `topics` asks the loaders.
    topics: Option<Vec<Arc<skill::Model>>>,
}

impl From<mentoring_session::Model> for MentoringSession {
    fn from(row: mentoring_session::Model) -> Self {
        Self { row, topics: None }
    }
}

impl MentoringSession {
    /// A session listed with the topics its page read (in skill id order),
    /// so that its `topics` make no statement and ask no loader.
    pub fn with_topics(row: mentoring_session::Model, topics: Vec<Arc<skill::Model>>) -> Self {
        Self {
            row,
            topics: Some(topics),
        }
    }

    /// Whether the caller is a participant of the session's pairing (batched through loaders).
    async fn caller_participates(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Some(pairing) = load(ctx, PairingKey(self.row.pairing_id)).await? else {
            return Ok(false);
        };
        let mentees = load(ctx, MenteesKey(self.row.pairing_id))
            .await?
            .unwrap_or_default();
        Ok(access::is_participant(
            ctx.caller()?,
            pairing.mentor_id,
            &mentees,
        ))
    }
}

#[Object]
impl MentoringSession {
    async fn id(&self) -> Uuid {
        self.row.id
    }
    async fn pairing(&self, ctx: &Context<'_>) -> async_graphql::Result<Pairing> {
        Ok(Pairing(
            load_required(ctx, PairingKey(self.row.pairing_id)).await?,
        ))
    }
    async fn starts_at(&self) -> DateTime {
        self.row.starts_at.into()
    }
    async fn ends_at(&self) -> DateTime {
        self.row.ends_at.into()
    }
    async fn mode(&self) -> SessionMode {
        self.row.mode.into()
    }
    async fn status(&self) -> SessionStatus {
        self.row.status.into()
    }
    async fn topics(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Skill>> {
        if let Some(topics) = &self.topics {
            return Ok(topics.iter().cloned().map(Skill).collect());
        }
        let ids = load(ctx, TopicsKey(self.row.id)).await?.unwrap_or_default();
        let topics = load_in_order(ctx, ids.iter().copied().map(SkillKey)).await?;
        Ok(topics.into_iter().map(Skill).collect())
    }
    async fn agenda(&self) -> Option<&str> {
        self.row.agenda.as_deref()
    }
    /// Visible to the pairing's participants only; never to admins, supervisors or analysts.
    async fn private_notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        if self.caller_participates(ctx).await? {
            let context = seal::notes_context(self.row.id);
            Ok(ctx
                .keyring()?
                .open_or_log(self.row.private_notes.as_deref(), &context))
        } else {
            Ok(None)
        }
    }
    /// The entries the caller may read: their own, or all for the programme team.
    async fn feedback(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SessionFeedback>> {
        let caller = ctx.caller()?;
        let found = load(ctx, FeedbackKey(self.row.id)).await?;
        Ok(found
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| access::reads_feedback(caller, entry.author_id))
            .map(SessionFeedback)
            .collect())
    }
}

/// A participant's evaluation of a held session.
pub struct SessionFeedback(pub session_feedback::Model);

#[Object]
impl SessionFeedback {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.author_id)).await?,
        ))
    }
    /// 1..5
    async fn rating(&self) -> i32 {
        self.0.rating
    }
    /// 0..10, would you recommend the programme
    async fn recommend(&self) -> Option<i32> {
        self.0.recommend
    }
    /// The text is the author's and the programme team's only.
    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let readable = access::reads_feedback(ctx.caller()?, self.0.author_id);
        Ok(if readable {
            let context = seal::comment_context(self.0.id);
            ctx.keyring()?
                .open_or_log(self.0.comment.as_deref(), &context)
        } else {
            None
        })
    }
    async fn submitted_at(&self) -> DateTime {
        self.0.submitted_at.into()
    }
}

/// A session to schedule.
#[derive(InputObject)]
pub struct ScheduleSessionInput {
    pairing_id: Uuid,
    starts_at: DateTime,
    duration_minutes: i32,
    mode: SessionMode,
    topic_skill_ids: Option<Vec<Uuid>>,
    agenda: Option<String>,
    /// Book on behalf of this principal (the caller must hold their delegation).
    on_behalf_of: Option<Uuid>,
}

/// An evaluation.
#[derive(InputObject)]
pub struct FeedbackInput {
    session_id: Uuid,
    rating: i32,
    recommend: Option<i32>,
    comment: Option<String>,
}

/// Mutations of sessions.
#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// A participant (or, with `onBehalfOf`, their delegate) schedules a
    /// session; nobody is double-booked.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn schedule_session(
        &self,
        ctx: &Context<'_>,
        input: ScheduleSessionInput,
    ) -> async_graphql::Result<MentoringSession> {
        let request = ScheduleRequest {
            pairing_id: input.pairing_id,
            starts_at: input.starts_at.0,
            duration_minutes: input.duration_minutes,
            mode: input.mode.into(),
            topic_skill_ids: input.topic_skill_ids.unwrap_or_default(),
            agenda: input.agenda,
            on_behalf_of: input.on_behalf_of,
        };
        Ok(MentoringSession::from(
            sessions::schedule(ctx.db()?, &ctx.actor()?, request)
                .await
                .gql()?,
        ))
    }

    /// Cancels a scheduled session.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn cancel_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: Option<String>,
    ) -> async_graphql::Result<MentoringSession> {
        Ok(MentoringSession::from(
            sessions::cancel(ctx.db()?, &ctx.actor()?, id, reason)
                .await
                .gql()?,
        ))
    }

    /// Moves a SCHEDULED session still to come (a participant or their
    /// delegate): the rules of
    /// booking, atomically; calendars update the same entry.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn reschedule_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        starts_at: DateTime,
        duration_minutes: Option<i32>,
    ) -> async_graphql::Result<MentoringSession> {
        let request = RescheduleRequest {
            session_id: id,
            starts_at: starts_at.0,
            duration_minutes,
        };
        Ok(MentoringSession::from(
            sessions::reschedule(ctx.db()?, &ctx.actor()?, request)
                .await
                .gql()?,
        ))
    }

    /// Records that a session did not take place (a participant, once it
    /// has started); metrics count it apart from held sessions.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn mark_session_no_show(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<MentoringSession> {
        Ok(MentoringSession::from(
            sessions::mark_no_show(ctx.db()?, ctx.caller()?, id)
                .await
                .gql()?,
        ))
    }

    /// Records that a session took place (once it has started).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn mark_session_held(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<MentoringSession> {
        Ok(MentoringSession::from(
            sessions::mark_held(ctx.db()?, ctx.caller()?, id)
                .await
                .gql()?,
        ))
    }

    /// Sets the participants' private notes.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn set_session_notes(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        notes: String,
    ) -> async_graphql::Result<MentoringSession> {
        Ok(MentoringSession::from(
            sessions::set_notes(ctx.db()?, ctx.caller()?, ctx.keyring()?, id, &notes)
                .await
                .gql()?,
        ))
    }

    /// A participant evaluates a held session, once.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn submit_feedback(
        &self,
        ctx: &Context<'_>,
        input: FeedbackInput,
    ) -> async_graphql::Result<SessionFeedback> {
        let request = FeedbackRequest {
            session_id: input.session_id,
            rating: input.rating,
            recommend: input.recommend,
            comment: input.comment,
        };
        Ok(SessionFeedback(
            sessions::submit_feedback(ctx.db()?, ctx.caller()?, ctx.keyring()?, request)
                .await
                .gql()?,
        ))
    }
}
