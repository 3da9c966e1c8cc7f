//! Programme metrics for analysts and admins, aggregated in SQL (sea-query,
//! so the same statements run on SQLite and PostgreSQL) and k-anonymous.
//!
//! Privacy by construction: differencing (two windows, two aliases, two
//! calls on different days) must not isolate anyone, so every windowed
//! figure is a function of *published cells* only.
//!
//! - A window is whole ISO weeks: `from` a Monday, `to` a Sunday (inclusive).
//! - The atomic cell is one *closed* ISO week (Monday 00:00 UTC to the next
//!   Monday) that ended before the current week began; the current week would
//!   change from one call to the next. All-time means the newest
//!   [`MAX_PERIODS`] closed weeks. A session belongs to the week it starts
//!   in, a rating or recommendation to the week it was submitted in, an
//!   assessment to the week it was made in: fixed instants, so a closed cell
//!   does not grow when late feedback arrives.
//! - A cell is published only when it describes at least `min_group_size`
//!   (k) distinct people: the participants (mentor and mentees) of its
//!   sessions, its raters, its recommenders, the group members it involves,
//!   its assessors. An unpublished cell contributes nothing anywhere.
//! - sessionsHeld, sessionsCancelled, sessionsNoShow, averageRating, nps, timeline points and
//!   breakdown groups' sessionsHeld / averageRating are sums of published
//!   cells inside the window; a MONTH point sums the weeks whose Monday falls
//!   in that month (months are made of whole weeks).
//! - Within one week the cells of a breakdown's groups get complementary
//!   suppression (one hidden cell hides the next smallest too), since the
//!   week's total is published beside them. Across weeks none is needed: no
//!   total that includes an unpublished cell is ever answered, so no
//!   combination of windows, aliases or periods can subtract its way to one.
//!
//! Counts not tied to a window (mentors, mentees, mentorsTrained, pairings
//! by state) read 0 when they describe fewer than k people and are named in
//! [`Summary::suppressed`]; a breakdown group smaller than k is `suppressed`
//! (participants 0), and when exactly one group would be, the next smallest
//! is too. Nothing here returns a row about one person.
//!
//! Definitions: participants are the APPROVED enrolments (mentors and
//! mentees); pairings and enrolments are counted as they stand; a mentor is
//! retained while not TERMINATED (ACTIVE or ON_LEAVE).

use std::collections::HashMap;

use chrono::{DateTime, Datelike as _, Days, Months, NaiveDate, NaiveTime, Utc, Weekday};
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
use sea_orm::{ActiveEnum as _, ConnectionTrait, DatabaseConnection, EntityTrait, QueryResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::cache::{Kept, MetricsCache};
use crate::domain::access::{self, Area};
use crate::error::{AppError, AppResult};

/// Most weeks (cells) and timeline points one query covers: bounds the
/// bucketing expression every statement carries.
pub const MAX_PERIODS: usize = 260;

/// What the metrics cover: one programme, a window of whole ISO weeks.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// The programme.
    pub programme_id: Uuid,
    /// First day of the window, a Monday (None: from the start).
    pub from: Option<NaiveDate>,
    /// Last day of the window, a Sunday (None: to date).
    pub to: Option<NaiveDate>,
    /// Today, fixed once per request so every figure sees the same closed weeks.
    pub today: NaiveDate,
    /// The k of k-anonymity.
    pub min_group_size: i64,
}

impl Scope {
    /// The closed weeks the window covers (their Mondays, oldest first).
    pub fn weeks(&self) -> Vec<NaiveDate> {
        closed_weeks(self.from, self.to, self.today)
    }

    /// What `part`'s figures are kept under: everything they depend on
    /// besides the data (today's date decides which weeks are closed).
    fn cache_key(&self, part: &str) -> String {
        let day = |d: Option<NaiveDate>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
        format!(
            "{}:{}:{}:{}:{}:{part}",
            self.programme_id,
            day(self.from),
            day(self.to),
            self.today,
            self.min_group_size
        )
    }
}

/// Where metrics come from: the pool they read (`DATABASE_READ_URL` when
/// set, else the primary) and the cache that keeps their figures.
#[derive(Clone)]
pub struct MetricsSource {
    /// The pool the aggregates run on.
    pub db: DatabaseConnection,
    /// Figures kept for at most `METRICS_CACHE_SECS`.
    pub cache: MetricsCache,
}

impl MetricsSource {
    /// The figures of `scope`, read through the cache.
    pub fn figures(&self, scope: Scope) -> Figures<'_, DatabaseConnection> {
        Figures {
            db: &self.db,
            cache: &self.cache,
            scope,
        }
    }
}

/// One request's figures: computed from `db`, or taken from `cache` while
/// they are fresh (at most [`MetricsCache::bound`] old). Every caller of the
/// metrics (GraphQL, the CSV export) goes through it, so they agree.
pub struct Figures<'a, C> {
    /// Where the figures are computed from.
    pub db: &'a C,
    /// Where they are kept.
    pub cache: &'a MetricsCache,
    /// What they cover, checked by [`scope`].
    pub scope: Scope,
}

impl<C: ConnectionTrait> Figures<'_, C> {
    /// The programme-level figures, with the window's published weeks.
    pub async fn summary(&self) -> AppResult<Kept<Summary>> {
        self.kept("summary", None, summary(self.db, &self.scope))
            .await
    }

    /// Participants, sessions and ratings per group of `dimension`.
    pub async fn breakdown(&self, dimension: Dimension) -> AppResult<Vec<Group>> {
        let part = match dimension {
            Dimension::Department => "breakdown:department",
            Dimension::Generation => "breakdown:generation",
            Dimension::Role => "breakdown:role",
            Dimension::Seniority => "breakdown:seniority",
        };
        let groups = breakdown(self.db, &self.scope, dimension);
        Ok(self.kept(part, None, groups).await?.value)
    }

    /// The timeline by `period`, from the published weeks of `summary`: it
    /// is as fresh as they are, so it is kept no longer than they may be.
    pub async fn timeline(
        &self,
        summary: &Kept<Summary>,
        period: Period,
    ) -> AppResult<Vec<TimelinePoint>> {
        let part = match period {
            Period::Week => "timeline:week",
            Period::Month => "timeline:month",
        };
        let points = timeline(self.db, &self.scope, &summary.value.weeks, period);
        Ok(self.kept(part, Some(summary.started), points).await?.value)
    }

    /// Self-assessed progress per skill.
    pub async fn skill_progress(&self) -> AppResult<Vec<SkillProgress>> {
        let progress = skill_progress(self.db, &self.scope);
        Ok(self.kept("skills", None, progress).await?.value)
    }

    async fn kept<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        part: &str,
        derived_from: Option<DateTime<Utc>>,
        compute: impl Future<Output = AppResult<T>>,
    ) -> AppResult<Kept<T>> {
        let key = self.scope.cache_key(part);
        self.cache
            .get_or_compute(&key, Utc::now, derived_from, compute)
            .await
    }
}

/// The programme-level figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Approved mentors (0 under k).
    pub mentors: i64,
    /// Approved mentees (0 under k).
    pub mentees: i64,
    /// Approved mentors whose training is recorded (0 when they or the untrained are under k).
    pub mentors_trained: i64,
    /// ACTIVE pairings (0 when they involve fewer than k people).
    pub active_pairings: i64,
    /// COMPLETED pairings (0 when they involve fewer than k people).
    pub completed_pairings: i64,
    /// ENDED_EARLY pairings (0 when they involve fewer than k people).
    pub ended_early_pairings: i64,
    /// Sessions held in the window's published weeks.
    pub sessions_held: i64,
    /// Sessions cancelled in the window's published weeks.
    pub sessions_cancelled: i64,
    /// Sessions marked NO_SHOW in the window's published weeks (never held).
    pub sessions_no_show: i64,
    /// Share of started pairings whose mentor and a mentee sit in different departments.
    #[serde(with = "exact")]
    pub cross_department_share: Option<f64>,
    /// Average session rating (1–5) over the published weeks.
    #[serde(with = "exact")]
    pub average_rating: Option<f64>,
    /// Net promoter score, −100..100, over the published weeks.
    #[serde(with = "exact")]
    pub nps: Option<f64>,
    /// Share of approved mentors still employed (None when those who stayed or
    /// those who left are fewer than k).
    #[serde(with = "exact")]
    pub mentor_retention_rate: Option<f64>,
    /// GraphQL names of the counts above that read 0 because they are suppressed:
    /// the contract keeps them non-null, so the caller needs to tell 0 from hidden.
    pub suppressed: Vec<String>,
    /// The window's closed weeks as published, which the timeline reuses.
    pub weeks: Vec<Week>,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's value of the dimension (`UNKNOWN` when unset).
    pub key: String,
    /// Distinct participants (0 when suppressed).
    pub participants: i64,
    /// Sessions held by the group's members, over its published weekly cells.
    pub sessions_held: Option<i64>,
    /// Average rating the group's members gave, over its published weekly cells.
    #[serde(with = "exact")]
    pub average_rating: Option<f64>,
    /// Whether the group's figures are hidden.
    pub suppressed: bool,
}

/// Timeline granularity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// ISO weeks (Monday).
    Week,
    /// Calendar months, made of the weeks whose Monday falls in them.
    Month,
}

/// One period of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// First day of the period.
    pub period_start: NaiveDate,
    /// Sessions held in the period's published weeks.
    pub sessions_held: i64,
    /// Pairings active at some point of the period (0 when they involve fewer than k people).
    pub active_pairings: i64,
    /// Average rating over the period's published weeks.
    #[serde(with = "exact")]
    pub average_rating: Option<f64>,
}

/// Self-assessed progress on one skill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkillProgress {
    /// The skill.
    pub skill_id: Uuid,
    /// Distinct participants who assessed it (0 when suppressed).
    pub participants: i64,
    /// Average BASELINE level over weeks with at least k assessors.
    #[serde(with = "exact")]
    pub baseline_average: Option<f64>,
    /// Average EXIT level over weeks with at least k assessors.
    #[serde(with = "exact")]
    pub exit_average: Option<f64>,
    /// Whether the skill's figures are hidden.
    pub suppressed: bool,
}

/// Checks the caller, the window and the programme.
pub async fn scope<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    programme_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    min_group_size: u32,
) -> AppResult<Scope> {
    access::require(caller, Area::Metrics)?;
    check_window(from, to)?;
    programme::Entity::find_by_id(programme_id)
        .one(db)
        .await?
        .filter(|found| access::sees_programme(caller, found.status))
        .ok_or(AppError::NotFound("programme"))?;
    Ok(Scope {
        programme_id,
        from,
        to,
        today: Utc::now().date_naive(),
        min_group_size: i64::from(min_group_size),
    })
}

/// Shares and averages kept as their bits: a kept figure must be the
/// computed one to the last digit, which decimal JSON does not promise.
mod exact {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<f64>, to: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => to.serialize_some(&v.to_bits()),
            None => to.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<u64>::deserialize(from)?.map(f64::from_bits))
    }
}

// ------------------------------------------------------ weeks and cells --

/// The Monday of `day`'s ISO week: the cell it falls in.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(day.weekday().num_days_from_monday().into()))
        .unwrap_or(day)
}

/// The Monday after `monday`: where its week ends (exclusive).
fn week_end(monday: NaiveDate) -> NaiveDate {
    monday
        .checked_add_days(Days::new(7))
        .unwrap_or(NaiveDate::MAX)
}

/// A window must be whole ISO weeks, so that it is a union of cells and two
/// windows never differ by less than one (checked) week.
pub fn check_window(from: Option<NaiveDate>, to: Option<NaiveDate>) -> AppResult<()> {
    if let Some(from) = from
        && from.weekday() != Weekday::Mon
    {
        return Err(AppError::bad_input(
            "from",
            "`from` must be a Monday: metrics windows are whole ISO weeks",
        ));
    }
    if let Some(to) = to
        && to.weekday() != Weekday::Sun
    {
        return Err(AppError::bad_input(
            "to",
            "`to` must be a Sunday: metrics windows are whole ISO weeks",
        ));
    }
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(AppError::bad_input("to", "`to` must not be before `from`"));
    }
    Ok(())
}

/// The closed weeks inside a window, as Mondays, oldest first: only weeks
/// that ended before today's week began, at most the newest [`MAX_PERIODS`].
pub fn closed_weeks(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<NaiveDate> {
    let current = monday_of(today);
    let end = to
        .and_then(|to| to.succ_opt())
        .map_or(current, |after| Ord::min(monday_of(after), current));
    let mut weeks = Vec::new();
    let mut monday = end.checked_sub_days(Days::new(7));
    while let Some(week) = monday
        && weeks.len() < MAX_PERIODS
        && from.is_none_or(|from| week >= from)
    {
        weeks.push(week);
        monday = week.checked_sub_days(Days::new(7));
    }
    weeks.reverse();
    weeks
}

/// A sum and a count: what an average over published cells needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Sum of the values.
    pub sum: i64,
    /// How many values.
    pub count: i64,
}

impl Tally {
    fn plus(self, other: Self) -> Self {
        Self {
            sum: self.sum.saturating_add(other.sum),
            count: self.count.saturating_add(other.count),
        }
    }
}

/// Whether a cell describing `people` distinct people may be published.
pub fn publishable(people: i64, k: i64) -> bool {
    people >= k
}

/// A count describing `people` people: itself from k on, else 0 with its
/// name recorded in `hidden` (the contract's counts are non-null).
pub fn k_count(
    count: i64,
    people: i64,
    k: i64,
    name: &'static str,
    hidden: &mut Vec<&'static str>,
) -> i64 {
    if publishable(people, k) {
        count
    } else {
        hidden.push(name);
        0
    }
}

/// The people a figure about `part` of `whole` people describes: both the
/// part and the rest (whole − part) are given away by it, so the smaller of
/// the two, or the whole when either side is empty.
pub fn split_people(part: i64, whole: i64) -> i64 {
    let rest = whole.saturating_sub(part);
    if part == 0 || rest == 0 {
        whole
    } else {
        Ord::min(part, rest)
    }
}

/// The average of the published tallies (None when none is, or all are empty).
pub fn average(tallies: impl IntoIterator<Item = Option<Tally>>) -> Option<f64> {
    let total = tallies
        .into_iter()
        .flatten()
        .fold(Tally::default(), Tally::plus);
    ratio(total.sum, total.count)
}

/// The sum of published counts.
pub fn total(counts: impl IntoIterator<Item = i64>) -> i64 {
    counts.into_iter().fold(0, i64::saturating_add)
}

/// Which of one week's group cells (by their distinct people) are published:
/// those of at least k people; when that hides exactly one, the smallest
/// published one (first on ties) is hidden too, since the week's total is
/// published and minus the others would give the hidden one away.
pub fn published_cells(people: &[i64], k: i64) -> Vec<bool> {
    let mut shown: Vec<bool> = people.iter().map(|p| publishable(*p, k)).collect();
    complete_suppression(people, &mut shown, k);
    shown
}

/// Complementary suppression of one partition whose total is published:
/// while the hidden cells that describe someone describe fewer than `k`
/// people together, the smallest shown cell is hidden too — otherwise the
/// total minus the shown cells would describe them (one hidden cell of 1,
/// or two of 1 each with k = 5). Cells of nobody hide nobody.
pub fn complete_suppression(people: &[i64], shown: &mut [bool], k: i64) {
    loop {
        let hidden: i64 = people
            .iter()
            .zip(shown.iter())
            .filter(|(p, shown)| !**shown && **p > 0)
            .map(|(p, _)| *p)
            .sum();
        if hidden == 0 || hidden >= k {
            return;
        }
        let smallest = people
            .iter()
            .enumerate()
            .filter(|(i, p)| shown.get(*i).copied().unwrap_or(false) && **p > 0)
            .min_by_key(|(_, p)| **p)
            .map(|(i, _)| i);
        match smallest.and_then(|i| shown.get_mut(i)) {
            Some(slot) => *slot = false,
            None => return,
        }
    }
}

/// One closed week before publication: each figure with the distinct people it describes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawWeek {
    /// Sessions held.
    pub held: i64,
    /// Distinct participants of the sessions held.
    pub held_people: i64,
    /// Sessions cancelled.
    pub cancelled: i64,
    /// Distinct participants of the sessions cancelled.
    pub cancelled_people: i64,
    /// Sessions marked NO_SHOW.
    pub no_show: i64,
    /// Distinct participants of the sessions marked NO_SHOW.
    pub no_show_people: i64,
    /// Ratings submitted.
    pub ratings: Tally,
    /// Distinct raters.
    pub raters: i64,
    /// Promoters minus detractors (sum) over recommendations (count).
    pub net_promoters: Tally,
    /// Distinct recommenders.
    pub recommenders: i64,
}

/// One closed week as published: what describes fewer than k people is 0 / None.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Week {
    /// The week's Monday.
    pub monday: NaiveDate,
    /// Sessions held (0 when unpublished).
    pub held: i64,
    /// Sessions cancelled (0 when unpublished).
    pub cancelled: i64,
    /// Sessions marked NO_SHOW (0 when unpublished).
    pub no_show: i64,
    /// Ratings, when at least k people rated.
    pub ratings: Option<Tally>,
    /// Net promoters, when at least k people recommended.
    pub net_promoters: Option<Tally>,
}

/// Publishes one week's cells: each stands or falls on its own people.
pub fn publish_week(monday: NaiveDate, raw: &RawWeek, k: i64) -> Week {
    Week {
        monday,
        held: if publishable(raw.held_people, k) {
            raw.held
        } else {
            0
        },
        cancelled: if publishable(raw.cancelled_people, k) {
            raw.cancelled
        } else {
            0
        },
        no_show: if publishable(raw.no_show_people, k) {
            raw.no_show
        } else {
            0
        },
        ratings: publishable(raw.raters, k).then_some(raw.ratings),
        net_promoters: publishable(raw.recommenders, k).then_some(raw.net_promoters),
    }
}

/// The net promoter score of the published weeks, −100..100.
pub fn net_promoter_score(weeks: &[Week]) -> Option<f64> {
    let total = weeks
        .iter()
        .filter_map(|w| w.net_promoters)
        .fold(Tally::default(), Tally::plus);
    ratio(total.sum.saturating_mul(100), total.count)
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

/// Distinct values of `value` among the rows where `condition` holds.
fn count_distinct_if(condition: Expr, value: Expr) -> Expr {
    Func::count_distinct(Expr::case(condition, value).finally(Expr::null())).into()
}

fn int(row: &QueryResult, name: &str) -> AppResult<i64> {
    Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Adds the output column `bucket`: the index in `weeks` of the week `at`
/// falls in (a portable CASE over the week boundaries), keeps only rows
/// inside the weeks, and groups by it (by output name: PostgreSQL would see
/// the same expression with its own bound parameters as a different one).
/// False when there are no weeks, and nothing to ask.
fn by_week(query: &mut SelectStatement, at: &Expr, weeks: &[NaiveDate]) -> bool {
    let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
        return false;
    };
    let bucket = week_index(at, weeks, 0, weeks.len() - 1);
    query
        .expr_as(bucket, Alias::new("bucket"))
        .and_where(at.clone().gte(midnight(*first)))
        .and_where(at.clone().lt(midnight(week_end(*last))))
        .add_group_by([Expr::col(Alias::new("bucket"))]);
    true
}

/// The index of the week `at` falls in among `weeks[low..=high]`, as nested
/// CASEs that halve the range: about eight comparisons a row for 260 weeks,
/// where one CASE branch per week cost up to 260 (rows outside the weeks are
/// filtered out by [`by_week`]). Recursion depth is log2 of the weeks.
fn week_index(at: &Expr, weeks: &[NaiveDate], low: usize, high: usize) -> Expr {
    if low >= high {
        return Expr::val(i64::try_from(low).unwrap_or(i64::MAX));
    }
    let middle = low + (high - low) / 2;
    let Some(monday) = weeks.get(middle) else {
        return Expr::val(-1i64);
    };
    Expr::case(
        at.clone().lt(midnight(week_end(*monday))),
        week_index(at, weeks, low, middle),
    )
    .finally(week_index(at, weeks, middle + 1, high))
    .into()
}

/// The week index of a row made by [`by_week`] (None outside the weeks).
fn bucket(row: &QueryResult) -> AppResult<Option<usize>> {
    Ok(usize::try_from(int(row, "bucket")?).ok())
}

fn approved_participants(query: &mut SelectStatement, scope: &Scope) {
    query
        .and_where(col(enrolment::Entity, enrolment::Column::ProgrammeId).eq(scope.programme_id))
        .and_where(
            col(enrolment::Entity, enrolment::Column::Status)
                .eq(EnrolmentStatus::Approved.to_value()),
        );
}

/// `FROM session_feedback JOIN mentoring_sessions JOIN pairings` of the programme.
fn feedback_of(scope: &Scope) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(session_feedback::Entity)
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
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
    query
}

fn submitted() -> Expr {
    col(
        session_feedback::Entity,
        session_feedback::Column::SubmittedAt,
    )
}

fn starts() -> Expr {
    col(
        mentoring_session::Entity,
        mentoring_session::Column::StartsAt,
    )
}

fn held() -> Expr {
    col(mentoring_session::Entity, mentoring_session::Column::Status)
        .eq(SessionStatus::Held.to_value())
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

/// The ratings of a row made by [`with_ratings`].
fn ratings(row: &QueryResult) -> AppResult<Tally> {
    Ok(Tally {
        sum: int(row, "rating_sum")?,
        count: int(row, "ratings")?,
    })
}

async fn one<C: ConnectionTrait>(db: &C, query: &SelectStatement) -> AppResult<QueryResult> {
    db.query_one(query)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("an aggregate returned no row")))
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

/// `FROM person_pairings AS involvement JOIN pairings`: a pairing's columns
/// beside each of its people.
fn involvement(scope: &Scope) -> (SelectStatement, Alias) {
    let involvement = Alias::new("involvement");
    let mut query = Query::select();
    query
        .from_subquery(person_pairings(scope), involvement.clone())
        .inner_join(
            pairing::Entity,
            col(pairing::Entity, pairing::Column::Id)
                .equals((involvement.clone(), Alias::new("pairing_id"))),
        );
    (query, involvement)
}

// ---------------------------------------------------------------- summary --

/// The programme-level figures (six aggregate statements; none per week or
/// per session).
#[tracing::instrument(name = "metrics.summary", skip_all)]
async fn summary<C: ConnectionTrait>(db: &C, scope: &Scope) -> AppResult<Summary> {
    let k = scope.min_group_size;
    let mut summary = Summary::default();
    let mut hidden = Vec::new();

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
    let mentors = int(&row, "mentors")?;
    let mentees = int(&row, "mentees")?;
    let trained = int(&row, "trained")?;
    summary.mentors = k_count(mentors, mentors, k, "mentors", &mut hidden);
    summary.mentees = k_count(mentees, mentees, k, "mentees", &mut hidden);
    summary.mentors_trained = k_count(
        trained,
        split_people(trained, mentors),
        k,
        "mentorsTrained",
        &mut hidden,
    );
    let retained = int(&row, "retained")?;
    if publishable(mentors, k) && publishable(split_people(retained, mentors), k) {
        summary.mentor_retention_rate = ratio(retained, mentors);
    }

    let (mut pairings, involved) = involvement(scope);
    let status = || col(pairing::Entity, pairing::Column::Status);
    let states = [
        (PairingStatus::Active, "active", "activePairings"),
        (PairingStatus::Completed, "completed", "completedPairings"),
        (
            PairingStatus::EndedEarly,
            "ended_early",
            "endedEarlyPairings",
        ),
    ];
    for (state, name, _) in &states {
        pairings
            .expr_as(
                count_distinct_if(
                    status().eq(state.to_value()),
                    Expr::col((involved.clone(), Alias::new("pairing_id"))),
                ),
                Alias::new(*name),
            )
            .expr_as(
                count_distinct_if(
                    status().eq(state.to_value()),
                    Expr::col((involved.clone(), Alias::new("person"))),
                ),
                Alias::new(format!("{name}_people")),
            );
    }
    let row = one(db, &pairings).await?;
    let mut counts = Vec::new();
    for (_, name, field) in states {
        let people = int(&row, &format!("{name}_people"))?;
        counts.push(k_count(int(&row, name)?, people, k, field, &mut hidden));
    }
    if let [active, completed, ended_early] = counts[..] {
        summary.active_pairings = active;
        summary.completed_pairings = completed;
        summary.ended_early_pairings = ended_early;
    }

    summary.weeks = weeks(db, scope).await?;
    summary.sessions_held = total(summary.weeks.iter().map(|w| w.held));
    summary.sessions_cancelled = total(summary.weeks.iter().map(|w| w.cancelled));
    summary.sessions_no_show = total(summary.weeks.iter().map(|w| w.no_show));
    summary.average_rating = average(summary.weeks.iter().map(|w| w.ratings));
    summary.nps = net_promoter_score(&summary.weeks);
    summary.suppressed = hidden.into_iter().map(str::to_owned).collect();

    cross_department(db, scope, &mut summary).await?;
    Ok(summary)
}

/// The window's closed weeks, published (two statements grouped by week).
async fn weeks<C: ConnectionTrait>(db: &C, scope: &Scope) -> AppResult<Vec<Week>> {
    let mondays = scope.weeks();
    let mut raw = vec![RawWeek::default(); mondays.len()];

    let (mut sessions, involved) = involvement(scope);
    let person = || Expr::col((involved.clone(), Alias::new("person")));
    let session = || col(mentoring_session::Entity, mentoring_session::Column::Id);
    let status_is = |status: SessionStatus| {
        col(mentoring_session::Entity, mentoring_session::Column::Status).eq(status.to_value())
    };
    let cancelled = || status_is(SessionStatus::Cancelled);
    let no_show = || status_is(SessionStatus::NoShow);
    sessions
        .inner_join(
            mentoring_session::Entity,
            col(
                mentoring_session::Entity,
                mentoring_session::Column::PairingId,
            )
            .equals((involved.clone(), Alias::new("pairing_id"))),
        )
        .expr_as(count_distinct_if(held(), session()), Alias::new("held"))
        .expr_as(
            count_distinct_if(held(), person()),
            Alias::new("held_people"),
        )
        .expr_as(
            count_distinct_if(cancelled(), session()),
            Alias::new("cancelled"),
        )
        .expr_as(
            count_distinct_if(cancelled(), person()),
            Alias::new("cancelled_people"),
        )
        .expr_as(
            count_distinct_if(no_show(), session()),
            Alias::new("no_show"),
        )
        .expr_as(
            count_distinct_if(no_show(), person()),
            Alias::new("no_show_people"),
        );
    if !by_week(&mut sessions, &starts(), &mondays) {
        return Ok(Vec::new());
    }
    for row in db.query_all(&sessions).await? {
        if let Some(week) = bucket(&row)?.and_then(|i| raw.get_mut(i)) {
            week.held = int(&row, "held")?;
            week.held_people = int(&row, "held_people")?;
            week.cancelled = int(&row, "cancelled")?;
            week.cancelled_people = int(&row, "cancelled_people")?;
            week.no_show = int(&row, "no_show")?;
            week.no_show_people = int(&row, "no_show_people")?;
        }
    }

    let author = || col(session_feedback::Entity, session_feedback::Column::AuthorId);
    let recommend = || {
        col(
            session_feedback::Entity,
            session_feedback::Column::Recommend,
        )
    };
    let mut feedback = feedback_of(scope);
    with_ratings(&mut feedback)
        .expr_as(
            count_distinct_if(recommend().is_not_null(), author()),
            Alias::new("recommenders"),
        )
        .expr_as(Func::count(recommend()), Alias::new("answers"))
        .expr_as(count_if(recommend().gte(9)), Alias::new("promoters"))
        .expr_as(count_if(recommend().lte(6)), Alias::new("detractors"));
    by_week(&mut feedback, &submitted(), &mondays);
    for row in db.query_all(&feedback).await? {
        if let Some(week) = bucket(&row)?.and_then(|i| raw.get_mut(i)) {
            week.ratings = ratings(&row)?;
            week.raters = int(&row, "raters")?;
            week.net_promoters = Tally {
                sum: int(&row, "promoters")?.saturating_sub(int(&row, "detractors")?),
                count: int(&row, "answers")?,
            };
            week.recommenders = int(&row, "recommenders")?;
        }
    }
    Ok(mondays
        .iter()
        .zip(&raw)
        .map(|(monday, week)| publish_week(*monday, week, scope.min_group_size))
        .collect())
}

/// Pairings that started (not PROPOSED or DECLINED) of the programme.
fn started_pairings(query: &mut SelectStatement, scope: &Scope) {
    query
        .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id))
        .and_where(
            col(pairing::Entity, pairing::Column::Status)
                .is_in(access::KNOWN_PAIRING_STATES.map(|s| s.to_value())),
        );
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

/// Participants per group, and sessions held and ratings per group summed
/// over its published weekly cells, then k-anonymity over the groups.
#[tracing::instrument(name = "metrics.breakdown", skip_all, fields(dimension = ?dimension))]
async fn breakdown<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    dimension: Dimension,
) -> AppResult<Vec<Group>> {
    let key = Alias::new("group_key");
    let person = || col(enrolment::Entity, enrolment::Column::EmployeeId);
    let k = scope.min_group_size;
    let mondays = scope.weeks();

    let mut sizes = participants(scope);
    sizes
        .expr_as(group_key(dimension), key.clone())
        .expr_as(Func::count_distinct(person()), Alias::new("people"))
        .add_group_by([Expr::col(key.clone())]);

    let involvement = Alias::new("involvement");
    let mut held_cells = participants(scope);
    held_cells
        .expr_as(group_key(dimension), key.clone())
        .expr_as(
            Func::count_distinct(col(
                mentoring_session::Entity,
                mentoring_session::Column::Id,
            )),
            Alias::new("held"),
        )
        .expr_as(Func::count_distinct(person()), Alias::new("people"))
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
        .and_where(held())
        .add_group_by([Expr::col(key.clone())]);
    let any_weeks = by_week(&mut held_cells, &starts(), &mondays);

    let mut rated_cells = participants(scope);
    with_ratings(&mut rated_cells)
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
    by_week(&mut rated_cells, &submitted(), &mondays);

    let mut held_by: HashMap<String, i64> = HashMap::new();
    let mut rated_by: HashMap<String, Tally> = HashMap::new();
    if any_weeks {
        let mut cells = Vec::new();
        for row in db.query_all(&held_cells).await? {
            let key: String = row.try_get("", "group_key")?;
            cells.push((bucket(&row)?, key, int(&row, "people")?, int(&row, "held")?));
        }
        for (key, held) in published_by_week(cells, k) {
            let sum = held_by.entry(key).or_default();
            *sum = sum.saturating_add(held);
        }
        let mut cells = Vec::new();
        for row in db.query_all(&rated_cells).await? {
            let key: String = row.try_get("", "group_key")?;
            cells.push((bucket(&row)?, key, int(&row, "raters")?, ratings(&row)?));
        }
        for (key, tally) in published_by_week(cells, k) {
            let sum = rated_by.entry(key).or_default();
            *sum = sum.plus(tally);
        }
    }
    let mut groups = Vec::new();
    for row in db.query_all(&sizes).await? {
        let key: String = row.try_get("", "group_key")?;
        groups.push(Group {
            participants: int(&row, "people")?,
            sessions_held: Some(held_by.get(&key).copied().unwrap_or(0)),
            average_rating: average([rated_by.get(&key).copied()]),
            suppressed: false,
            key,
        });
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(suppress(groups, k))
}

/// The published group cells, given `(week, group, people, figure)` per
/// cell: each week's cells pass [`published_cells`] together (rows outside
/// the weeks are dropped).
pub fn published_by_week<T>(
    cells: Vec<(Option<usize>, String, i64, T)>,
    k: i64,
) -> Vec<(String, T)> {
    let mut by_week: HashMap<usize, Vec<(String, i64, T)>> = HashMap::new();
    for (week, key, people, figure) in cells {
        if let Some(week) = week {
            by_week.entry(week).or_default().push((key, people, figure));
        }
    }
    let mut published = Vec::new();
    for (_, mut week) in by_week {
        week.sort_by(|a, b| a.0.cmp(&b.0));
        let people: Vec<i64> = week.iter().map(|cell| cell.1).collect();
        for ((key, _, figure), shown) in week.into_iter().zip(published_cells(&people, k)) {
            if shown {
                published.push((key, figure));
            }
        }
    }
    published
}

/// k-anonymity over a partition: groups under `k` are hidden, and more are
/// hidden, smallest first, until the hidden ones together describe at least
/// `k` people ([`complete_suppression`]).
pub fn suppress(mut groups: Vec<Group>, k: i64) -> Vec<Group> {
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    let people: Vec<i64> = groups.iter().map(|g| g.participants).collect();
    let mut shown: Vec<bool> = people.iter().map(|p| publishable(*p, k)).collect();
    complete_suppression(&people, &mut shown, k);
    for (group, shown) in groups.iter_mut().zip(shown) {
        group.suppressed = !shown;
    }
    for group in groups.iter_mut().filter(|g| g.suppressed) {
        group.participants = 0;
        group.sessions_held = None;
        group.average_rating = None;
    }
    groups
}

// --------------------------------------------------------------- timeline --

/// The periods of the given weeks, each with its weeks' published figures
/// summed (active pairings left 0): a WEEK point is one week, a MONTH point
/// the weeks whose Monday falls in that month.
pub fn fold_periods(weeks: &[Week], period: Period) -> Vec<TimelinePoint> {
    let mut points: Vec<(TimelinePoint, Tally, bool)> = Vec::new();
    for week in weeks {
        let start = match period {
            Period::Week => week.monday,
            Period::Month => week.monday.with_day(1).unwrap_or(week.monday),
        };
        if points
            .last()
            .is_none_or(|(p, _, _)| p.period_start != start)
        {
            let point = TimelinePoint {
                period_start: start,
                sessions_held: 0,
                active_pairings: 0,
                average_rating: None,
            };
            points.push((point, Tally::default(), false));
        }
        if let Some((point, ratings, rated)) = points.last_mut() {
            point.sessions_held = point.sessions_held.saturating_add(week.held);
            if let Some(tally) = week.ratings {
                *ratings = ratings.plus(tally);
                *rated = true;
            }
        }
    }
    points
        .into_iter()
        .map(|(point, ratings, rated)| TimelinePoint {
            average_rating: average([rated.then_some(ratings)]),
            ..point
        })
        .collect()
}

/// The span whose pairings a point counts as active: the week, or the
/// month's whole weeks (from its first Monday to the next month's), never
/// past the current week. It depends on the period alone, not on the window,
/// so two windows cannot tell different pairings apart through it.
pub fn activity_span(
    period_start: NaiveDate,
    period: Period,
    current_week: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let first_monday = |day: NaiveDate| {
        let monday = monday_of(day);
        if monday < day {
            week_end(monday)
        } else {
            monday
        }
    };
    let (start, end) = match period {
        Period::Week => (period_start, week_end(period_start)),
        Period::Month => (
            first_monday(period_start),
            period_start
                .checked_add_months(Months::new(1))
                .map_or(NaiveDate::MAX, first_monday),
        ),
    };
    (start, Ord::min(end, current_week))
}

/// Sessions held, active pairings and ratings per period, newest last, from
/// the window's published weeks (`weeks`, as [`summary`] made them) and one
/// statement for the active pairings.
#[tracing::instrument(name = "metrics.timeline", skip_all, fields(period = ?period))]
async fn timeline<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    weeks: &[Week],
    period: Period,
) -> AppResult<Vec<TimelinePoint>> {
    let Some((first, last)) = timeline_bounds(db, scope).await? else {
        return Ok(Vec::new());
    };
    let first = monday_of(first);
    let listed: Vec<Week> = weeks
        .iter()
        .filter(|w| w.monday >= first && w.monday <= last)
        .copied()
        .collect();
    let mut points = fold_periods(&listed, period);
    if points.is_empty() {
        return Ok(points);
    }

    let current_week = monday_of(scope.today);
    let (mut active, involved) = involvement(scope);
    let began = || {
        Func::coalesce([
            col(pairing::Entity, pairing::Column::DecidedAt),
            col(pairing::Entity, pairing::Column::CreatedAt),
        ])
    };
    let ended = || col(pairing::Entity, pairing::Column::EndedAt);
    for (i, point) in points.iter().enumerate() {
        let (start, end) = activity_span(point.period_start, period, current_week);
        let overlaps = || {
            Expr::expr(began())
                .lt(midnight(end))
                .and(ended().is_null().or(ended().gte(midnight(start))))
        };
        active
            .expr_as(
                count_distinct_if(
                    overlaps(),
                    Expr::col((involved.clone(), Alias::new("pairing_id"))),
                ),
                Alias::new(format!("p{i}")),
            )
            .expr_as(
                count_distinct_if(
                    overlaps(),
                    Expr::col((involved.clone(), Alias::new("person"))),
                ),
                Alias::new(format!("q{i}")),
            );
    }
    started_pairings(&mut active, scope);
    let row = one(db, &active).await?;
    for (i, point) in points.iter_mut().enumerate() {
        let people = int(&row, &format!("q{i}"))?;
        if publishable(people, scope.min_group_size) {
            point.active_pairings = int(&row, &format!("p{i}"))?;
        }
    }
    Ok(points)
}

/// The first and last day the timeline covers: the window when given, else
/// from the programme's start (or its first session) to its end or today,
/// whichever comes first.
async fn timeline_bounds<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> AppResult<Option<(NaiveDate, NaiveDate)>> {
    let found = programme::Entity::find_by_id(scope.programme_id)
        .one(db)
        .await?;
    let mut first = scope.from.or(found.as_ref().and_then(|p| p.starts_on));
    if first.is_none() {
        let mut span = Query::select();
        span.expr_as(Func::min(starts()), Alias::new("first"))
            .from(mentoring_session::Entity)
            .inner_join(
                pairing::Entity,
                col(pairing::Entity, pairing::Column::Id).equals((
                    mentoring_session::Entity,
                    mentoring_session::Column::PairingId,
                )),
            )
            .and_where(col(pairing::Entity, pairing::Column::ProgrammeId).eq(scope.programme_id));
        let row = one(db, &span).await?;
        let first_session: Option<DateTime<Utc>> = row.try_get("", "first")?;
        first = first_session.map(|s| s.date_naive());
    }
    let planned_end = found
        .as_ref()
        .and_then(|p| p.ends_on)
        .unwrap_or(scope.today);
    let last = scope.to.unwrap_or(Ord::min(planned_end, scope.today));
    Ok(first.map(|f| (f, last)).filter(|(f, l)| f <= l))
}

// ---------------------------------------------------------- skill progress --

/// BASELINE and EXIT averages per skill assessed in the programme, over the
/// (skill, phase, closed week) cells with at least k assessors; the window
/// does not apply (assessments are not sessions), all closed weeks do.
#[tracing::instrument(name = "metrics.skill_progress", skip_all)]
async fn skill_progress<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
) -> AppResult<Vec<SkillProgress>> {
    let k = scope.min_group_size;
    let phase = || col(skill_assessment::Entity, skill_assessment::Column::Phase);
    let level = || col(skill_assessment::Entity, skill_assessment::Column::Level);
    let person = || {
        col(
            skill_assessment::Entity,
            skill_assessment::Column::EmployeeId,
        )
    };
    let skill = || col(skill_assessment::Entity, skill_assessment::Column::SkillId);
    let of_programme = || {
        col(
            skill_assessment::Entity,
            skill_assessment::Column::ProgrammeId,
        )
        .eq(scope.programme_id)
    };
    let mut people = Query::select();
    people
        .expr_as(skill(), Alias::new("skill_id"))
        .expr_as(Func::count_distinct(person()), Alias::new("people"))
        .from(skill_assessment::Entity)
        .and_where(of_programme())
        .group_by_col((skill_assessment::Entity, skill_assessment::Column::SkillId));

    let mut cells = Query::select();
    cells.expr_as(skill(), Alias::new("skill_id"));
    for (value, name) in [
        (AssessmentPhase::Baseline, "baseline"),
        (AssessmentPhase::Exit, "exit"),
    ] {
        let in_phase = || phase().eq(value.to_value());
        cells
            .expr_as(
                Func::sum(Expr::case(in_phase(), level()).finally(0)),
                Alias::new(format!("{name}_sum")),
            )
            .expr_as(count_if(in_phase()), Alias::new(format!("{name}_count")))
            .expr_as(
                count_distinct_if(in_phase(), person()),
                Alias::new(format!("{name}_people")),
            );
    }
    cells
        .from(skill_assessment::Entity)
        .and_where(of_programme())
        .group_by_col((skill_assessment::Entity, skill_assessment::Column::SkillId));
    let assessed = col(
        skill_assessment::Entity,
        skill_assessment::Column::AssessedAt,
    );
    let mut phases: HashMap<Uuid, (Tally, Tally)> = HashMap::new();
    if by_week(
        &mut cells,
        &assessed,
        &closed_weeks(None, None, scope.today),
    ) {
        for row in db.query_all(&cells).await? {
            let published = |name: &str| -> AppResult<Tally> {
                Ok(if publishable(int(&row, &format!("{name}_people"))?, k) {
                    Tally {
                        sum: int(&row, &format!("{name}_sum"))?,
                        count: int(&row, &format!("{name}_count"))?,
                    }
                } else {
                    Tally::default()
                })
            };
            let entry = phases.entry(row.try_get("", "skill_id")?).or_default();
            *entry = (
                entry.0.plus(published("baseline")?),
                entry.1.plus(published("exit")?),
            );
        }
    }
    let mut progress = Vec::new();
    for row in db.query_all(&people).await? {
        let skill_id: Uuid = row.try_get("", "skill_id")?;
        let people = int(&row, "people")?;
        let suppressed = !publishable(people, k);
        let (baseline, exit) = phases.get(&skill_id).copied().unwrap_or_default();
        let shown = |tally: Tally| {
            if suppressed {
                None
            } else {
                average([Some(tally)])
            }
        };
        progress.push(SkillProgress {
            skill_id,
            participants: if suppressed { 0 } else { people },
            baseline_average: shown(baseline),
            exit_average: shown(exit),
            suppressed,
        });
    }
    progress.sort_by_key(|p| p.skill_id);
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_shares_and_averages_are_the_computed_ones_to_the_bit() {
        let summary = Summary {
            cross_department_share: Some(1.0 / 7.0),
            average_rating: Some(0.1 + 0.2),
            nps: Some(-100.0 / 3.0),
            mentor_retention_rate: None,
            ..Summary::default()
        };
        let text = serde_json::to_string(&summary).unwrap_or_default();
        let back: Summary = serde_json::from_str(&text).unwrap_or_default();
        let bits = |s: &Summary| {
            [
                s.cross_department_share,
                s.average_rating,
                s.nps,
                s.mentor_retention_rate,
            ]
            .map(|v| v.map(f64::to_bits))
        };
        assert_eq!(bits(&back), bits(&summary));
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

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

    fn week(monday: &str, held: i64, ratings: Option<(i64, i64)>) -> Week {
        Week {
            monday: day(monday),
            held,
            cancelled: 0,
            no_show: 0,
            ratings: ratings.map(|(sum, count)| Tally { sum, count }),
            net_promoters: None,
        }
    }

    #[test]
    fn a_lone_small_group_takes_the_next_smallest_down_with_it() {
        let groups = suppress(vec![group("a", 4), group("b", 9), group("c", 6)], 5);
        assert_eq!(hidden(&groups), vec!["a", "c"]);
        assert!(groups[0].average_rating.is_none() && groups[0].participants == 0);
        assert_eq!(groups[1].participants, 9);
    }

    #[test]
    fn small_groups_that_together_describe_fewer_than_k_take_others_down() {
        // k = 5: C and D (one person each) would be total − A − B.
        let groups = suppress(
            vec![group("a", 5), group("b", 6), group("c", 1), group("d", 1)],
            5,
        );
        assert_eq!(hidden(&groups), vec!["a", "c", "d"]);
        // An empty cell hides nobody: a lone small group still takes one down.
        let shown = published_cells(&[6, 1, 0, 9], 5);
        assert_eq!(shown, vec![false, false, false, true]);
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
    fn a_window_starts_on_a_monday_and_ends_on_a_sunday() {
        assert!(check_window(Some(day("2026-10-05")), Some(day("2026-10-18"))).is_ok());
        assert!(check_window(None, None).is_ok());
        let field = |result: AppResult<()>| match result {
            Err(AppError::BadInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_window(Some(day("2026-10-06")), None)), "from");
        assert_eq!(field(check_window(None, Some(day("2026-10-17")))), "to");
        assert_eq!(
            field(check_window(
                Some(day("2026-10-05")),
                Some(day("2026-10-05"))
            )),
            "to",
            "a one-day window is not a week"
        );
        assert_eq!(
            field(check_window(
                Some(day("2026-10-12")),
                Some(day("2026-10-11"))
            )),
            "to"
        );
    }

    #[test]
    fn only_weeks_that_ended_before_this_week_are_cells() {
        let today = day("2026-10-21"); // a Wednesday
        assert_eq!(monday_of(today), day("2026-10-19"));
        assert_eq!(monday_of(day("2026-10-19")), day("2026-10-19"));
        assert_eq!(
            closed_weeks(Some(day("2026-10-05")), Some(day("2026-10-25")), today),
            vec![day("2026-10-05"), day("2026-10-12")],
            "the current week is left out"
        );
        assert_eq!(
            closed_weeks(Some(day("2026-10-05")), Some(day("2026-10-11")), today),
            vec![day("2026-10-05")]
        );
        assert!(closed_weeks(Some(day("2026-10-19")), None, today).is_empty());
        let all = closed_weeks(None, None, today);
        assert_eq!(all.len(), MAX_PERIODS, "all-time is the newest 260 weeks");
        assert_eq!(all.last(), Some(&day("2026-10-12")));
    }

    #[test]
    fn a_cell_of_fewer_than_k_people_publishes_nothing() {
        let raw = RawWeek {
            held: 3,
            held_people: 6,
            cancelled: 1,
            cancelled_people: 2,
            no_show: 2,
            no_show_people: 5,
            ratings: Tally { sum: 9, count: 3 },
            raters: 4,
            net_promoters: Tally { sum: 1, count: 5 },
            recommenders: 5,
        };
        let week = publish_week(day("2026-10-05"), &raw, 5);
        assert_eq!((week.held, week.cancelled, week.no_show), (3, 0, 2));
        assert_eq!(week.ratings, None, "four raters at k = 5");
        assert_eq!(week.net_promoters, Some(Tally { sum: 1, count: 5 }));
    }

    #[test]
    fn figures_sum_the_published_cells_only() {
        let weeks = [
            week("2026-10-05", 4, Some((20, 5))),
            week("2026-10-12", 0, None),
            week("2026-10-19", 2, Some((10, 5))),
        ];
        assert_eq!(total(weeks.iter().map(|w| w.held)), 6);
        assert_eq!(average(weeks.iter().map(|w| w.ratings)), Some(3.0));
        assert_eq!(average([None, None]), None, "nothing published");
        let nps = [Week {
            net_promoters: Some(Tally { sum: 1, count: 4 }),
            ..weeks[0]
        }];
        assert_eq!(net_promoter_score(&nps), Some(25.0));
    }

    #[test]
    fn a_share_describes_the_smaller_side_of_its_split() {
        assert_eq!(split_people(4, 5), 1, "one untrained mentor");
        assert_eq!(split_people(5, 5), 5);
        assert_eq!(split_people(0, 6), 6, "none trained says nothing of one");
        assert_eq!(split_people(3, 7), 3);
    }

    #[test]
    fn a_hidden_count_reads_zero_and_is_named() {
        let mut hidden = Vec::new();
        assert_eq!(k_count(3, 6, 5, "activePairings", &mut hidden), 3);
        assert_eq!(k_count(4, 4, 5, "mentors", &mut hidden), 0);
        assert_eq!(hidden, vec!["mentors"]);
    }

    #[test]
    fn one_hidden_cell_in_a_week_hides_the_smallest_other() {
        assert_eq!(published_cells(&[6, 1, 5], 5), vec![true, false, false]);
        // Two hidden cells of 3 people together: total − 5 would describe them.
        assert_eq!(published_cells(&[1, 2, 5], 5), vec![false, false, false]);
        assert_eq!(published_cells(&[2, 3, 5], 5), vec![false, false, true]);
        assert_eq!(published_cells(&[5, 5], 5), vec![true, true]);
        assert_eq!(published_cells(&[1], 5), vec![false]);
        let cells = vec![
            (Some(0), "a".to_owned(), 6, 3),
            (Some(0), "b".to_owned(), 1, 1),
            (Some(1), "a".to_owned(), 5, 2),
            (Some(1), "b".to_owned(), 5, 2),
            (None, "a".to_owned(), 9, 9),
        ];
        let mut published = published_by_week(cells, 5);
        published.sort();
        assert_eq!(published, vec![("a".into(), 2), ("b".into(), 2)]);
    }

    #[test]
    fn months_are_made_of_the_weeks_whose_monday_falls_in_them() {
        let weeks = [
            week("2026-09-28", 1, None),
            week("2026-10-05", 2, Some((8, 2))),
            week("2026-10-26", 3, Some((2, 2))),
            week("2026-11-02", 4, None),
        ];
        let months: Vec<(NaiveDate, i64, Option<f64>)> = fold_periods(&weeks, Period::Month)
            .into_iter()
            .map(|p| (p.period_start, p.sessions_held, p.average_rating))
            .collect();
        assert_eq!(
            months,
            vec![
                (day("2026-09-01"), 1, None),
                (day("2026-10-01"), 5, Some(2.5)),
                (day("2026-11-01"), 4, None)
            ]
        );
        assert_eq!(fold_periods(&weeks, Period::Week).len(), 4);
    }

    #[test]
    fn activity_spans_follow_the_period_not_the_window() {
        let now = day("2026-11-30"); // the current week's Monday
        assert_eq!(
            activity_span(day("2026-10-05"), Period::Week, now),
            (day("2026-10-05"), day("2026-10-12"))
        );
        assert_eq!(
            activity_span(day("2026-10-01"), Period::Month, now),
            (day("2026-10-05"), day("2026-11-02"))
        );
        assert_eq!(
            activity_span(day("2026-11-01"), Period::Month, now),
            (day("2026-11-02"), day("2026-11-30")),
            "never past the current week"
        );
    }
}
