//! What the programme team and analysts download as spreadsheets: a
//! programme's enrolments, pairings (with their health) and sessions, for
//! admins; its k-anonymous metrics, for analysts and admins. Rows come out
//! page by page (keyset on the row id, [`PAGE`] rows per page), so an export
//! of any size holds one page in memory; the CSV writing is the HTTP
//! adapter's (`exports_http`).
//!
//! Private notes, feedback comments, motivations and decision reasons are
//! never exported: they are the people's own words, not the team's records.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    department, employee, enrolment, mentoring_session, pairing, pairing_mentee, programme,
    session_topic, skill,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveEnum as _, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::metrics::{self, Dimension, MetricsSource, Period};
use crate::domain::pairings::health;
use crate::error::{AppError, AppResult};

/// Rows read per statement round: a few hundred kilobytes of CSV.
pub const PAGE: u64 = 2_000;

/// The tables a programme exports row by row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// One row per enrolment.
    Enrolments,
    /// One row per pairing, with its health today.
    Pairings,
    /// One row per session.
    Sessions,
}

impl Table {
    /// The table a path segment names (`enrolments`, `pairings`, `sessions`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "enrolments" => Some(Self::Enrolments),
            "pairings" => Some(Self::Pairings),
            "sessions" => Some(Self::Sessions),
            _ => None,
        }
    }

    /// The name in file names and paths.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enrolments => "enrolments",
            Self::Pairings => "pairings",
            Self::Sessions => "sessions",
        }
    }

    /// The header row.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Self::Enrolments => &[
                "enrolment_id",
                "employee_external_id",
                "name",
                "email",
                "department",
                "role",
                "status",
                "capacity",
                "consented_at",
                "decided_at",
                "training_completed_at",
                "withdrawn_at",
                "supervisor_email",
            ],
            Self::Pairings => &[
                "pairing_id",
                "status",
                "health",
                "mentor",
                "mentor_email",
                "mentees",
                "mentee_emails",
                "score",
                "proposed_at",
                "decided_at",
                "paused_at",
                "ended_at",
                "last_session_at",
                "next_session_at",
            ],
            Self::Sessions => &[
                "session_id",
                "pairing_id",
                "starts_at",
                "ends_at",
                "status",
                "mode",
                "mentor",
                "mentees",
                "topics",
            ],
        }
    }
}

/// One row, in the header's order.
pub type Row = Vec<String>;

/// A page of rows and the id to continue after (None: the last page).
pub struct RowPage {
    /// The rows, in id order.
    pub rows: Vec<Row>,
    /// Where the next page starts.
    pub next_after: Option<Uuid>,
}

/// Who may export what: a programme's rows are the programme team's (admins);
/// anyone else is FORBIDDEN, an unknown programme NOT_FOUND. Answers the
/// programme (its cadence weighs health; its name the file's).
pub async fn authorize<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    programme_id: Uuid,
) -> AppResult<programme::Model> {
    access::require(caller, Area::Administration)?;
    programme::Entity::find_by_id(programme_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("programme"))
}

/// The page of `table` after `after` (None: the first page), as of `now`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    table: Table,
    programme: &programme::Model,
    after: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<RowPage> {
    match table {
        Table::Enrolments => enrolments_page(db, programme.id, after).await,
        Table::Pairings => pairings_page(db, programme, after, now).await,
        Table::Sessions => sessions_page(db, programme.id, after).await,
    }
}

/// Where the next page starts: after the last id of a full page.
fn next_after(ids: &[Uuid]) -> Option<Uuid> {
    (ids.len() as u64 == PAGE)
        .then(|| ids.last().copied())
        .flatten()
}

fn at(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn at_opt(value: Option<DateTime<Utc>>) -> String {
    value.map(at).unwrap_or_default()
}

/// The employees with these ids, by id (erased people have empty names).
async fn people<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashMap<Uuid, employee::Model>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(employee::Entity::find()
        .filter(employee::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect())
}

async fn enrolments_page<C: ConnectionTrait>(
    db: &C,
    programme_id: Uuid,
    after: Option<Uuid>,
) -> AppResult<RowPage> {
    let mut query = enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(programme_id))
        .order_by_asc(enrolment::Column::Id)
        .limit(PAGE);
    if let Some(after) = after {
        query = query.filter(enrolment::Column::Id.gt(after));
    }
    let enrolments = query.all(db).await?;
    let people = people(
        db,
        enrolments
            .iter()
            .flat_map(|e| std::iter::once(e.employee_id).chain(e.supervisor_id)),
    )
    .await?;
    let department_ids: Vec<Uuid> = people.values().filter_map(|p| p.department_id).collect();
    let departments: HashMap<Uuid, String> = if department_ids.is_empty() {
        HashMap::new()
    } else {
        department::Entity::find()
            .filter(department::Column::Id.is_in(department_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect()
    };
    let rows = enrolments
        .iter()
        .map(|e| {
            let person = people.get(&e.employee_id);
            vec![
                e.id.to_string(),
                person.map(|p| p.external_id.clone()).unwrap_or_default(),
                person.map(|p| p.display_name.clone()).unwrap_or_default(),
                person.map(|p| p.email.clone()).unwrap_or_default(),
                person
                    .and_then(|p| p.department_id)
                    .and_then(|d| departments.get(&d).cloned())
                    .unwrap_or_default(),
                e.role.to_value(),
                e.status.to_value(),
                e.capacity.to_string(),
                at(e.consented_at),
                at_opt(e.decided_at),
                at_opt(e.training_completed_at),
                at_opt(e.withdrawn_at),
                e.supervisor_id
                    .and_then(|s| people.get(&s))
                    .map(|s| s.email.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let ids: Vec<Uuid> = enrolments.iter().map(|e| e.id).collect();
    Ok(RowPage {
        rows,
        next_after: next_after(&ids),
    })
}

/// The mentees of these pairings, in a stable order (by mentee id).
async fn mentees_of<C: ConnectionTrait>(
    db: &C,
    pairing_ids: Vec<Uuid>,
) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let mut mentees: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if pairing_ids.is_empty() {
        return Ok(mentees);
    }
    let links = pairing_mentee::Entity::find()
        .filter(pairing_mentee::Column::PairingId.is_in(pairing_ids))
        .order_by_asc(pairing_mentee::Column::MenteeId)
        .all(db)
        .await?;
    for link in links {
        mentees
            .entry(link.pairing_id)
            .or_default()
            .push(link.mentee_id);
    }
    Ok(mentees)
}

/// Names (or emails) of several people in one cell, `; `-separated (the
/// CSV writer quotes the cell when that is the delimiter).
fn joined(
    ids: Option<&Vec<Uuid>>,
    people: &HashMap<Uuid, employee::Model>,
    part: fn(&employee::Model) -> &str,
) -> String {
    ids.map(|ids| {
        ids.iter()
            .filter_map(|id| people.get(id).map(part))
            .collect::<Vec<_>>()
            .join("; ")
    })
    .unwrap_or_default()
}

fn display_name(person: &employee::Model) -> &str {
    &person.display_name
}

fn email(person: &employee::Model) -> &str {
    &person.email
}

async fn pairings_page<C: ConnectionTrait>(
    db: &C,
    programme: &programme::Model,
    after: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<RowPage> {
    let mut query = pairing::Entity::find()
        .filter(pairing::Column::ProgrammeId.eq(programme.id))
        .order_by_asc(pairing::Column::Id)
        .limit(PAGE);
    if let Some(after) = after {
        query = query.filter(pairing::Column::Id.gt(after));
    }
    let pairings = query.all(db).await?;
    let ids: Vec<Uuid> = pairings.iter().map(|p| p.id).collect();
    let mentees = mentees_of(db, ids.clone()).await?;
    let activity = health::activity_of(db, &ids, now).await?;
    let people = people(
        db,
        pairings
            .iter()
            .map(|p| p.mentor_id)
            .chain(mentees.values().flatten().copied()),
    )
    .await?;
    let no_activity = health::Activity::default();
    let rows = pairings
        .iter()
        .map(|p| {
            let activity = activity.get(&p.id).unwrap_or(&no_activity);
            // The team sees ratings: health as admins see it.
            let facts = activity.facts(p, programme.session_cadence_days);
            let mentor = people.get(&p.mentor_id);
            vec![
                p.id.to_string(),
                p.status.to_value(),
                health::health(&facts, now).name().to_owned(),
                mentor.map(|m| m.display_name.clone()).unwrap_or_default(),
                mentor.map(|m| m.email.clone()).unwrap_or_default(),
                joined(mentees.get(&p.id), &people, display_name),
                joined(mentees.get(&p.id), &people, email),
                p.score.map(|s| format!("{s:.3}")).unwrap_or_default(),
                at(p.created_at),
                at_opt(p.decided_at),
                at_opt(p.paused_at),
                at_opt(p.ended_at),
                at_opt(activity.last_held_at),
                at_opt(activity.next_session.as_ref().map(|s| s.starts_at)),
            ]
        })
        .collect();
    Ok(RowPage {
        rows,
        next_after: next_after(&ids),
    })
}

async fn sessions_page<C: ConnectionTrait>(
    db: &C,
    programme_id: Uuid,
    after: Option<Uuid>,
) -> AppResult<RowPage> {
    let of_programme = Query::select()
        .column(pairing::Column::Id)
        .from(pairing::Entity)
        .and_where(pairing::Column::ProgrammeId.eq(programme_id))
        .to_owned();
    let mut query = mentoring_session::Entity::find()
        .filter(mentoring_session::Column::PairingId.in_subquery(of_programme))
        .order_by_asc(mentoring_session::Column::Id)
        .limit(PAGE);
    if let Some(after) = after {
        query = query.filter(mentoring_session::Column::Id.gt(after));
    }
    let sessions = query.all(db).await?;
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let mut pairing_ids: Vec<Uuid> = sessions.iter().map(|s| s.pairing_id).collect();
    pairing_ids.sort_unstable();
    pairing_ids.dedup();
    let mentors: HashMap<Uuid, Uuid> = if pairing_ids.is_empty() {
        HashMap::new()
    } else {
        pairing::Entity::find()
            .select_only()
            .column(pairing::Column::Id)
            .column(pairing::Column::MentorId)
            .filter(pairing::Column::Id.is_in(pairing_ids.clone()))
            .into_tuple::<(Uuid, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let mentees = mentees_of(db, pairing_ids).await?;
    let topics = topics_of(db, &ids).await?;
    let people = people(
        db,
        mentors
            .values()
            .copied()
            .chain(mentees.values().flatten().copied()),
    )
    .await?;
    let rows = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.pairing_id.to_string(),
                at(s.starts_at),
                at(s.ends_at),
                s.status.to_value(),
                s.mode.to_value(),
                mentors
                    .get(&s.pairing_id)
                    .and_then(|m| people.get(m))
                    .map(|m| m.display_name.clone())
                    .unwrap_or_default(),
                joined(mentees.get(&s.pairing_id), &people, display_name),
                topics.get(&s.id).map(|t| t.join("; ")).unwrap_or_default(),
            ]
        })
        .collect();
    Ok(RowPage {
        rows,
        next_after: next_after(&ids),
    })
}

/// Each session's topics by skill name, in name order.
async fn topics_of<C: ConnectionTrait>(
    db: &C,
    session_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<String>>> {
    let mut topics: HashMap<Uuid, Vec<String>> = HashMap::new();
    if session_ids.is_empty() {
        return Ok(topics);
    }
    let links: Vec<(Uuid, Uuid)> = session_topic::Entity::find()
        .select_only()
        .column(session_topic::Column::SessionId)
        .column(session_topic::Column::SkillId)
        .filter(session_topic::Column::SessionId.is_in(session_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut skill_ids: Vec<Uuid> = links.iter().map(|(_, skill)| *skill).collect();
    skill_ids.sort_unstable();
    skill_ids.dedup();
    let names: HashMap<Uuid, String> = if skill_ids.is_empty() {
        HashMap::new()
    } else {
        skill::Entity::find()
            .filter(skill::Column::Id.is_in(skill_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect()
    };
    let mut named: Vec<(Uuid, String)> = links
        .into_iter()
        .filter_map(|(session, skill)| names.get(&skill).map(|name| (session, name.clone())))
        .collect();
    named.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    for (session_id, name) in named {
        topics.entry(session_id).or_default().push(name);
    }
    Ok(topics)
}

/// The metrics export: every figure `programmeMetrics` publishes, one per
/// row (`section`, `group`, `figure`, `value`, `suppressed`), k-anonymous
/// exactly as the GraphQL figures are (the same domain functions compute
/// them). `section` is `summary`, a breakdown's dimension, or `week`.
pub const METRICS_HEADER: &[&str] = &["section", "group", "figure", "value", "suppressed"];

/// The metrics rows for `caller` (analysts and admins; a window of whole
/// weeks, as `programmeMetrics` takes it).
pub async fn metrics_rows(
    source: &MetricsSource,
    caller: &Caller,
    programme_id: Uuid,
    window: (Option<NaiveDate>, Option<NaiveDate>),
    min_group_size: u32,
) -> AppResult<Vec<Row>> {
    let scope = metrics::scope(
        &source.db,
        caller,
        programme_id,
        window.0,
        window.1,
        min_group_size,
    )
    .await?;
    let figures = source.figures(scope);
    let kept = figures.summary().await?;
    let summary = &kept.value;
    let mut rows = Vec::new();
    let hidden = |name: &str| summary.suppressed.iter().any(|hidden| hidden == name);
    let mut figure = |section: &str, group: &str, name: &str, value: Option<String>, suppressed| {
        rows.push(vec![
            section.to_owned(),
            group.to_owned(),
            name.to_owned(),
            value.unwrap_or_default(),
            bool_cell(suppressed),
        ]);
    };
    let counts = [
        ("mentors", summary.mentors),
        ("mentees", summary.mentees),
        ("mentorsTrained", summary.mentors_trained),
        ("activePairings", summary.active_pairings),
        ("completedPairings", summary.completed_pairings),
        ("endedEarlyPairings", summary.ended_early_pairings),
        ("sessionsHeld", summary.sessions_held),
        ("sessionsCancelled", summary.sessions_cancelled),
        ("sessionsNoShow", summary.sessions_no_show),
    ];
    for (name, count) in counts {
        let suppressed = hidden(name);
        let value = (!suppressed).then(|| count.to_string());
        figure("summary", "", name, value, suppressed);
    }
    let shares = [
        ("crossDepartmentShare", summary.cross_department_share),
        ("averageRating", summary.average_rating),
        ("nps", summary.nps),
        ("mentorRetentionRate", summary.mentor_retention_rate),
    ];
    for (name, share) in shares {
        figure("summary", "", name, share.map(decimal), false);
    }
    for (section, dimension) in [
        ("department", Dimension::Department),
        ("generation", Dimension::Generation),
        ("role", Dimension::Role),
        ("seniority", Dimension::Seniority),
    ] {
        for group in figures.breakdown(dimension).await? {
            let shown = !group.suppressed;
            let participants = shown.then(|| group.participants.to_string());
            figure(
                section,
                &group.key,
                "participants",
                participants,
                group.suppressed,
            );
            let held = group.sessions_held.map(|n| n.to_string());
            figure(section, &group.key, "sessionsHeld", held, group.suppressed);
            let rating = group.average_rating.map(decimal);
            figure(
                section,
                &group.key,
                "averageRating",
                rating,
                group.suppressed,
            );
        }
    }
    for point in figures.timeline(&kept, Period::Week).await? {
        let week = point.period_start.to_string();
        figure(
            "week",
            &week,
            "sessionsHeld",
            Some(point.sessions_held.to_string()),
            false,
        );
        let active = Some(point.active_pairings.to_string());
        figure("week", &week, "activePairings", active, false);
        figure(
            "week",
            &week,
            "averageRating",
            point.average_rating.map(decimal),
            false,
        );
    }
    Ok(rows)
}

fn decimal(value: f64) -> String {
    format!("{value:.3}")
}

fn bool_cell(value: bool) -> String {
    if value { "true" } else { "false" }.to_owned()
}
