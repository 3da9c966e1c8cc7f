//! Loads a programme's matching problem from the database, runs the pure
//! matcher off the async threads, and stores its proposals.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike as _, Duration, Offset as _, TimeZone as _, Utc};
use entity::enums::{
    EnrolmentStatus, PairingStatus, ParticipantRole, ProgrammeFormat, ProgrammeStatus,
    SkillDirection,
};
use entity::{
    department, employee, enrolment, pairing, pairing_mentee, programme, skill, skill_profile,
    weekly_slot,
};
use sea_orm::{
    ActiveEnum as _, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{Mentee, Mentor, Outcome, Person, Problem, Week, Weights, solver};
use crate::domain::access::{self, Area};
use crate::domain::audit::{self, Actor, AuditEntry};
use crate::domain::availability::{self, Interval, WeeklySlot};
use crate::domain::notifications::outbox::{self, Change};
use crate::domain::pairings::members::{self, PlacesHeld};
use crate::domain::pairings::reasons::{self, MatchReason};
use crate::domain::pairings::{PairingRules, lifecycle, rules};
use crate::error::{AppError, AppResult};

/// Length of a session the availability overlap must hold.
const SESSION_MINUTES: u32 = 60;

/// A mentee the matcher could not place, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmatched {
    /// The mentee.
    pub mentee_id: Uuid,
    /// Why, for the programme team.
    pub reason: String,
}

/// The matcher's settings in force.
#[derive(Clone, Copy, Debug)]
pub struct MatchSettings {
    /// Management-chain exclusion.
    pub rules: PairingRules,
    /// Term weights.
    pub weights: Weights,
}

/// Runs the matcher for a programme in MATCHING and stores its proposals
/// (PROPOSED pairings with score and reasons); answers them and the mentees
/// left unmatched.
#[tracing::instrument(name = "matching.propose", skip_all, fields(programme = %programme_id))]
pub async fn propose_matches(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    settings: MatchSettings,
    programme_id: Uuid,
) -> AppResult<(Vec<pairing::Model>, Vec<Unmatched>)> {
    access::require(actor.caller, Area::Administration)?;
    let txn = crate::domain::write_txn(db).await?;
    // The pairing lifecycle's guard: a second run, a pairing made by hand or
    // a proposal accepted meanwhile waits, and this run sees the places as
    // they are.
    let lock = lifecycle::lock_programme(&txn, programme_id).await?;
    let found = lock.programme(programme_id)?;
    if found.status != ProgrammeStatus::Matching {
        return Err(AppError::Conflict(format!(
            "the programme is {}: the matcher runs while it is MATCHING",
            found.status.to_value()
        )));
    }
    let problem = load_problem(&txn, found, settings, false).await?;
    let shared = std::sync::Arc::new(problem);
    let input = shared.clone();
    let outcome =
        tokio::task::spawn_blocking(move || super::propose(&input, &solver::Settings::default()))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("matcher failed: {e}")))?;
    let created = store(&txn, &shared, &outcome, programme_id).await?;
    let unmatched = unmatched_of(&shared, &outcome);
    let details = json!({
        "proposed": created.len(),
        "unmatched": unmatched.len(),
        "totalScore": outcome.total_score,
        "certifiedOptimal": outcome.certified,
    });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("matching.propose", "programme", programme_id, details),
    )
    .await?;
    txn.commit().await?;
    Ok((created, unmatched))
}

fn unmatched_of(problem: &Problem, outcome: &Outcome) -> Vec<Unmatched> {
    outcome
        .unmatched
        .iter()
        .map(|(mentee, reason)| Unmatched {
            mentee_id: problem.mentees[*mentee].person.id,
            reason: reason.clone(),
        })
        .collect()
}

/// The approved mentees of a programme without a live pairing, and why no
/// mentor can take them now (admins).
pub async fn unmatched_mentees(
    db: &DatabaseConnection,
    caller: &crate::auth::Caller,
    settings: MatchSettings,
    programme_id: Uuid,
) -> AppResult<Vec<Unmatched>> {
    access::require(caller, Area::Administration)?;
    let found = programme::Entity::find_by_id(programme_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("programme"))?;
    let problem = load_problem(db, &found, settings, true).await?;
    let capacities = problem.capacities();
    Ok((0..problem.mentees.len())
        .map(|mentee| Unmatched {
            mentee_id: problem.mentees[mentee].person.id,
            reason: super::why_unmatched(&problem, mentee, &capacities),
        })
        .collect())
}

async fn store<C: ConnectionTrait>(
    db: &C,
    problem: &Problem,
    outcome: &Outcome,
    programme_id: Uuid,
) -> AppResult<Vec<pairing::Model>> {
    let now = Utc::now();
    let mut pairings = Vec::new();
    let mut members = Vec::new();
    for proposal in &outcome.proposals {
        let id = crate::domain::new_id();
        let mut reasons = Vec::new();
        for (mentee, _) in &proposal.mentees {
            for reason in problem.explain(*mentee, proposal.mentor) {
                let detail = if proposal.mentees.len() > 1 {
                    format!(
                        "{}: {}",
                        problem.mentees[*mentee].person.name, reason.detail
                    )
                } else {
                    reason.detail
                };
                reasons.push(MatchReason {
                    kind: reason.kind.to_owned(),
                    detail,
                    weight: reason.weight,
                });
            }
            members.push(pairing_mentee::Model {
                pairing_id: id,
                mentee_id: problem.mentees[*mentee].person.id,
            });
        }
        let score = proposal.mentees.iter().map(|(_, s)| s).sum::<f64>()
            / proposal.mentees.len().max(1) as f64;
        pairings.push(pairing::Model {
            id,
            programme_id,
            mentor_id: problem.mentors[proposal.mentor].person.id,
            status: PairingStatus::Proposed,
            score: Some(score),
            reasons: reasons::to_stored(&reasons),
            end_reason: None,
            decided_at: None,
            ended_at: None,
            paused_at: None,
            pause_reason: None,
            created_at: now,
            updated_at: now,
        });
    }
    for chunk in pairings.chunks(1_000) {
        let rows = chunk
            .iter()
            .cloned()
            .map(sea_orm::IntoActiveModel::into_active_model);
        pairing::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    for chunk in members.chunks(5_000) {
        let rows = chunk
            .iter()
            .cloned()
            .map(sea_orm::IntoActiveModel::into_active_model);
        pairing_mentee::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    let ids: Vec<uuid::Uuid> = pairings.iter().map(|p| p.id).collect();
    outbox::record(db, Change::PairingsProposed(programme_id, &ids), now).await?;
    Ok(pairings)
}

/// Everything the matcher needs, in a fixed order (ids ascending); mentors
/// without a place left are kept only to explain why a mentee is unmatched.
async fn load_problem<C: ConnectionTrait>(
    db: &C,
    found: &programme::Model,
    settings: MatchSettings,
    include_full_mentors: bool,
) -> AppResult<Problem> {
    let enrolments = enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(found.id))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Approved))
        .order_by_asc(enrolment::Column::EmployeeId)
        .all(db)
        .await?;
    let PlacesHeld { taken, placed } =
        members::places_held(db, found.id, &rules::HOLDING_PLACES, None).await?;
    let mentor_rows: Vec<(Uuid, usize)> = enrolments
        .iter()
        .filter(|e| e.role == ParticipantRole::Mentor)
        .filter(|e| rules::is_ready_to_mentor(found.requires_mentor_training, e))
        .map(|e| {
            let places = rules::places(found.format, found.max_mentees_per_mentor, e.capacity);
            (
                e.employee_id,
                places.saturating_sub(taken.get(&e.employee_id).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, room)| include_full_mentors || *room > 0)
        .collect();
    let mentee_ids: Vec<Uuid> = enrolments
        .iter()
        .filter(|e| e.role == ParticipantRole::Mentee && !placed.contains(&e.employee_id))
        .map(|e| e.employee_id)
        .collect();
    let everyone: Vec<Uuid> = mentor_rows
        .iter()
        .map(|(id, _)| *id)
        .chain(mentee_ids.iter().copied())
        .collect();

    let managers: HashMap<Uuid, Option<Uuid>> = employee::Entity::find()
        .select_only()
        .column(employee::Column::Id)
        .column(employee::Column::ManagerId)
        .into_tuple::<(Uuid, Option<Uuid>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let departments: HashMap<Uuid, String> = department::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let skills: Vec<skill::Model> = skill::Entity::find()
        .order_by_asc(skill::Column::Slug)
        .all(db)
        .await?;
    let skill_index: HashMap<Uuid, usize> =
        skills.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut people: HashMap<Uuid, employee::Model> = HashMap::new();
    let mut profiles: HashMap<Uuid, Vec<skill_profile::Model>> = HashMap::new();
    let mut slots: HashMap<Uuid, Vec<weekly_slot::Model>> = HashMap::new();
    for chunk in everyone.chunks(10_000) {
        let ids = || chunk.iter().copied();
        for person in employee::Entity::find()
            .filter(employee::Column::Id.is_in(ids()))
            .all(db)
            .await?
        {
            people.insert(person.id, person);
        }
        for row in skill_profile::Entity::find()
            .filter(skill_profile::Column::EmployeeId.is_in(ids()))
            .all(db)
            .await?
        {
            profiles.entry(row.employee_id).or_default().push(row);
        }
        for row in weekly_slot::Entity::find()
            .filter(weekly_slot::Column::EmployeeId.is_in(ids()))
            .all(db)
            .await?
        {
            slots.entry(row.employee_id).or_default().push(row);
        }
    }
    let declined: HashSet<(Uuid, Uuid)> = declined_pairs(db, &mentee_ids).await?;
    let depth = settings.rules.excluded_chain_depth;
    let person = |id: Uuid| -> Option<Person> {
        let row = people.get(&id)?;
        let zone: chrono_tz::Tz = row.timezone.parse().unwrap_or(chrono_tz::UTC);
        let chain = rules::management_chain(id, depth, |e| managers.get(&e).copied().flatten());
        Some(Person {
            id,
            name: row.display_name.clone(),
            seniority: row.seniority_level,
            department: row
                .department_id
                .and_then(|d| Some((d, departments.get(&d)?.clone()))),
            generation: row.generation,
            utc_offset_minutes: zone
                .offset_from_utc_datetime(&Utc::now().naive_utc())
                .fix()
                .local_minus_utc()
                / 60,
            chain,
            week: week_of(slots.get(&id).map_or(&[][..], Vec::as_slice), zone),
        })
    };
    let levels = |id: Uuid, direction: SkillDirection| -> Vec<(usize, u8)> {
        profiles
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|p| p.direction == direction)
            .filter_map(|p| Some((*skill_index.get(&p.skill_id)?, weight_of(p))))
            .collect()
    };
    let mentors = mentor_rows
        .iter()
        .filter_map(|(id, room)| {
            let mut offers = vec![0u8; skills.len()];
            for (skill, level) in levels(*id, SkillDirection::Offers) {
                offers[skill] = level;
            }
            Some(Mentor {
                person: person(*id)?,
                capacity: *room,
                offers,
            })
        })
        .collect();
    let mentees = mentee_ids
        .iter()
        .filter_map(|id| {
            Some(Mentee {
                person: person(*id)?,
                wants: levels(*id, SkillDirection::Wants),
            })
        })
        .collect();
    Ok(Problem {
        mentors,
        mentees,
        declined,
        skill_names: skills.into_iter().map(|s| s.name).collect(),
        session_minutes: SESSION_MINUTES,
        group: found.format == ProgrammeFormat::Group,
        weights: settings.weights,
    })
}

/// The level a profile entry weighs in the score, 0 to 4. A WANTS entry
/// stored as 0 (accepted before levels were refused below 1) wants the
/// basics: it counts as 1 rather than as nothing.
fn weight_of(entry: &skill_profile::Model) -> u8 {
    let floor = match entry.direction {
        SkillDirection::Wants => 1,
        SkillDirection::Offers => 0,
    };
    u8::try_from(entry.level.clamp(floor, 4)).unwrap_or(0)
}

/// (mentor, mentee) pairs of DECLINED pairings, in any programme: one
/// joined statement per 10,000 mentees (under every backend's parameter cap).
async fn declined_pairs<C: ConnectionTrait>(
    db: &C,
    mentees: &[Uuid],
) -> AppResult<HashSet<(Uuid, Uuid)>> {
    let membership_of_pairing: sea_orm::RelationDef =
        pairing_mentee::Entity::belongs_to(pairing::Entity)
            .from(pairing_mentee::Column::PairingId)
            .to(pairing::Column::Id)
            .into();
    let mut pairs = HashSet::new();
    for chunk in mentees.chunks(10_000) {
        let rows: Vec<(Uuid, Uuid)> = pairing_mentee::Entity::find()
            .select_only()
            .column(pairing::Column::MentorId)
            .column(pairing_mentee::Column::MenteeId)
            .join(sea_orm::JoinType::InnerJoin, membership_of_pairing.clone())
            .filter(pairing::Column::Status.eq(PairingStatus::Declined))
            .filter(pairing_mentee::Column::MenteeId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        pairs.extend(rows);
    }
    Ok(pairs)
}

/// A person's weekly slots in their zone as UTC quarter hours of the coming
/// week (next Monday 00:00 UTC on), so clock changes are as they will be.
pub fn week_of(rows: &[weekly_slot::Model], zone: chrono_tz::Tz) -> Week {
    let today = Utc::now().date_naive();
    let monday = today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
    let start = monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let window = Interval {
        start,
        end: start + Duration::weeks(1),
    };
    let weekly: Vec<WeeklySlot> = rows
        .iter()
        .map(|s| WeeklySlot {
            weekday: [
                chrono::Weekday::Mon,
                chrono::Weekday::Tue,
                chrono::Weekday::Wed,
                chrono::Weekday::Thu,
                chrono::Weekday::Fri,
                chrono::Weekday::Sat,
                chrono::Weekday::Sun,
            ][s.weekday.clamp(0, 6) as usize],
            start_minute: s.start_minute.max(0) as u32,
            end_minute: s.end_minute.max(0) as u32,
        })
        .collect();
    let mut week = Week::default();
    for interval in availability::expand_weekly(&weekly, zone, window) {
        let from = ((interval.start - start).num_minutes().max(0) as usize).div_ceil(15);
        let to = (interval.end - start).num_minutes().max(0) as usize / 15;
        for q in from..to {
            week.set(q);
        }
    }
    week
}
