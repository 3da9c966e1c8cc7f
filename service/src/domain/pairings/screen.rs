//! The intranet's main screen — an employee's pairings with their
//! programme, mentor, mentees, first sessions (with topics) and goals (with
//! skills) — read in one statement of only the columns the screen shows.
//!
//! The general reads ([`super::joined`], the sessions' pages, the goals)
//! take whole rows in three statements so that every API field works on the
//! entities; for this one screen that is most of PostgreSQL's share of a
//! request (docs/benchmarks.md, session 15: this statement costs the backend
//! 560–800 µs where the three cost ≈ 800 µs, and a request answered from one
//! such statement measured 2.6× PostGraphile's throughput). PostgreSQL
//! assembles each pairing as JSON; instants travel as microseconds since the
//! epoch (`extract` is exact from PostgreSQL 14 on), so they come back as
//! stored; the score travels beside the JSON, in binary, as a float written
//! in decimal may not read back to the same bits. SQLite has no such read:
//! [`main_screen`] answers `None` there and callers take the general reads.
//!
//! The pairings are the caller's own, the ones [`super::members::mine_with`]
//! lists (the same condition); what each field shows to whom stays the
//! API's rules (`domain/access.rs`), applied to what this read returns.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{GoalStatus, PairingStatus, SessionMode, SessionStatus};
use entity::pairing;
use sea_orm::sea_query::{Expr, Order, Query};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend};
use serde::Deserialize;
use uuid::Uuid;

use super::members::of_employee_condition;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// One pairing as the main screen shows it (read from the statement's
/// JSON, the score beside it).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ScreenPairing {
    /// The pairing's id.
    pub id: Uuid,
    /// Its status (one of the known states: never a proposal).
    #[serde(deserialize_with = "stored")]
    pub status: PairingStatus,
    /// The matcher's score; None for pairings made by hand.
    #[serde(skip)]
    pub score: Option<f64>,
    /// The mentor's id (the field rules need it).
    pub mentor_id: Uuid,
    /// The programme's name.
    #[serde(rename = "programme")]
    pub programme_name: String,
    /// The mentor's display name.
    #[serde(rename = "mentor")]
    pub mentor_name: String,
    /// The mentees, in id order.
    pub mentees: Vec<Named>,
    /// The first sessions, in id order (the order they were booked).
    pub sessions: Vec<ScreenSession>,
    /// Every goal, in id order.
    pub goals: Vec<ScreenGoal>,
}

/// Something shown by its name: a mentee, a topic, a skill.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Named {
    /// Its id.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
}

/// A session as the main screen shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ScreenSession {
    /// The session's id.
    pub id: Uuid,
    /// When it starts.
    #[serde(deserialize_with = "instant")]
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    #[serde(deserialize_with = "instant")]
    pub ends_at: DateTime<Utc>,
    /// Its status.
    #[serde(deserialize_with = "stored")]
    pub status: SessionStatus,
    /// How it is held.
    #[serde(deserialize_with = "stored")]
    pub mode: SessionMode,
    /// Its topics, in skill id order.
    pub topics: Vec<Named>,
}

/// A goal as the main screen shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ScreenGoal {
    /// The goal's id.
    pub id: Uuid,
    /// What the mentee wants to reach.
    pub description: String,
    /// Where it stands.
    #[serde(deserialize_with = "stored")]
    pub status: GoalStatus,
    /// When it is due, if ever.
    pub due_on: Option<NaiveDate>,
    /// The skill it works on, if it names one.
    pub skill: Option<Named>,
}

/// The pairings the caller mentors or is a mentee of (as
/// [`super::members::mine_with`] lists them: known states, newest first;
/// none for a caller who is no employee), each with its first
/// `sessions_shown` sessions: one statement on PostgreSQL; `None` on SQLite.
pub async fn main_screen(
    db: &DatabaseConnection,
    caller: &Caller,
    sessions_shown: u64,
) -> AppResult<Option<Vec<ScreenPairing>>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let Some(employee) = caller.employee_id else {
        return Ok(Some(Vec::new()));
    };
    // PostgreSQL's LIMIT takes a bigint; a larger page is every session.
    let sessions_shown = i64::try_from(sessions_shown).unwrap_or(i64::MAX);
    let mut query = Query::select();
    query
        .expr(Expr::cust(pairing_as_json(sessions_shown)))
        .column((pairing::Entity, pairing::Column::Score))
        .from(pairing::Entity)
        .cond_where(of_employee_condition(employee, None))
        .order_by((pairing::Entity, pairing::Column::Id), Order::Desc);
    let rows = db.query_all(&query).await?;
    let mut screen = Vec::with_capacity(rows.len());
    for row in &rows {
        let json: String = row.try_get_by_index(0)?;
        let score: Option<f64> = row.try_get_by_index(1)?;
        let pairing: ScreenPairing = serde_json::from_str(&json).map_err(unreadable)?;
        screen.push(ScreenPairing { score, ..pairing });
    }
    Ok(Some(screen))
}

/// The JSON of one row of `pairings` with everything the screen shows. The
/// limit is a number Tandem chose, written into the text (a page size, not
/// the client's text).
fn pairing_as_json(sessions_shown: i64) -> String {
    format!(
        r#"json_build_object(
  'id', "pairings"."id", 'status', "pairings"."status",
  'mentor_id', "pairings"."mentor_id",
  'programme', (SELECT "name" FROM "programmes" WHERE "id" = "pairings"."programme_id"),
  'mentor', (SELECT "display_name" FROM "employees" WHERE "id" = "pairings"."mentor_id"),
  'mentees', (SELECT coalesce(json_agg(json_build_object('id', "e"."id", 'name', "e"."display_name") ORDER BY "pm"."mentee_id"), '[]')
    FROM "pairing_mentees" AS "pm" JOIN "employees" AS "e" ON "e"."id" = "pm"."mentee_id"
    WHERE "pm"."pairing_id" = "pairings"."id"),
  'sessions', (SELECT coalesce(json_agg(json_build_object(
      'id', "s"."id",
      'starts_at', (extract(epoch FROM "s"."starts_at") * 1000000)::bigint,
      'ends_at', (extract(epoch FROM "s"."ends_at") * 1000000)::bigint,
      'status', "s"."status", 'mode', "s"."mode",
      'topics', (SELECT coalesce(json_agg(json_build_object('id', "k"."id", 'name', "k"."name") ORDER BY "k"."id"), '[]')
        FROM "session_topics" AS "st" JOIN "skills" AS "k" ON "k"."id" = "st"."skill_id"
        WHERE "st"."session_id" = "s"."id")
    ) ORDER BY "s"."id"), '[]')
    FROM (SELECT "id", "starts_at", "ends_at", "status", "mode" FROM "mentoring_sessions" WHERE "pairing_id" = "pairings"."id" ORDER BY "id" LIMIT {sessions_shown}) AS "s"),
  'goals', (SELECT coalesce(json_agg(json_build_object(
      'id', "g"."id", 'description', "g"."description", 'status', "g"."status", 'due_on', "g"."due_on",
      'skill', CASE WHEN "k"."id" IS NULL THEN NULL ELSE json_build_object('id', "k"."id", 'name', "k"."name") END
    ) ORDER BY "g"."id"), '[]')
    FROM "goals" AS "g" LEFT JOIN "skills" AS "k" ON "k"."id" = "g"."skill_id"
    WHERE "g"."pairing_id" = "pairings"."id")
)::text"#
    )
}

/// A stored enum value back into its type (the column's check constraint
/// makes a failure an internal error, through [`unreadable`]).
fn stored<'de, D, E>(json: D) -> Result<E, D::Error>
where
    D: serde::Deserializer<'de>,
    E: ActiveEnum<Value = String>,
{
    let value = String::deserialize(json)?;
    E::try_from_value(&value).map_err(serde::de::Error::custom)
}

/// Microseconds since the epoch back into the instant stored.
fn instant<'de, D: serde::Deserializer<'de>>(json: D) -> Result<DateTime<Utc>, D::Error> {
    let micros = i64::deserialize(json)?;
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| serde::de::Error::custom(format!("instant out of range: {micros} µs")))
}

fn unreadable(err: serde_json::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("main screen row: {err}"))
}
