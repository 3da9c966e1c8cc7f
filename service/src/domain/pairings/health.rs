//! How a pairing is doing against its programme's `sessionCadenceDays`:
//! one pure rule ([`health`]) over a few facts, and the batched read of
//! those facts ([`activity_of`]: three statements for any number of
//! pairings). The nudges of the notifier and `pairingsNeedingAttention`
//! use the same rule.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::enrolment;
use entity::enums::ParticipantRole;
use entity::enums::{PairingStatus, SessionStatus};
use entity::{mentoring_session, pairing, session_feedback};
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::rules::RUNNING;
use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use sea_orm::QueryTrait as _;

/// A pairing's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// ACTIVE for less than one cadence and no session held yet.
    TooEarly,
    /// A session held or scheduled within the cadence.
    OnTrack,
    /// No session held or scheduled for more than one cadence.
    NeedsCheckIn,
    /// More than two cadences without a session, or a participant rated a
    /// session poorly (1 or 2) within the last two cadences.
    AtRisk,
}

impl Health {
    /// Its name as the API and exports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Health::TooEarly => "TOO_EARLY",
            Health::OnTrack => "ON_TRACK",
            Health::NeedsCheckIn => "NEEDS_CHECK_IN",
            Health::AtRisk => "AT_RISK",
        }
    }

    /// Whether the programme team should look at the pairing.
    pub fn needs_attention(self) -> bool {
        matches!(self, Health::NeedsCheckIn | Health::AtRisk)
    }
}

/// What the rule looks at, for one pairing.
#[derive(Clone, Copy, Debug)]
pub struct Facts {
    /// Its status.
    pub status: PairingStatus,
    /// When it last changed state (accepted, resumed): the cadence counts
    /// from there until a session is held.
    pub active_since: DateTime<Utc>,
    /// The programme's cadence in days (at least 1 is used).
    pub cadence_days: i32,
    /// The start of its latest HELD session.
    pub last_held_at: Option<DateTime<Utc>>,
    /// The start of its next SCHEDULED session still to come.
    pub next_scheduled_at: Option<DateTime<Utc>>,
    /// When a participant last rated one of its sessions 1 or 2.
    pub last_poor_rating_at: Option<DateTime<Utc>>,
}

/// The health of a pairing at `now`. Only an ACTIVE pairing is measured
/// against the cadence; a paused one is not (only a poor rating puts it at
/// risk), one that ended or was never accepted is on track by definition.
pub fn health(facts: &Facts, now: DateTime<Utc>) -> Health {
    let cadence = Duration::days(i64::from(facts.cadence_days.max(1)));
    let two_cadences = cadence + cadence;
    let poor = facts
        .last_poor_rating_at
        .is_some_and(|at| now.signed_duration_since(at) <= two_cadences);
    match facts.status {
        PairingStatus::Active => {}
        PairingStatus::Paused if poor => return Health::AtRisk,
        _ => return Health::OnTrack,
    }
    if poor {
        return Health::AtRisk;
    }
    if facts
        .next_scheduled_at
        .is_some_and(|at| at.signed_duration_since(now) <= cadence)
    {
        return Health::OnTrack;
    }
    let quiet = now.signed_duration_since(quiet_since(facts));
    if facts.last_held_at.is_none() && quiet < cadence {
        Health::TooEarly
    } else if quiet <= cadence {
        Health::OnTrack
    } else if quiet <= two_cadences {
        Health::NeedsCheckIn
    } else {
        Health::AtRisk
    }
}

/// What the notifier tells of a pairing at `now`, each with the instant it
/// dates from (so one quiet spell or one poor rating is told once, and a
/// new one is told again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nudges {
    /// CADENCE_OVERDUE to the pair: quiet since this instant for more than
    /// one cadence (the health is NEEDS_CHECK_IN or worse).
    pub overdue_since: Option<DateTime<Utc>>,
    /// PAIRING_AT_RISK to the programme team and the supervisor: quiet since
    /// this instant for more than two cadences, or a poor rating given then.
    pub at_risk_since: Option<DateTime<Utc>>,
}

/// The nudges [`health`] calls for at `now`: only an ACTIVE pairing is
/// nudged (a paused, ended or proposed one never is), and by the same
/// thresholds that set its health.
pub fn nudges(facts: &Facts, now: DateTime<Utc>) -> Nudges {
    if facts.status != PairingStatus::Active {
        return Nudges::default();
    }
    let since = quiet_since(facts);
    let quiet = match health(
        &Facts {
            last_poor_rating_at: None,
            ..*facts
        },
        now,
    ) {
        Health::NeedsCheckIn => (Some(since), None),
        Health::AtRisk => (Some(since), Some(since)),
        Health::TooEarly | Health::OnTrack => (None, None),
    };
    let poor = facts
        .last_poor_rating_at
        .filter(|_| health(facts, now) == Health::AtRisk && quiet.1.is_none());
    Nudges {
        overdue_since: quiet.0,
        at_risk_since: quiet.1.or(poor),
    }
}

/// Since when the pair has been quiet: its latest held session, or its
/// start (acceptance, resumption) when that is later or none was held.
fn quiet_since(facts: &Facts) -> DateTime<Utc> {
    facts
        .last_held_at
        .map_or(facts.active_since, |held| held.max(facts.active_since))
}

/// The sessions-side facts of one pairing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// The start of its latest HELD session.
    pub last_held_at: Option<DateTime<Utc>>,
    /// Its next SCHEDULED session still to come.
    pub next_session: Option<mentoring_session::Model>,
    /// When a participant last rated one of its sessions 1 or 2.
    pub last_poor_rating_at: Option<DateTime<Utc>>,
}

impl Facts {
    /// The facts as someone may weigh them: without the ratings unless
    /// they are told of them ([`access::told_of_ratings`]).
    pub fn as_seen(self, told_of_ratings: bool) -> Facts {
        Facts {
            last_poor_rating_at: self.last_poor_rating_at.filter(|_| told_of_ratings),
            ..self
        }
    }
}

impl Activity {
    /// The facts of the rule for `pairing`, in a programme of this cadence.
    pub fn facts(&self, pairing: &pairing::Model, cadence_days: i32) -> Facts {
        Facts {
            status: pairing.status,
            active_since: pairing.updated_at,
            cadence_days,
            last_held_at: self.last_held_at,
            next_scheduled_at: self.next_session.as_ref().map(|s| s.starts_at),
            last_poor_rating_at: self.last_poor_rating_at,
        }
    }
}

/// Ids per statement: under every backend's parameter cap.
const CHUNK: usize = 10_000;

/// The [`Activity`] of each of these pairings at `now`: four statements
/// per 10,000 pairings, whatever their number of sessions.
pub async fn activity_of<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Activity>> {
    let mut found: HashMap<Uuid, Activity> = HashMap::new();
    for chunk in pairing_ids.chunks(CHUNK) {
        let held: Vec<(Uuid, Option<DateTime<Utc>>)> = mentoring_session::Entity::find()
            .select_only()
            .column(mentoring_session::Column::PairingId)
            .column_as(mentoring_session::Column::StartsAt.max(), "last_held_at")
            .filter(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .filter(mentoring_session::Column::Status.eq(SessionStatus::Held))
            .filter(mentoring_session::Column::StartsAt.lte(now))
            .group_by(mentoring_session::Column::PairingId)
            .into_tuple()
            .all(db)
            .await?;
        for (pairing_id, at) in held {
            found.entry(pairing_id).or_default().last_held_at = at;
        }
        // The soonest start per pairing first (grouped), then only those
        // sessions: however many a pair booked ahead, one row each.
        let soonest: Vec<(Uuid, Option<DateTime<Utc>>)> = mentoring_session::Entity::find()
            .select_only()
            .column(mentoring_session::Column::PairingId)
            .column_as(mentoring_session::Column::StartsAt.min(), "next_at")
            .filter(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
            .filter(mentoring_session::Column::StartsAt.gt(now))
            .group_by(mentoring_session::Column::PairingId)
            .into_tuple()
            .all(db)
            .await?;
        let starts: Vec<DateTime<Utc>> = soonest.iter().filter_map(|(_, at)| *at).collect();
        let upcoming = if starts.is_empty() {
            Vec::new()
        } else {
            mentoring_session::Entity::find()
                .filter(
                    mentoring_session::Column::PairingId.is_in(soonest.iter().map(|(id, _)| *id)),
                )
                .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
                .filter(mentoring_session::Column::StartsAt.is_in(starts))
                .order_by_asc(mentoring_session::Column::StartsAt)
                .order_by_asc(mentoring_session::Column::Id)
                .all(db)
                .await?
        };
        for session in upcoming {
            let activity = found.entry(session.pairing_id).or_default();
            if activity.next_session.is_none() {
                activity.next_session = Some(session);
            }
        }
        for (pairing_id, at) in poor_ratings(db, chunk).await? {
            found.entry(pairing_id).or_default().last_poor_rating_at = Some(at);
        }
    }
    Ok(found)
}

/// (pairing, latest submission) of ratings of 1 or 2: one joined, grouped statement.
async fn poor_ratings<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
) -> AppResult<Vec<(Uuid, DateTime<Utc>)>> {
    // Scoped here: its `max` would shadow `Ord::max` in the rule above.
    use sea_orm::sea_query::ExprTrait as _;
    let session = |c: mentoring_session::Column| (mentoring_session::Entity, c);
    let feedback = |c: session_feedback::Column| (session_feedback::Entity, c);
    let query = Query::select()
        .column(session(mentoring_session::Column::PairingId))
        .expr_as(
            Func::max(Expr::col(feedback(session_feedback::Column::SubmittedAt))),
            Alias::new("last_poor"),
        )
        .from(session_feedback::Entity)
        .inner_join(
            mentoring_session::Entity,
            Expr::col(session(mentoring_session::Column::Id))
                .equals(feedback(session_feedback::Column::SessionId)),
        )
        .and_where(
            Expr::col(session(mentoring_session::Column::PairingId))
                .is_in(pairing_ids.iter().copied()),
        )
        .and_where(Expr::col(feedback(session_feedback::Column::Rating)).lte(2))
        .group_by_col(session(mentoring_session::Column::PairingId))
        .to_owned();
    let mut rows = Vec::new();
    for row in db.query_all(&query).await? {
        let pairing_id: Uuid = row.try_get("", "pairing_id")?;
        let at: Option<DateTime<Utc>> = row.try_get("", "last_poor")?;
        match at {
            Some(at) => rows.push((pairing_id, at)),
            None => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "a grouped poor rating without a time"
                )));
            }
        }
    }
    Ok(rows)
}

/// Those of `pairings` (a query over one programme's pairings, of this
/// cadence) whose health may call for attention at `now`: ACTIVE ones
/// started more than a cadence ago with no session held within the cadence
/// before `now` nor booked within it after, and those rated 1–2 within two
/// cadences. A superset (its bounds are inclusive): [`health`] decides on
/// each. Sessions are read through their (pairing, status, start) index
/// around `now` only, so the cost does not grow with the history.
pub async fn attention_candidates(
    db: &DatabaseConnection,
    pairings: sea_orm::Select<pairing::Entity>,
    cadence_days: i32,
    now: DateTime<Utc>,
) -> AppResult<Vec<pairing::Model>> {
    use sea_orm::sea_query::ExprTrait as _;
    use sea_orm::{ActiveEnum as _, Condition};
    let cadence = Duration::days(i64::from(Ord::max(cadence_days, 1)));
    let (Some(since), Some(until), Some(rated_since)) = (
        now.checked_sub_signed(cadence),
        now.checked_add_signed(cadence),
        now.checked_sub_signed(cadence + cadence),
    ) else {
        return Ok(Vec::new());
    };
    let sessions = |column| (mentoring_session::Entity, column);
    let starts = || Expr::col(sessions(mentoring_session::Column::StartsAt));
    let status = || Expr::col(sessions(mentoring_session::Column::Status));
    let busy = Query::select()
        .expr(Expr::val(1))
        .from(mentoring_session::Entity)
        .and_where(
            Expr::col(sessions(mentoring_session::Column::PairingId))
                .equals((pairing::Entity, pairing::Column::Id)),
        )
        .cond_where(
            Condition::any()
                .add(
                    Condition::all()
                        .add(status().eq(SessionStatus::Held.to_value()))
                        .add(starts().gt(since))
                        .add(starts().lte(now)),
                )
                .add(
                    Condition::all()
                        .add(status().eq(SessionStatus::Scheduled.to_value()))
                        .add(starts().gt(now))
                        .add(starts().lt(until)),
                ),
        )
        .to_owned();
    // One statement with the NOT EXISTS inside an OR, on purpose: PostgreSQL
    // then probes the (pairing, status, start) index once per pairing. As a
    // top-level condition it becomes an anti-join, which on a table without
    // fresh statistics was planned as a scan of every session per pairing
    // (seconds for 4,000 pairings); NOT IN was worse still.
    Ok(pairings
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(pairing::Column::Status.eq(PairingStatus::Active))
                        .add(pairing::Column::UpdatedAt.lte(since))
                        .add(Expr::exists(busy).not()),
                )
                .add(pairing::Column::Id.in_subquery(rated_poorly_since(rated_since))),
        )
        .all(db)
        .await?)
}

/// The pairings with a session rated 1 or 2 since `since`, as a
/// sub-query: the ratings first, through their time's index (few, whatever
/// the history).
fn rated_poorly_since(since: DateTime<Utc>) -> sea_orm::sea_query::SelectStatement {
    let rated_sessions = Query::select()
        .column(session_feedback::Column::SessionId)
        .from(session_feedback::Entity)
        .and_where(session_feedback::Column::Rating.lte(2))
        .and_where(session_feedback::Column::SubmittedAt.gte(since))
        .to_owned();
    Query::select()
        .column(mentoring_session::Column::PairingId)
        .from(mentoring_session::Entity)
        .and_where(mentoring_session::Column::Id.in_subquery(rated_sessions))
        .to_owned()
}

/// A page of a programme's running pairings whose health calls for a look
/// (NEEDS_CHECK_IN or AT_RISK), by id: admins see all, a supervisor their
/// mentors' only, anyone else none. The candidates by
/// [`attention_candidates`], their activity in four statements, then the
/// rule in memory.
pub async fn needing_attention(
    db: &DatabaseConnection,
    caller: &Caller,
    programme_id: Uuid,
    page: &PageRequest,
    now: DateTime<Utc>,
) -> AppResult<Page<pairing::Model>> {
    access::require(caller, Area::People)?;
    let programme = crate::domain::programmes::get(db, caller, programme_id).await?;
    let mut query = pairing::Entity::find()
        .filter(pairing::Column::ProgrammeId.eq(programme_id))
        .filter(pairing::Column::Status.is_in(RUNNING));
    if !caller.is_admin() {
        let supervised = enrolment::Entity::find()
            .select_only()
            .column(enrolment::Column::EmployeeId)
            .filter(enrolment::Column::ProgrammeId.eq(programme_id))
            .filter(enrolment::Column::Role.eq(ParticipantRole::Mentor))
            .filter(enrolment::Column::SupervisorId.eq(caller.employee_id.unwrap_or_default()))
            .into_query();
        query = query.filter(pairing::Column::MentorId.in_subquery(supervised));
    }
    let query = query.order_by_asc(pairing::Column::Id);
    let running = attention_candidates(db, query, programme.session_cadence_days, now).await?;
    let ids: Vec<Uuid> = running.iter().map(|p| p.id).collect();
    let activity = activity_of(db, &ids, now).await?;
    let flagged: Vec<pairing::Model> = running
        .into_iter()
        .filter(|p| {
            let facts = activity
                .get(&p.id)
                .cloned()
                .unwrap_or_default()
                .facts(p, programme.session_cadence_days);
            health(&facts, now).needs_attention()
        })
        .collect();
    Ok(Page::from_sorted(&flagged, page, |p| Cursor {
        key: p.id.to_string(),
        id: p.id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default() + Duration::days(n)
    }

    /// An ACTIVE pairing since day 0, cadence 14 days.
    fn facts() -> Facts {
        Facts {
            status: PairingStatus::Active,
            active_since: day(0),
            cadence_days: 14,
            last_held_at: None,
            next_scheduled_at: None,
            last_poor_rating_at: None,
        }
    }

    #[test]
    fn a_new_pairing_without_a_session_is_too_early_for_one_cadence() {
        assert_eq!(health(&facts(), day(13)), Health::TooEarly);
        assert_eq!(health(&facts(), day(15)), Health::NeedsCheckIn);
    }

    #[test]
    fn a_session_held_within_the_cadence_is_on_track() {
        let held = Facts {
            last_held_at: Some(day(10)),
            ..facts()
        };
        assert_eq!(health(&held, day(20)), Health::OnTrack);
        assert_eq!(health(&held, day(25)), Health::NeedsCheckIn);
        assert_eq!(
            health(&held, day(39)),
            Health::AtRisk,
            "more than two cadences"
        );
    }

    #[test]
    fn a_session_booked_within_the_cadence_is_on_track() {
        let booked = Facts {
            next_scheduled_at: Some(day(40)),
            ..facts()
        };
        assert_eq!(health(&booked, day(30)), Health::OnTrack);
        assert_eq!(
            health(&booked, day(20)),
            Health::NeedsCheckIn,
            "booked beyond the cadence: still quiet now"
        );
    }

    #[test]
    fn a_poor_rating_puts_it_at_risk_for_two_cadences() {
        let rated = Facts {
            last_held_at: Some(day(10)),
            last_poor_rating_at: Some(day(11)),
            ..facts()
        };
        assert_eq!(health(&rated, day(12)), Health::AtRisk);
        let met_again = Facts {
            last_held_at: Some(day(38)),
            ..rated
        };
        assert_eq!(health(&met_again, day(39)), Health::AtRisk, "28 days after");
        assert_eq!(
            health(&met_again, day(40)),
            Health::OnTrack,
            "29 days after"
        );
    }

    #[test]
    fn a_paused_or_ended_pairing_is_not_measured_against_the_cadence() {
        for status in [PairingStatus::Paused, PairingStatus::Completed] {
            let quiet = Facts { status, ..facts() };
            assert_eq!(health(&quiet, day(100)), Health::OnTrack, "{status:?}");
        }
        let paused_poorly = Facts {
            status: PairingStatus::Paused,
            last_poor_rating_at: Some(day(90)),
            ..facts()
        };
        assert_eq!(health(&paused_poorly, day(100)), Health::AtRisk);
    }

    #[test]
    fn the_cadence_counts_from_a_resumption() {
        let resumed = Facts {
            active_since: day(50),
            last_held_at: Some(day(10)),
            ..facts()
        };
        assert_eq!(health(&resumed, day(60)), Health::OnTrack);
    }

    #[test]
    fn a_cadence_of_zero_or_less_counts_as_one_day() {
        let daily = Facts {
            cadence_days: 0,
            ..facts()
        };
        assert_eq!(health(&daily, day(3)), Health::AtRisk);
    }

    #[test]
    fn attention_is_for_check_ins_and_risks() {
        assert!(Health::NeedsCheckIn.needs_attention() && Health::AtRisk.needs_attention());
        assert!(!Health::OnTrack.needs_attention() && !Health::TooEarly.needs_attention());
    }

    #[test]
    fn a_pair_quiet_for_one_cadence_is_nudged_as_overdue_from_its_start() {
        assert_eq!(nudges(&facts(), day(13)), Nudges::default());
        let nudged = nudges(&facts(), day(15));
        assert_eq!(nudged.overdue_since, Some(day(0)));
        assert_eq!(nudged.at_risk_since, None);
    }

    #[test]
    fn a_pair_quiet_for_two_cadences_is_also_at_risk_from_the_same_instant() {
        let held = Facts {
            last_held_at: Some(day(10)),
            ..facts()
        };
        let nudged = nudges(&held, day(39));
        assert_eq!(nudged.overdue_since, Some(day(10)));
        assert_eq!(nudged.at_risk_since, Some(day(10)));
    }

    #[test]
    fn a_session_booked_within_the_cadence_stops_the_nudges() {
        let booked = Facts {
            next_scheduled_at: Some(day(20)),
            ..facts()
        };
        assert_eq!(nudges(&booked, day(15)), Nudges::default());
    }

    #[test]
    fn a_poor_rating_puts_an_on_track_pair_at_risk_from_the_rating() {
        let rated = Facts {
            last_held_at: Some(day(10)),
            last_poor_rating_at: Some(day(11)),
            ..facts()
        };
        let nudged = nudges(&rated, day(12));
        assert_eq!(nudged.overdue_since, None);
        assert_eq!(nudged.at_risk_since, Some(day(11)));
    }

    #[test]
    fn a_paused_or_ended_pair_is_never_nudged() {
        for status in [
            PairingStatus::Paused,
            PairingStatus::Completed,
            PairingStatus::EndedEarly,
            PairingStatus::Proposed,
        ] {
            let quiet = Facts {
                status,
                last_poor_rating_at: Some(day(40)),
                ..facts()
            };
            assert_eq!(nudges(&quiet, day(41)), Nudges::default(), "{status:?}");
        }
    }
}
