//! Programmes.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object};
use entity::programme;
use uuid::Uuid;

use super::context::ContextExt;
use super::enrolments::{Enrolment, EnrolmentStatus, ParticipantRole};
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{EmployeeKey, load, load_required};
use super::pairings::{Pairing, PairingStatus};
use super::people::{Employee, PageConnection, connection};
use super::scalars::Date;
use crate::domain::access::Area;
use crate::domain::matching;
use crate::domain::pagination::PageRequest;
use crate::domain::programmes::ProgrammeRequest;
use crate::domain::{access, enrolments, pairings, programmes};

/// A mentee the matcher cannot place, and why.
pub struct UnmatchedMentee(matching::run::Unmatched);

#[Object]
impl UnmatchedMentee {
    async fn mentee(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.mentee_id)).await?,
        ))
    }
    /// Why no mentor takes them (the rule that excludes most mentors, or capacity).
    async fn reason(&self) -> &str {
        &self.0.reason
    }
}

/// Programme lifecycle.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ProgrammeStatus")]
pub enum ProgrammeStatus {
    Draft,
    Enrolling,
    Matching,
    Active,
    Closed,
}

/// One-to-one or small groups.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ProgrammeFormat")]
pub enum ProgrammeFormat {
    OneToOne,
    Group,
}

/// A reverse-mentoring programme.
pub struct Programme(pub Arc<programme::Model>);

impl From<programme::Model> for Programme {
    fn from(row: programme::Model) -> Self {
        Self(Arc::new(row))
    }
}

#[Object]
impl Programme {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Approved mentees without a live pairing, and why no mentor can take
    /// them now (the programme team).
    #[graphql(
        guard = "AreaGuard(Area::Administration)",
        complexity = "super::limits::cost::MATCHER + child_complexity"
    )]
    async fn unmatched_mentees(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<UnmatchedMentee>> {
        let settings = ctx.settings()?.matching();
        let found = matching::run::unmatched_mentees(ctx.db()?, ctx.caller()?, settings, self.0.id)
            .await
            .gql()?;
        Ok(found.into_iter().map(UnmatchedMentee).collect())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Why the programme exists, shown to every volunteer before they consent.
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }
    async fn status(&self) -> ProgrammeStatus {
        self.0.status.into()
    }
    async fn format(&self) -> ProgrammeFormat {
        self.0.format.into()
    }
    async fn max_mentees_per_mentor(&self) -> i32 {
        self.0.max_mentees_per_mentor
    }
    async fn session_cadence_days(&self) -> i32 {
        self.0.session_cadence_days
    }
    async fn target_sessions(&self) -> i32 {
        self.0.target_sessions
    }
    async fn requires_mentor_training(&self) -> bool {
        self.0.requires_mentor_training
    }
    async fn starts_on(&self) -> Option<Date> {
        self.0.starts_on.map(Date)
    }
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }
    /// The executive who approved the programme; shown with the purpose to
    /// every volunteer (null for analysts, who see no individual).
    async fn sponsor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Employee>> {
        let Some(id) = self.0.sponsor_id else {
            return Ok(None);
        };
        if !access::sees_programme_sponsors(ctx.caller()?) {
            return Ok(None);
        }
        let found = load(ctx, EmployeeKey(id)).await?;
        Ok(found.map(Employee))
    }

    /// Enrolments the caller may see (admins: all; employees: their own and
    /// their supervised mentors').
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn enrolments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        role: Option<ParticipantRole>,
        status: Option<EnrolmentStatus>,
    ) -> async_graphql::Result<PageConnection<Enrolment>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let caller = ctx.caller()?;
        let rows = enrolments::list(
            ctx.db()?,
            caller,
            self.0.id,
            &page,
            role.map(Into::into),
            status.map(Into::into),
        )
        .await
        .gql()?;
        Ok(connection(rows, Enrolment))
    }

    /// Pairings the caller may see (admins: all; employees: their own and
    /// their supervised mentors').
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn pairings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<PairingStatus>,
    ) -> async_graphql::Result<PageConnection<Pairing>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let rows = pairings::list(
            ctx.db()?,
            ctx.caller()?,
            self.0.id,
            &page,
            status.map(Into::into),
        )
        .await
        .gql()?;
        Ok(connection(rows, Pairing))
    }
}

/// A new programme, as the programme team describes it.
#[derive(InputObject)]
pub struct CreateProgrammeInput {
    name: String,
    purpose: String,
    format: ProgrammeFormat,
    max_mentees_per_mentor: Option<i32>,
    session_cadence_days: Option<i32>,
    target_sessions: Option<i32>,
    requires_mentor_training: Option<bool>,
    starts_on: Option<Date>,
    ends_on: Option<Date>,
    sponsor_id: Option<Uuid>,
}

impl From<CreateProgrammeInput> for ProgrammeRequest {
    fn from(input: CreateProgrammeInput) -> Self {
        Self {
            name: input.name,
            purpose: input.purpose,
            format: input.format.into(),
            max_mentees_per_mentor: input.max_mentees_per_mentor,
            session_cadence_days: input.session_cadence_days,
            target_sessions: input.target_sessions,
            requires_mentor_training: input.requires_mentor_training,
            starts_on: input.starts_on.map(|d| d.0),
            ends_on: input.ends_on.map(|d| d.0),
            sponsor_id: input.sponsor_id,
        }
    }
}

/// Mutations of programmes (the programme team's).
#[derive(Default)]
pub struct ProgrammeMutation;

#[Object]
impl ProgrammeMutation {
    /// Creates a DRAFT programme.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn create_programme(
        &self,
        ctx: &Context<'_>,
        input: CreateProgrammeInput,
    ) -> async_graphql::Result<Programme> {
        let created = programmes::create(ctx.db()?, &ctx.actor()?, input.into())
            .await
            .gql()?;
        Ok(Programme::from(created))
    }

    /// Moves a programme along DRAFT → ENROLLING → MATCHING → ACTIVE → CLOSED
    /// (ACTIVE may reopen enrolment for a new wave). Illegal moves are CONFLICT.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn transition_programme(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        to: ProgrammeStatus,
    ) -> async_graphql::Result<Programme> {
        let moved = programmes::transition(ctx.db()?, &ctx.actor()?, id, to.into())
            .await
            .gql()?;
        Ok(Programme::from(moved))
    }
}

/// Query fields about programmes.
#[derive(Default)]
pub struct ProgrammeQuery;

#[Object]
impl ProgrammeQuery {
    /// One programme (drafts are visible to admins only).
    #[graphql(guard = "AreaGuard(Area::Programmes)")]
    async fn programme(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<Programme>> {
        Ok(Some(Programme::from(
            programmes::get(ctx.db()?, ctx.caller()?, id).await.gql()?,
        )))
    }

    /// Programmes by name, optionally of one status.
    #[graphql(
        guard = "AreaGuard(Area::Programmes)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn programmes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<ProgrammeStatus>,
    ) -> async_graphql::Result<PageConnection<Programme>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let rows = programmes::list(ctx.db()?, ctx.caller()?, &page, status.map(Into::into))
            .await
            .gql()?;
        Ok(connection(rows, Programme::from))
    }
}
