//! Pairings, their match reasons and goals.

use std::sync::Arc;

use super::scalars::DateTime;
use async_graphql::{Context, Enum, Lookahead, Object, SimpleObject};
use entity::{employee, goal, pairing};
use uuid::Uuid;

use super::calendar::TimeSlot;
use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{
    ActivityKey, EmployeeKey, GoalsKey, MenteesKey, ProgrammeKey, SessionsPageKey, SkillKey, load,
    load_in_order, load_required,
};
use super::people::{Employee, PageConnection, Skill, connection};
use super::programmes::Programme;
use super::scalars::Date;
use super::sessions::MentoringSession;
use crate::domain::access::{self, Area, EmployeeScope};
use crate::domain::matching;
use crate::domain::pagination::PageRequest;
use crate::domain::pairings::{self, health, joined, reasons};
use crate::domain::session_pages::SessionsPage;
use crate::domain::{calendar, goals};
use crate::error::AppError;

/// Pairing lifecycle.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::PairingStatus")]
pub enum PairingStatus {
    Proposed,
    Active,
    Paused,
    Completed,
    EndedEarly,
    Declined,
}

/// How a pairing is doing against its programme's sessionCadenceDays.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::pairings::health::Health")]
pub enum PairingHealth {
    /// ACTIVE for less than one cadence and no session held yet.
    TooEarly,
    /// A session held or scheduled within the cadence.
    OnTrack,
    /// No session held or scheduled for more than one cadence.
    NeedsCheckIn,
    /// More than two cadences without a session, or a participant rated the pairing poorly.
    AtRisk,
}

/// Progress of a goal.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::GoalStatus")]
pub enum GoalStatus {
    Open,
    Achieved,
    Dropped,
}

/// One term of a matching score, explained.
#[derive(SimpleObject)]
pub struct MatchReason {
    /// e.g. SKILL_COVERAGE, AVAILABILITY_OVERLAP, CROSS_DEPARTMENT, TIMEZONE
    kind: String,
    detail: String,
    weight: f64,
}

impl From<reasons::MatchReason> for MatchReason {
    fn from(reason: reasons::MatchReason) -> Self {
        Self {
            kind: reason.kind,
            detail: reason.detail,
            weight: reason.weight,
        }
    }
}

/// A mentor and their mentees in a programme.
pub struct Pairing(pub pairing::Model);

// The main screen's compiled read asks the same rules of its rows as the
// resolvers of `mentor`, `mentees`, `score` and `goals` below
// (`compiled::shown_whole`): a rule added to one of them belongs there too.

#[Object]
impl Pairing {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn programme(&self, ctx: &Context<'_>) -> async_graphql::Result<Programme> {
        Ok(Programme(
            load_required(ctx, ProgrammeKey(self.0.programme_id)).await?,
        ))
    }
    /// Whoever sees the pairing may see its mentor (a participant, the
    /// mentor's supervisor, an admin).
    async fn mentor(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        let seen = self
            .member_scope(ctx)
            .await?
            .is_none_or(|scope| scope.contains(self.0.mentor_id));
        if !seen {
            return Err(super::error::to_graphql(AppError::NotFound("employee")));
        }
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.mentor_id)).await?,
        ))
    }
    /// The mentees the caller may see as employees (the same scope as
    /// `employee(id)`): all of them for participants and admins, none for
    /// a supervisor, who knows only their names (`menteeNames`).
    async fn mentees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Employee>> {
        let scope = self.member_scope(ctx).await?;
        Ok(self
            .mentee_rows(ctx)
            .await?
            .into_iter()
            .filter(|mentee| scope.is_none_or(|scope| scope.contains(mentee.id)))
            .map(Employee)
            .collect())
    }
    /// The mentor's display name: what a participant's delegate, who does
    /// not see the mentor as an employee, needs to book with them.
    async fn mentor_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(load_required(ctx, EmployeeKey(self.0.mentor_id))
            .await?
            .display_name
            .clone())
    }
    /// The mentees' display names: all that the mentor's supervisor may
    /// know of them (docs/design.md, Authorization).
    async fn mentee_names(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(self
            .mentee_rows(ctx)
            .await?
            .into_iter()
            .map(|mentee| mentee.display_name.clone())
            .collect())
    }
    async fn status(&self) -> PairingStatus {
        self.0.status.into()
    }
    /// When a PAUSED pairing was paused.
    async fn paused_at(&self) -> Option<DateTime> {
        self.0.paused_at.map(DateTime)
    }
    /// Why it is paused: the participants' and admins' only.
    async fn pause_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let mentees = load(ctx, MenteesKey(self.0.id)).await?.unwrap_or_default();
        let reads = access::reads_pause_reason(ctx.caller()?, self.0.mentor_id, &mentees);
        Ok(self.0.pause_reason.as_deref().filter(|_| reads))
    }
    /// Matching score in [0, 1]; null for pairings made by hand (and for
    /// anyone but the participants and admins).
    async fn score(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        Ok(if self.reads_match_reasons(ctx).await? {
            self.0.score
        } else {
            None
        })
    }
    /// Why the matcher proposed the pairing: the participants' and admins' only.
    async fn reasons(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MatchReason>> {
        Ok(if self.reads_match_reasons(ctx).await? {
            reasons::from_stored(&self.0.reasons)
                .gql()?
                .into_iter()
                .map(MatchReason::from)
                .collect()
        } else {
            Vec::new()
        })
    }
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageConnection<MentoringSession>> {
        let request = PageRequest::parse(first, after.as_deref()).gql()?;
        let SessionsPage { page, mut topics } =
            load(ctx, SessionsPageKey::new(self.0.id, &request))
                .await?
                .unwrap_or_else(|| SessionsPage::empty(&request));
        Ok(connection(page, |session| {
            let of_session = topics.remove(&session.id).unwrap_or_default();
            MentoringSession::with_topics(session, of_session)
        }))
    }
    /// Free slots common to every participant, soonest first (default: the
    /// next four weeks, 5 slots).
    #[graphql(complexity = "super::limits::cost::COMMON_SLOTS + child_complexity")]
    async fn next_common_slots(
        &self,
        ctx: &Context<'_>,
        duration_minutes: i32,
        from: Option<DateTime>,
        to: Option<DateTime>,
        #[graphql(default = 5)] limit: i32,
    ) -> async_graphql::Result<Vec<TimeSlot>> {
        let window = calendar::lookahead(from.map(|at| at.0), to.map(|at| at.0)).gql()?;
        let slots = calendar::next_common_slots(
            ctx.db()?,
            ctx.cache()?,
            ctx.caller()?,
            &self.0,
            duration_minutes,
            window,
            limit,
        )
        .await
        .gql()?;
        Ok(slots.into_iter().map(TimeSlot::from).collect())
    }
    /// How it is doing against the programme's cadence (the rule the
    /// nudges follow); a paused or ended pairing is not measured against it.
    async fn health(&self, ctx: &Context<'_>) -> async_graphql::Result<PairingHealth> {
        let activity = load(ctx, ActivityKey(self.0.id)).await?.unwrap_or_default();
        let programme = load_required(ctx, ProgrammeKey(self.0.programme_id)).await?;
        let caller = ctx.caller()?;
        let supervises = !caller.is_admin()
            && ctx
                .supervised_mentors()
                .await?
                .contains(&(self.0.programme_id, self.0.mentor_id));
        let facts = activity
            .facts(&self.0, programme.session_cadence_days)
            .as_seen(access::told_of_ratings(caller, supervises));
        Ok(health::health(&facts, chrono::Utc::now()).into())
    }
    /// The start of the latest HELD session.
    async fn last_session_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        let activity = load(ctx, ActivityKey(self.0.id)).await?.unwrap_or_default();
        Ok(activity.last_held_at.map(DateTime))
    }
    /// The next SCHEDULED session still to come.
    async fn next_session(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<MentoringSession>> {
        let activity = load(ctx, ActivityKey(self.0.id)).await?.unwrap_or_default();
        Ok(activity.next_session.map(MentoringSession::from))
    }
    /// The pairing's objectives: its participants', their mentor's
    /// supervisor's and admins' — not a delegate's (empty for them).
    async fn goals(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Goal>> {
        let mentees = load(ctx, MenteesKey(self.0.id)).await?.unwrap_or_default();
        let caller = ctx.caller()?;
        // The supervision lookup (one statement a request) only for those
        // who are neither participants nor admins.
        let supervises = !access::reads_goals(caller, self.0.mentor_id, &mentees, false)
            && ctx
                .supervised_mentors()
                .await?
                .contains(&(self.0.programme_id, self.0.mentor_id));
        if !access::reads_goals(caller, self.0.mentor_id, &mentees, supervises) {
            return Ok(Vec::new());
        }
        let found = load(ctx, GoalsKey(self.0.id)).await?.unwrap_or_default();
        let goals = ctx.loaders()?.prime_goal_skills(found).await;
        Ok(goals.into_iter().map(Goal).collect())
    }
}

impl Pairing {
    /// The scope this pairing's members are filtered by; None when the
    /// caller sees them all ([`access::sees_members_of`]), which spares the
    /// scope's statements.
    async fn member_scope<'a>(
        &self,
        ctx: &'a Context<'_>,
    ) -> async_graphql::Result<Option<&'a EmployeeScope>> {
        let mentees = load(ctx, MenteesKey(self.0.id)).await?.unwrap_or_default();
        if access::sees_members_of(ctx.caller()?, &self.0, &mentees) {
            return Ok(None);
        }
        Ok(Some(ctx.employee_scope().await?))
    }

    async fn reads_match_reasons(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let mentees = load(ctx, MenteesKey(self.0.id)).await?.unwrap_or_default();
        Ok(access::reads_match_reasons(
            ctx.caller()?,
            self.0.mentor_id,
            &mentees,
        ))
    }

    /// The mentees' rows, in id order, through the request's loaders.
    async fn mentee_rows(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Arc<employee::Model>>> {
        let ids = load(ctx, MenteesKey(self.0.id)).await?.unwrap_or_default();
        load_in_order(ctx, ids.iter().copied().map(EmployeeKey)).await
    }
}

/// An objective of a pairing.
pub struct Goal(pub goal::Model);

#[Object]
impl Goal {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn skill(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Skill>> {
        let Some(id) = self.0.skill_id else {
            return Ok(None);
        };
        let found = load(ctx, SkillKey(id)).await?;
        Ok(found.map(Skill))
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> GoalStatus {
        self.0.status.into()
    }
    async fn due_on(&self) -> Option<Date> {
        self.0.due_on.map(Date)
    }
}

/// The relations a selection of pairings reads, to be read with the
/// pairings themselves (look-ahead). Only a saving: a relation not read
/// here is loaded by its resolver.
fn relations_selected(selection: &Lookahead<'_>) -> joined::Relations {
    let any = |fields: &[&str]| fields.iter().any(|name| selection.field(name).exists());
    joined::Relations {
        programme: any(&["programme", "health"]),
        mentor: any(&["mentor", "mentorName"]),
        // Who the mentees are decides what the caller may read of the rest.
        mentees: any(&[
            "mentor",
            "mentees",
            "menteeNames",
            "pauseReason",
            "score",
            "reasons",
            "goals",
        ]),
    }
}

/// Query fields about pairings.
#[derive(Default)]
pub struct PairingQuery;

#[Object]
impl PairingQuery {
    /// Pairings where the caller is mentor or mentee.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn my_pairings(
        &self,
        ctx: &Context<'_>,
        status: Option<PairingStatus>,
    ) -> async_graphql::Result<Vec<Pairing>> {
        let relations = relations_selected(&ctx.look_ahead());
        let rows = pairings::mine_with(ctx.db()?, ctx.caller()?, status.map(Into::into), relations)
            .await
            .gql()?;
        let rows = ctx.loaders()?.prime_pairings(rows).await;
        Ok(rows.into_iter().map(Pairing).collect())
    }

    /// Admins (and supervisors for their mentors): a programme's running
    /// pairings whose health is NEEDS_CHECK_IN or AT_RISK.
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn pairings_needing_attention(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PageConnection<Pairing>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let rows = health::needing_attention(
            ctx.db()?,
            ctx.caller()?,
            programme_id,
            &page,
            chrono::Utc::now(),
        )
        .await
        .gql()?;
        Ok(connection(rows, Pairing))
    }

    /// One pairing: its participants, their mentor's supervisor, and admins see it.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn pairing(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Pairing>> {
        Ok(Some(Pairing(
            pairings::get(ctx.db()?, ctx.caller()?, id).await.gql()?,
        )))
    }
}

/// Mutations of pairings and goals.
#[derive(Default)]
pub struct PairingMutation;

#[Object]
impl PairingMutation {
    /// Runs the matcher; stores and returns PROPOSED pairings (admins, programme in MATCHING).
    #[graphql(
        guard = "AreaGuard(Area::Administration)",
        complexity = "super::limits::cost::MATCHER + child_complexity"
    )]
    async fn propose_matches(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
    ) -> async_graphql::Result<Vec<Pairing>> {
        let settings = ctx.settings()?.matching();
        let (created, _) =
            matching::run::propose_matches(ctx.db()?, &ctx.actor()?, settings, programme_id)
                .await
                .gql()?;
        Ok(created.into_iter().map(Pairing).collect())
    }
    /// Pairs a mentor with mentees by hand (the programme team).
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn create_pairing(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
        mentor_id: Uuid,
        mentee_ids: Vec<Uuid>,
    ) -> async_graphql::Result<Pairing> {
        let rules = ctx.settings()?.pairing;
        let created = pairings::create(
            ctx.db()?,
            &ctx.actor()?,
            rules,
            programme_id,
            mentor_id,
            mentee_ids,
        )
        .await
        .gql()?;
        Ok(Pairing(created))
    }

    /// Accepts or declines a proposed pairing.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn decide_pairing(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        accept: bool,
    ) -> async_graphql::Result<Pairing> {
        let rules = ctx.settings()?.pairing;
        Ok(Pairing(
            pairings::decide(ctx.db()?, &ctx.actor()?, rules, id, accept)
                .await
                .gql()?,
        ))
    }

    /// Pauses an ACTIVE pairing (a participant or an admin): it takes no new
    /// session, its sessions still to come are cancelled, it is not nudged.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn pause_pairing(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: Option<String>,
    ) -> async_graphql::Result<Pairing> {
        Ok(Pairing(
            pairings::pause(ctx.db()?, &ctx.actor()?, id, reason)
                .await
                .gql()?,
        ))
    }

    /// Resumes a PAUSED pairing (a participant or an admin).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn resume_pairing(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Pairing> {
        Ok(Pairing(
            pairings::resume(ctx.db()?, &ctx.actor()?, id).await.gql()?,
        ))
    }

    /// Ends a pairing, completed or early, with a reason.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn end_pairing(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
        completed: bool,
    ) -> async_graphql::Result<Pairing> {
        Ok(Pairing(
            pairings::end(ctx.db()?, &ctx.actor()?, id, reason, completed)
                .await
                .gql()?,
        ))
    }

    /// Adds a goal to one of the caller's pairings.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn add_goal(
        &self,
        ctx: &Context<'_>,
        pairing_id: Uuid,
        description: String,
        skill_id: Option<Uuid>,
        due_on: Option<Date>,
    ) -> async_graphql::Result<Goal> {
        let created = goals::add(
            ctx.db()?,
            ctx.caller()?,
            pairing_id,
            &description,
            skill_id,
            due_on.map(|d| d.0),
        )
        .await
        .gql()?;
        Ok(Goal(created))
    }

    /// Updates a goal of one of the caller's pairings.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn set_goal_status(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: GoalStatus,
    ) -> async_graphql::Result<Goal> {
        Ok(Goal(
            goals::set_status(ctx.db()?, ctx.caller()?, id, status.into())
                .await
                .gql()?,
        ))
    }
}
