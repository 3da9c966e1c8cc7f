//! Programme metrics for analysts and admins, aggregated in SQL (sea-query,
//! so the same statements run on SQLite and PostgreSQL) and k-anonymous.
//!
//! Privacy: a figure that describes fewer than `min_group_size` distinct
//! people is None and its group is `suppressed` (a suppressed group also
//! hides its size: participants 0). When exactly one group of a breakdown
//! would be suppressed, the next smallest is suppressed too, so the hidden
//! group cannot be recovered as the total minus the others. Nothing here
//! returns a row about one person.
//!
//! Definitions: participants are the APPROVED enrolments (mentors and
//! mentees); the date range filters sessions and their feedback (by the
//! session's start), not enrolments or pairings, which are counted as they
//! stand; a mentor is retained while not TERMINATED (ACTIVE or ON_LEAVE).

use std::collections::HashMap;

use chrono::{DateTime, Datelike as _, Duration, Months, NaiveDate, Utc};
use entity::enums::{
    AssessmentPhase, EmployeeStatus, EnrolmentStatus, PairingStatus, ParticipantRole, SessionStatus,
};
use entity::{
    department, employee, enrolment, mentoring_session, pairing, pairing_mentee, programme,
    session_feedback, skill_assessment,
};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait as _, Func, JoinType, Query, SelectStatement, UnionType,
};
use sea_orm::{ActiveEnum as _, ConnectionTrait, EntityTrait, QueryResult};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::error::{AppError, AppResult};

/// Most timeline points one query answers.
const MAX_PERIODS: usize = 260;

/// What the metrics cover: one programme, an optional date range.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// The programme.
    pub programme_id: Uuid,
    /// Sessions starting at or after this instant (None: from the start).
    pub start: Option<DateTime<Utc>>,
    /// Sessions starting before this instant (None: to date).
    pub end: Option<DateTime<Utc>>,
    /// The k of k-anonymity.
    pub min_group_size: i64,
}

/// The programme-level figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Approved mentors.
    pub mentors: i64,
    /// Approved mentees.
    pub mentees: i64,
    /// Approved mentors whose training is recorded.
    pub mentors_trained: i64,
    /// Pairings by current state.
    pub active_pairings: i64,
    /// Completed pairings.
    pub completed_pairings: i64,
    /// Pairings ended early.
    pub ended_early_pairings: i64,
    /// Sessions held in the range.
    pub sessions_held: i64,
    /// Sessions cancelled in the range.
    pub sessions_cancelled: i64,
    /// Share of started pairings whose mentor and a mentee sit in different departments.
    pub cross_department_share: Option<f64>,
    /// Average session rating (1–5).
    pub average_rating: Option<f64>,
    /// Net promoter score, −100..100.
    pub nps: Option<f64>,
    /// Share of approved mentors still employed.
    pub mentor_retention_rate: Option<f64>,
}

/// How participants are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// Department name.
    Department,
    /// Generation.
    Generation,
    /// MENTOR or MENTEE.
    Role,
    /// Seniority level.
    Seniority,
}

/// One group of a breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The group's value of the dimension (`UNKNOWN` when unset).
    pub key: String,
    /// Distinct participants (0 when suppressed).
    pub participants: i64,
    /// Sessions held by the group's members.
    pub sessions_held: Option<i64>,
    /// Average rating the group's members gave.
    pub average_rating: Option<f64>,
    /// Whether the group's figures are hidden.
    pub suppressed: bool,
}

/// Timeline granularity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// ISO weeks (Monday).
    Week,
    /// Calendar months.
    Month,
}

/// One period of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelinePoint {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Sessions held that started in the period.
    pub sessions_held: i64,
    /// Pairings active at some point of the period.
    pub active_pairings: i64,
    /// Average rating of those sessions (None under k raters).
    pub average_rating: Option<f64>,
}

/// Self-assessed progress on one skill.
#[derive(Clone, Debug, PartialEq)]
pub struct SkillProgress {
    /// The skill.
    pub skill_id: Uuid,
    /// Distinct participants who assessed it (0 when suppressed).
    pub participants: i64,
    /// Average BASELINE level (None under k assessors).
    pub baseline_average: Option<f64>,
    /// Average EXIT level (None under k assessors).
    pub exit_average: Option<f64>,
    /// Whether the skill's figures are hidden.
    pub suppressed: bool,
}

/// Checks the caller and the programme; `from`/`to` are inclusive days.
pub async fn scope<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    programme_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    min_group_size: u32,
) -> AppResult<Scope> {
    access::require(caller, Area::Metrics)?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::bad_input("to", "`to` must not be before `from`"));
    }
    programme::Entity::find_by_id(programme_id)
        .one(db)
        .await?
        .filter(|found| access::sees_programme(caller, found.status))
        .ok_or(AppError::NotFound("programme"))?;
    let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Ok(Scope {
        programme_id,
        start: from.and_then(midnight),
        end: to.and_then(|d| d.succ_opt()).and_then(midnight),
        min_group_size: i64::from(min_group_size),
    })
}

// ---------------------------------------------------------------- helpers --

fn col<T: sea_orm::sea_query::IntoIden + 'static, C: sea_orm::sea_query::IntoIden + 'static>(
    table: T,
    column: C,
) -> Expr {
    Expr::col((table, column))
}

fn count_if(condition: Expr) -> Expr {
    Func::sum(Expr::case(condition, 1).finally(0)).into()
}

fn int(row: &QueryResult, name: &str) -> AppResult<i64> {
    Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn approved_participants(query: &mut SelectStatement, scope: &Scope) {
    query
        .and_where(col(enrolment::Entity, enrolment::Column::ProgrammeId).eq(scope.programme_id))
        .and_where(
            col(enrolment::Entity, enrolment::Column::Status)
                .eq(EnrolmentStatus::Approved.to_value()),
        );
}

/// Restricts a query joined to `mentoring_sessions` to the scope's range.
fn in_range(query: &mut SelectStatement, scope: &Scope) {
    let starts = || {
        col(
            mentoring_session::Entity,
            mentoring_session::Column::StartsAt,
        )
    };
    if let Some(start) = scope.start {
        query.and_where(starts().gte(start));
    }
    if let Some(end) = scope.end {
        query.and_where(starts().lt(end));
    }
}

/// `FROM mentoring_sessions JOIN pairings` of the programme, in range.
fn sessions_of(scope: &Scope) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(mentoring_session::Entity)
        .inner_join(
            pairing::Entity,
            col(pairing::Entity, pairing::Column::Id).equals((
                mentoring_session::Entity,
                mentoring_session::Column::PairingId,
            )),
        )
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
    in_range(&mut query, scope);
    query
}

/// Adds `rating_sum`, `ratings` and `raters` (distinct authors) of the
/// joined `session_feedback`: what a k-anonymous average needs.
fn with_ratings(query: &mut SelectStatement) -> &mut SelectStatement {
    let feedback = |column| col(session_feedback::Entity, column);
    query
        .expr_as(
            Func::sum(feedback(session_feedback::Column::Rating)),
            Alias::new("rating_sum"),
        )
        .expr_as(
            Func::count(feedback(session_feedback::Column::Rating)),
            Alias::new("ratings"),
        )
        .expr_as(
            Func::count_distinct(feedback(session_feedback::Column::AuthorId)),
            Alias::new("raters"),
        )
}

/// The average of a row made by [`with_ratings`], if at least `k` people rated.
fn k_average(row: &QueryResult, k: i64) -> AppResult<Option<f64>> {
    Ok(if int(row, "raters")? >= k {
        ratio(int(row, "rating_sum")?, int(row, "ratings")?)
    } else {
        None
    })
}

async fn one<C: ConnectionTrait>(db: &C, query: &SelectStatement) -> AppResult<QueryResult> {
    db.query_one(query)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an aggregate returned no row")))
}

// ---------------------------------------------------------------- summary --

/// The programme-level figures (six aggregate statements).
#[tracing::instrument(name = "metrics.summary", skip_all)]
pub async fn summary<C: ConnectionTrait>(db: &C, scope: &Scope) -> AppResult<Summary> {
    let k = scope.min_group_size;
    let mut summary = Summary::default();

    let is_mentor =
        || col(enrolment::Entity, enrolment::Column::Role).eq(ParticipantRole::Mentor.to_value());
    let mut people = Query::select();
    people
        .expr_as(count_if(is_mentor()), Alias::new("mentors"))
        .expr_as(count_if(is_mentor().not()), Alias::new("mentees"))
        .expr_as(
            count_if(
                is_mentor().and(
                    col(enrolment::Entity, enrolment::Column::TrainingCompletedAt).is_not_null(),
                ),
            ),
            Alias::new("trained"),
        )
        .expr_as(
            count_if(
                is_mentor().and(
                    col(employee::Entity, employee::Column::Status)
                        .ne(EmployeeStatus::Terminated.to_value()),
                ),
            ),
            Alias::new("retained"),
        )
        .from(enrolment::Entity)
        .inner_join(
            employee::Entity,
            col(employee::Entity, employee::Column::Id)
                .equals((enrolment::Entity, enrolment::Column::EmployeeId)),
        );
    approved_participants(&mut people, scope);
    let row = one(db, &people).await?;
    summary.mentors = int(&row, "mentors")?;
    summary.mentees = int(&row, "mentees")?;
    summary.mentors_trained = int(&row, "trained")?;
    if summary.mentors >= k {
        summary.mentor_retention_rate = ratio(int(&row, "retained")?, summary.mentors);
    }

    let status = || col(pairing::Entity, pairing::Column::Status);
    let mut pairings = Query::select();
    for (state, name) in [
        (PairingStatus::Active, "active"),
        (PairingStatus::Completed, "completed"),
        (PairingStatus::EndedEarly, "ended_early"),
    ] {
        pairings.expr_as(count_if(status().eq(state.to_value())), Alias::new(name));
    }
    pairings
        .from(pairing::Entity)
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
    let row = one(db, &pairings).await?;
    summary.active_pairings = int(&row, "active")?;
    summary.completed_pairings = int(&row, "completed")?;
    summary.ended_early_pairings = int(&row, "ended_early")?;

    let session_status = || col(mentoring_session::Entity, mentoring_session::Column::Status);
    let mut sessions = sessions_of(scope);
    sessions
        .expr_as(
            count_if(session_status().eq(SessionStatus::Held.to_value())),
            Alias::new("held"),
        )
        .expr_as(
            count_if(session_status().eq(SessionStatus::Cancelled.to_value())),
            Alias::new("cancelled"),
        );
    let row = one(db, &sessions).await?;
    summary.sessions_held = int(&row, "held")?;
    summary.sessions_cancelled = int(&row, "cancelled")?;

    feedback_figures(db, scope, &mut summary).await?;
    cross_department(db, scope, &mut summary).await?;
    Ok(summary)
}

async fn feedback_figures<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    summary: &mut Summary,
) -> AppResult<()> {
    let k = scope.min_group_size;
    let author = || col(session_feedback::Entity, session_feedback::Column::AuthorId);
    let recommend = || {
        col(
            session_feedback::Entity,
            session_feedback::Column::Recommend,
        )
    };
    let mut feedback = sessions_of(scope);
    with_ratings(&mut feedback)
        .inner_join(
            session_feedback::Entity,
            col(
                session_feedback::Entity,
                session_feedback::Column::SessionId,
            )
            .equals((mentoring_session::Entity, mentoring_session::Column::Id)),
        )
        .expr_as(
            Func::count_distinct(
                Expr::case(recommend().is_not_null(), author()).finally(Expr::null()),
            ),
            Alias::new("recommenders"),
        )
        .expr_as(Func::count(recommend()), Alias::new("answers"))
        .expr_as(count_if(recommend().gte(9)), Alias::new("promoters"))
        .expr_as(count_if(recommend().lte(6)), Alias::new("detractors"));
    let row = one(db, &feedback).await?;
    summary.average_rating = k_average(&row, k)?;
    if int(&row, "recommenders")? >= k {
        let net = int(&row, "promoters")? - int(&row, "detractors")?;
        summary.nps = ratio(net * 100, int(&row, "answers")?);
    }
    Ok(())
}

/// Pairings that started (not PROPOSED or DECLINED) of the programme.
fn started_pairings(query: &mut SelectStatement, scope: &Scope) {
    query
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id))
        .and_where(col(pairing::Entity, pairing::Column::Status).is_in([
            PairingStatus::Active.to_value(),
            PairingStatus::Paused.to_value(),
            PairingStatus::Completed.to_value(),
            PairingStatus::EndedEarly.to_value(),
        ]));
}

async fn cross_department<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    summary: &mut Summary,
) -> AppResult<()> {
    let (mentor, mentee) = (Alias::new("mentor"), Alias::new("mentee"));
    let differs = col(mentee.clone(), employee::Column::DepartmentId)
        .ne(col(mentor.clone(), employee::Column::DepartmentId));
    let mut per_pairing = Query::select();
    per_pairing
        .column((pairing::Entity, pairing::Column::Id))
        .expr_as(
            Func::max(Expr::case(differs, 1).finally(0)),
            Alias::new("crosses"),
        )
        .from(pairing::Entity)
        .join_as(
            JoinType::InnerJoin,
            employee::Entity,
            mentor.clone(),
            col(mentor.clone(), employee::Column::Id)
                .equals((pairing::Entity, pairing::Column::MentorId)),
        )
        .inner_join(
            pairing_mentee::Entity,
            col(pairing_mentee::Entity, pairing_mentee::Column::PairingId)
                .equals((pairing::Entity, pairing::Column::Id)),
        )
        .join_as(
            JoinType::InnerJoin,
            employee::Entity,
            mentee.clone(),
            col(mentee, employee::Column::Id)
                .equals((pairing_mentee::Entity, pairing_mentee::Column::MenteeId)),
        )
        .group_by_col((pairing::Entity, pairing::Column::Id));
    started_pairings(&mut per_pairing, scope);
    let pairings = Alias::new("per_pairing");
    let mut shares = Query::select();
    shares
        .expr_as(
            Func::count(Expr::col((pairings.clone(), pairing::Column::Id))),
            Alias::new("pairings"),
        )
        .expr_as(
            Func::sum(Expr::col((pairings.clone(), Alias::new("crosses")))),
            Alias::new("crossing"),
        )
        .from_subquery(per_pairing, pairings);
    let row = one(db, &shares).await?;

    let mut mentors = Query::select();
    mentors
        .expr_as(
            col(pairing::Entity, pairing::Column::MentorId),
            Alias::new("person"),
        )
        .from(pairing::Entity);
    started_pairings(&mut mentors, scope);
    let mut mentees = Query::select();
    mentees
        .expr_as(
            col(pairing_mentee::Entity, pairing_mentee::Column::MenteeId),
            Alias::new("person"),
        )
        .from(pairing_mentee::Entity)
        .inner_join(
            pairing::Entity,
            col(pairing::Entity, pairing::Column::Id)
                .equals((pairing_mentee::Entity, pairing_mentee::Column::PairingId)),
        );
    started_pairings(&mut mentees, scope);
    mentors.union(UnionType::Distinct, mentees);
    let mut people = Query::select();
    people
        .expr_as(
            Func::count(Expr::col(Alias::new("person"))),
            Alias::new("people"),
        )
        .from_subquery(mentors, Alias::new("involved"));
    let involved = int(&one(db, &people).await?, "people")?;
    if involved >= scope.min_group_size {
        summary.cross_department_share = ratio(int(&row, "crossing")?, int(&row, "pairings")?);
    }
    Ok(())
}

// -------------------------------------------------------------- breakdown --

/// The group key of each participant for `dimension`. Statements group by
/// its output name (`group_key`): PostgreSQL would see the same expression
/// with its own bound parameters in GROUP BY as a different one.
fn group_key(dimension: Dimension) -> Expr {
    let unknown = || Expr::val("UNKNOWN");
    match dimension {
        Dimension::Department => {
            Func::coalesce([col(department::Entity, department::Column::Name), unknown()]).into()
        }
        Dimension::Generation => col(employee::Entity, employee::Column::Generation),
        Dimension::Role => col(enrolment::Entity, enrolment::Column::Role),
        Dimension::Seniority => Func::coalesce([
            Func::cast_as(
                col(employee::Entity, employee::Column::SeniorityLevel),
                Alias::new("TEXT"),
            )
            .into(),
            unknown(),
        ])
        .into(),
    }
}

/// `FROM enrolments JOIN employees LEFT JOIN departments` of the approved participants.
fn participants(scope: &Scope) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(enrolment::Entity)
        .inner_join(
            employee::Entity,
            col(employee::Entity, employee::Column::Id)
                .equals((enrolment::Entity, enrolment::Column::EmployeeId)),
        )
        .left_join(
            department::Entity,
            col(department::Entity, department::Column::Id)
                .equals((employee::Entity, employee::Column::DepartmentId)),
        );
    approved_participants(&mut query, scope);
    query
}

/// Pairings of the programme, one row per (person, pairing) they take part in.
fn person_pairings(scope: &Scope) -> SelectStatement {
    let mut mentors = Query::select();
    mentors
        .expr_as(
            col(pairing::Entity, pairing::Column::MentorId),
            Alias::new("person"),
        )
        .expr_as(
            col(pairing::Entity, pairing::Column::Id),
            Alias::new("pairing_id"),
        )
        .from(pairing::Entity)
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
    let mut mentees = Query::select();
    mentees
        .expr_as(
            col(pairing_mentee::Entity, pairing_mentee::Column::MenteeId),
            Alias::new("person"),
        )
        .expr_as(
            col(pairing_mentee::Entity, pairing_mentee::Column::PairingId),
            Alias::new("pairing_id"),
        )
        .from(pairing_mentee::Entity)
        .inner_join(
            pairing::Entity,
            col(pairing::Entity, pairing::Column::Id)
                .equals((pairing_mentee::Entity, pairing_mentee::Column::PairingId)),
        )
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
    mentors.union(UnionType::All, mentees);
    mentors
}

/// Participants, sessions held and ratings per group, then k-anonymity.
#[tracing::instrument(name = "metrics.breakdown", skip_all, fields(dimension = ?dimension))]
pub async fn breakdown<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    dimension: Dimension,
) -> AppResult<Vec<Group>> {
    let key = Alias::new("group_key");
    let person = || col(enrolment::Entity, enrolment::Column::EmployeeId);

    let mut sizes = participants(scope);
    sizes
        .expr_as(group_key(dimension), key.clone())
        .expr_as(Func::count_distinct(person()), Alias::new("people"))
        .add_group_by([Expr::col(key.clone())]);

    let involvement = Alias::new("involvement");
    let mut held = participants(scope);
    held.expr_as(group_key(dimension), key.clone())
        .expr_as(
            Func::count_distinct(col(
                mentoring_session::Entity,
                mentoring_session::Column::Id,
            )),
            Alias::new("held"),
        )
        .join_subquery(
            JoinType::InnerJoin,
            person_pairings(scope),
            involvement.clone(),
            Expr::col((involvement.clone(), Alias::new("person")))
                .equals((enrolment::Entity, enrolment::Column::EmployeeId)),
        )
        .inner_join(
            mentoring_session::Entity,
            col(
                mentoring_session::Entity,
                mentoring_session::Column::PairingId,
            )
            .equals((involvement, Alias::new("pairing_id"))),
        )
        .and_where(
            col(mentoring_session::Entity, mentoring_session::Column::Status)
                .eq(SessionStatus::Held.to_value()),
        )
        .add_group_by([Expr::col(key.clone())]);
    in_range(&mut held, scope);

    let mut rated = participants(scope);
    with_ratings(&mut rated)
        .expr_as(group_key(dimension), key.clone())
        .inner_join(
            session_feedback::Entity,
            col(session_feedback::Entity, session_feedback::Column::AuthorId)
                .equals((enrolment::Entity, enrolment::Column::EmployeeId)),
        )
        .inner_join(
            mentoring_session::Entity,
            col(mentoring_session::Entity, mentoring_session::Column::Id).equals((
                session_feedback::Entity,
                session_feedback::Column::SessionId,
            )),
        )
        .inner_join(
            pairing::Entity,
            col(pairing::Entity, pairing::Column::Id).equals((
                mentoring_session::Entity,
                mentoring_session::Column::PairingId,
            )),
        )
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id))
        .add_group_by([Expr::col(key.clone())]);
    in_range(&mut rated, scope);

    let mut held_by: HashMap<String, i64> = HashMap::new();
    for row in db.query_all(&held).await? {
        held_by.insert(row.try_get("", "group_key")?, int(&row, "held")?);
    }
    let mut rated_by: HashMap<String, (i64, i64, i64)> = HashMap::new();
    for row in db.query_all(&rated).await? {
        let figures = (
            int(&row, "rating_sum")?,
            int(&row, "ratings")?,
            int(&row, "raters")?,
        );
        rated_by.insert(row.try_get("", "group_key")?, figures);
    }
    let mut groups = Vec::new();
    for row in db.query_all(&sizes).await? {
        let key: String = row.try_get("", "group_key")?;
        let (sum, count, raters) = rated_by.get(&key).copied().unwrap_or_default();
        groups.push(Group {
            participants: int(&row, "people")?,
            sessions_held: Some(held_by.get(&key).copied().unwrap_or(0)),
            average_rating: (raters >= scope.min_group_size)
                .then(|| ratio(sum, count))
                .flatten(),
            suppressed: false,
            key,
        });
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(suppress(groups, scope.min_group_size))
}

/// k-anonymity over a partition: groups under `k` are hidden, and when that
/// hides exactly one group, the smallest other group is hidden with it.
pub fn suppress(mut groups: Vec<Group>, k: i64) -> Vec<Group> {
    for group in &mut groups {
        group.suppressed = group.participants < k;
    }
    let hidden = groups.iter().filter(|g| g.suppressed).count();
    if hidden == 1
        && let Some(smallest) = groups
            .iter_mut()
            .filter(|g| !g.suppressed)
            .min_by_key(|g| (g.participants, g.key.clone()))
    {
        smallest.suppressed = true;
    }
    for group in groups.iter_mut().filter(|g| g.suppressed) {
        group.participants = 0;
        group.sessions_held = None;
        group.average_rating = None;
    }
    groups
}

// --------------------------------------------------------------- timeline --

/// The periods from `first` to `last` (inclusive), at most [`MAX_PERIODS`].
pub fn periods(first: NaiveDate, last: NaiveDate, period: Period) -> Vec<(NaiveDate, NaiveDate)> {
    let mut start = match period {
        Period::Week => first - Duration::days(first.weekday().num_days_from_monday().into()),
        Period::Month => first.with_day(1).unwrap_or(first),
    };
    let mut all = Vec::new();
    while start <= last && all.len() < MAX_PERIODS {
        let next = match period {
            Period::Week => start + Duration::weeks(1),
            Period::Month => start
                .checked_add_months(Months::new(1))
                .unwrap_or(start + Duration::days(31)),
        };
        all.push((start, next));
        start = next;
    }
    all
}

/// Sessions held, active pairings and ratings per period, newest last.
#[tracing::instrument(name = "metrics.timeline", skip_all, fields(period = ?period))]
pub async fn timeline<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    period: Period,
) -> AppResult<Vec<TimelinePoint>> {
    let Some((first, last)) = timeline_bounds(db, scope).await? else {
        return Ok(Vec::new());
    };
    let spans = periods(first, last, period);
    if spans.is_empty() {
        return Ok(Vec::new());
    }
    let at = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let starts = || {
        col(
            mentoring_session::Entity,
            mentoring_session::Column::StartsAt,
        )
    };
    let mut bucket = Expr::case(starts().lt(at(spans[0].1)), 0i64);
    for (i, (_, end)) in spans.iter().enumerate().skip(1) {
        bucket = bucket.case(starts().lt(at(*end)), i as i64);
    }
    let bucket: Expr = bucket.finally(-1i64).into();

    let mut sessions = sessions_of(scope);
    sessions
        .expr_as(bucket.clone(), Alias::new("bucket"))
        .expr_as(Func::count(Expr::val(1)), Alias::new("held"))
        .and_where(
            col(mentoring_session::Entity, mentoring_session::Column::Status)
                .eq(SessionStatus::Held.to_value()),
        )
        .and_where(starts().gte(at(spans[0].0)))
        .add_group_by([Expr::col(Alias::new("bucket"))]);
    let mut feedback = sessions_of(scope);
    with_ratings(&mut feedback)
        .expr_as(bucket.clone(), Alias::new("bucket"))
        .inner_join(
            session_feedback::Entity,
            col(
                session_feedback::Entity,
                session_feedback::Column::SessionId,
            )
            .equals((mentoring_session::Entity, mentoring_session::Column::Id)),
        )
        .and_where(starts().gte(at(spans[0].0)))
        .add_group_by([Expr::col(Alias::new("bucket"))]);

    let began = || {
        Func::coalesce([
            col(pairing::Entity, pairing::Column::DecidedAt),
            col(pairing::Entity, pairing::Column::CreatedAt),
        ])
    };
    let ended = || col(pairing::Entity, pairing::Column::EndedAt);
    let mut active = Query::select();
    for (i, (start, end)) in spans.iter().enumerate() {
        let overlaps = Expr::expr(began())
            .lt(at(*end))
            .and(ended().is_null().or(ended().gte(at(*start))));
        active.expr_as(count_if(overlaps), Alias::new(format!("p{i}")));
    }
    active.from(pairing::Entity);
    started_pairings(&mut active, scope);

    let mut points: Vec<TimelinePoint> = spans
        .iter()
        .map(|(start, _)| TimelinePoint {
            period_start: *start,
            sessions_held: 0,
            active_pairings: 0,
            average_rating: None,
        })
        .collect();
    for row in db.query_all(&sessions).await? {
        if let Some(point) = usize::try_from(int(&row, "bucket")?)
            .ok()
            .and_then(|i| points.get_mut(i))
        {
            point.sessions_held = int(&row, "held")?;
        }
    }
    for row in db.query_all(&feedback).await? {
        if let Some(point) = usize::try_from(int(&row, "bucket")?)
            .ok()
            .and_then(|i| points.get_mut(i))
        {
            point.average_rating = k_average(&row, scope.min_group_size)?;
        }
    }
    let row = one(db, &active).await?;
    for (i, point) in points.iter_mut().enumerate() {
        point.active_pairings = int(&row, &format!("p{i}"))?;
    }
    Ok(points)
}

/// The first and last day the timeline covers: the range when given, else
/// from the programme's start (or its first session) to its end or today,
/// whichever comes first.
async fn timeline_bounds<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> AppResult<Option<(NaiveDate, NaiveDate)>> {
    let found = programme::Entity::find_by_id(scope.programme_id)
        .one(db)
        .await?;
    let today = Utc::now().date_naive();
    let mut span = sessions_of(&Scope {
        start: None,
        end: None,
        ..*scope
    });
    span.expr_as(
        Func::min(col(
            mentoring_session::Entity,
            mentoring_session::Column::StartsAt,
        )),
        Alias::new("first"),
    );
    let row = one(db, &span).await?;
    let first_session: Option<DateTime<Utc>> = row.try_get("", "first")?;
    let first = scope
        .start
        .map(|s| s.date_naive())
        .or(found.as_ref().and_then(|p| p.starts_on))
        .or(first_session.map(|s| s.date_naive()));
    let planned_end = found.as_ref().and_then(|p| p.ends_on).unwrap_or(today);
    let last = scope
        .end
        .map(|e| e.date_naive() - Duration::days(1))
        .or(Some(Ord::min(planned_end, today)));
    Ok(first.zip(last).filter(|(f, l)| f <= l))
}

// ---------------------------------------------------------- skill progress --

/// BASELINE and EXIT averages per skill assessed in the programme.
#[tracing::instrument(name = "metrics.skill_progress", skip_all)]
pub async fn skill_progress<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> AppResult<Vec<SkillProgress>> {
    let phase = || col(skill_assessment::Entity, skill_assessment::Column::Phase);
    let level = || col(skill_assessment::Entity, skill_assessment::Column::Level);
    let person = || {
        col(
            skill_assessment::Entity,
            skill_assessment::Column::EmployeeId,
        )
    };
    let mut query = Query::select();
    query
        .column((skill_assessment::Entity, skill_assessment::Column::SkillId))
        .expr_as(Func::count_distinct(person()), Alias::new("people"));
    for (value, name) in [
        (AssessmentPhase::Baseline, "baseline"),
        (AssessmentPhase::Exit, "exit"),
    ] {
        let in_phase = || phase().eq(value.to_value());
        query
            .expr_as(
                Func::sum(Expr::case(in_phase(), level()).finally(0)),
                Alias::new(format!("{name}_sum")),
            )
            .expr_as(count_if(in_phase()), Alias::new(format!("{name}_count")))
            .expr_as(
                Func::count_distinct(Expr::case(in_phase(), person()).finally(Expr::null())),
                Alias::new(format!("{name}_people")),
            );
    }
    query
        .from(skill_assessment::Entity)
        .and_where(
            col(
                skill_assessment::Entity,
                skill_assessment::Column::ProgrammeId,
            )
            .eq(scope.programme_id),
        )
        .group_by_col((skill_assessment::Entity, skill_assessment::Column::SkillId));
    let k = scope.min_group_size;
    let mut progress = Vec::new();
    for row in db.query_all(&query).await? {
        let people = int(&row, "people")?;
        let average = |name: &str| -> AppResult<Option<f64>> {
            Ok((int(&row, &format!("{name}_people"))? >= k)
                .then(|| {
                    ratio(
                        int(&row, &format!("{name}_sum")).unwrap_or(0),
                        int(&row, &format!("{name}_count")).unwrap_or(0),
                    )
                })
                .flatten())
        };
        let suppressed = people < k;
        progress.push(SkillProgress {
            skill_id: row.try_get("", "skill_id")?,
            participants: if suppressed { 0 } else { people },
            baseline_average: if suppressed {
                None
            } else {
                average("baseline")?
            },
            exit_average: if suppressed { None } else { average("exit")? },
            suppressed,
        });
    }
    progress.sort_by_key(|p| p.skill_id);
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(key: &str, participants: i64) -> Group {
        Group {
            key: key.to_owned(),
            participants,
            sessions_held: Some(10),
            average_rating: Some(4.0),
            suppressed: false,
        }
    }

    fn hidden(groups: &[Group]) -> Vec<&str> {
        groups
            .iter()
            .filter(|g| g.suppressed)
            .map(|g| g.key.as_str())
            .collect()
    }

    #[test]
    fn a_lone_small_group_takes_the_next_smallest_down_with_it() {
        let groups = suppress(vec![group("a", 4), group("b", 9), group("c", 6)], 5);
        assert_eq!(hidden(&groups), vec!["a", "c"]);
        assert!(groups[0].average_rating.is_none() && groups[0].participants == 0);
        assert_eq!(groups[1].participants, 9);
    }

    #[test]
    fn two_small_groups_already_hide_each_other() {
        let groups = suppress(vec![group("a", 4), group("b", 3), group("c", 6)], 5);
        assert_eq!(hidden(&groups), vec!["a", "b"]);
    }

    #[test]
    fn a_group_of_exactly_k_is_shown() {
        let groups = suppress(vec![group("a", 5), group("b", 5)], 5);
        assert!(hidden(&groups).is_empty());
        let groups = suppress(vec![group("a", 4)], 5);
        assert_eq!(hidden(&groups), vec!["a"], "a single group is hidden alone");
    }

    #[test]
    fn periods_start_on_mondays_and_first_days_of_months() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let weeks = periods(day("2026-10-07"), day("2026-10-19"), Period::Week);
        let starts: Vec<NaiveDate> = weeks.iter().map(|w| w.0).collect();
        assert_eq!(
            starts,
            vec![day("2026-10-05"), day("2026-10-12"), day("2026-10-19")]
        );
        let months = periods(day("2026-01-31"), day("2026-03-01"), Period::Month);
        let starts: Vec<NaiveDate> = months.iter().map(|m| m.0).collect();
        assert_eq!(
            starts,
            vec![day("2026-01-01"), day("2026-02-01"), day("2026-03-01")]
        );
        assert_eq!(months[0].1, day("2026-02-01"));
        assert_eq!(
            periods(day("2000-01-03"), day("2030-01-01"), Period::Week).len(),
            MAX_PERIODS
        );
    }
}
