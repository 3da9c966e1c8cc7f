//! Every change of a pairing's status, and the one concurrency guard they
//! share.
//!
//! The guard: a transaction that creates a pairing or moves one first locks
//! the row of the pairing's programme ([`lock_programmes`]) and reads
//! everything it decides on afterwards. Two admins pairing the same mentor,
//! accepting two proposals, running the matcher twice, closing the
//! programme or withdrawing an enrolment at the same instant therefore run
//! one after the other, and each sees what the previous one committed: no
//! mentor gets more mentees than places, no mentee two live pairings, no
//! pairing starts in a closed programme. On PostgreSQL the lock is `SELECT
//! … FOR UPDATE` (READ COMMITTED re-reads the locked row and every later
//! statement sees the committed work of the previous holder); on SQLite
//! every write transaction already holds the database's write lock
//! (`BEGIN IMMEDIATE`, [`write_txn`](crate::domain::write_txn)).
//!
//! The moves themselves go through [`move_pairings`], which needs the
//! [`ProgrammeLock`] as proof: ending stamps the time and the reason and
//! cancels the sessions still to come; deciding stamps the decision time.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{EnrolmentStatus, PairingStatus, ParticipantRole, SessionStatus};
use entity::{employee, enrolment, mentoring_session, pairing, pairing_mentee, programme};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};
use uuid::Uuid;

use super::members;
use super::rules::{self, HOLDING_PLACES, PairingRules, RUNNING, Refusal, Side};
use crate::domain::access::{self, Area};
use crate::domain::audit::{self, Actor, AuditEntry};
use crate::domain::notifications::outbox::{self, Change};
use crate::domain::{employees, write_txn};
use crate::error::{AppError, AppResult};

/// Ids per statement: under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const CHUNK: usize = 10_000;

/// Proof that the transaction holds the row locks of these programmes.
#[derive(Debug)]
pub struct ProgrammeLock {
    programmes: Vec<programme::Model>,
}

impl ProgrammeLock {
    /// The locked programme with this id, as read under the lock.
    pub fn programme(&self, id: Uuid) -> AppResult<&programme::Model> {
        self.programmes
            .iter()
            .find(|p| p.id == id)
            .ok_or(AppError::NotFound("programme"))
    }

    fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.programmes.iter().map(|p| p.id)
    }
}

/// Locks these programmes' rows until the transaction ends, in id order (so
/// two transactions locking overlapping sets cannot deadlock), and answers
/// them as they are now. Unknown ids are skipped.
pub async fn lock_programmes<C: ConnectionTrait>(
    txn: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<ProgrammeLock> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(ProgrammeLock {
            programmes: Vec::new(),
        });
    }
    // FOR NO KEY UPDATE: serialises the lifecycle's writers without
    // blocking inserts that merely reference the programme (an enrolment).
    let programmes = programme::Entity::find()
        .filter(programme::Column::Id.is_in(ids))
        .order_by_asc(programme::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .all(txn)
        .await?;
    Ok(ProgrammeLock { programmes })
}

/// Locks one programme's row; NOT_FOUND if there is none.
pub async fn lock_programme<C: ConnectionTrait>(txn: &C, id: Uuid) -> AppResult<ProgrammeLock> {
    let lock = lock_programmes(txn, [id]).await?;
    lock.programme(id)?;
    Ok(lock)
}

/// One change of status: from any of `from` to `to`.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    /// The states a pairing may leave.
    pub from: &'a [PairingStatus],
    /// The state it reaches.
    pub to: PairingStatus,
    /// Why it ends (stored for ending moves).
    pub reason: Option<&'a str>,
}

impl Move<'_> {
    /// Reaching a final state ends the pairing.
    fn ends(&self) -> bool {
        rules::FINAL.contains(&self.to)
    }

    /// Leaving PROPOSED is the programme team's decision (or a departure's).
    fn decides(&self) -> bool {
        self.from == [PairingStatus::Proposed]
    }

    /// A pairing that ends or pauses loses the sessions still to come (a
    /// proposal has none: deciding one locks nobody's diary).
    fn cancels_future_sessions(&self) -> bool {
        !self.decides() && (self.ends() || self.to == PairingStatus::Paused)
    }
}

/// Moves those of `pairing_ids` that belong to a locked programme and are
/// in one of `change.from`; answers the ids moved (ascending). Leaving
/// PROPOSED stamps `decided_at`; ending stamps `ended_at` and the reason
/// and cancels the pairings' sessions still to come.
pub async fn move_pairings<C: ConnectionTrait>(
    txn: &C,
    lock: &ProgrammeLock,
    pairing_ids: &[Uuid],
    change: Move<'_>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    let mut moving: Vec<Uuid> = Vec::new();
    for chunk in pairing_ids.chunks(CHUNK) {
        let found: Vec<Uuid> = pairing::Entity::find()
            .select_only()
            .column(pairing::Column::Id)
            .filter(pairing::Column::Id.is_in(chunk.iter().copied()))
            .filter(pairing::Column::ProgrammeId.is_in(lock.ids()))
            .filter(pairing::Column::Status.is_in(change.from.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        moving.extend(found);
    }
    moving.sort();
    if moving.is_empty() {
        return Ok(moving);
    }
    let mut update = pairing::Entity::update_many()
        .col_expr(pairing::Column::Status, Expr::value(change.to.to_value()))
        .col_expr(pairing::Column::UpdatedAt, Expr::value(now));
    if change.decides() {
        update = update.col_expr(pairing::Column::DecidedAt, Expr::value(now));
    }
    if change.ends() {
        update = update
            .col_expr(pairing::Column::EndedAt, Expr::value(now))
            .col_expr(pairing::Column::EndReason, Expr::value(change.reason));
    }
    // A pairing is paused exactly while PAUSED: pausing stamps when and
    // why, every other move clears both.
    let pausing = change.to == PairingStatus::Paused;
    update = update
        .col_expr(
            pairing::Column::PausedAt,
            Expr::value(pausing.then_some(now)),
        )
        .col_expr(
            pairing::Column::PauseReason,
            Expr::value(change.reason.filter(|_| pausing)),
        );
    for chunk in moving.chunks(CHUNK) {
        update
            .clone()
            .filter(pairing::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    if change.cancels_future_sessions() {
        // A pause's own reason stays with the pairing; its sessions only say why.
        let reason = match change.to {
            PairingStatus::Paused => "pairing paused",
            _ => change.reason.unwrap_or("pairing ended"),
        };
        let cancelled = cancel_future_sessions(txn, &moving, reason, now).await?;
        outbox::record(txn, Change::SessionsCancelled(&cancelled), now).await?;
    }
    if change.decides() && change.to == PairingStatus::Active {
        outbox::record(txn, Change::PairingsStarted(&moving), now).await?;
    }
    // A declined proposal ends nothing anyone was told of.
    if change.ends() && !change.decides() {
        outbox::record(txn, Change::PairingsEnded(&moving), now).await?;
    }
    Ok(moving)
}

/// Cancels the SCHEDULED sessions of these pairings that start after `now`
/// (a pairing that ends keeps its history and loses its future), and bumps
/// the participants' availability versions so their cached free time is
/// rebuilt. Answers the sessions cancelled.
async fn cancel_future_sessions<C: ConnectionTrait>(
    txn: &C,
    pairing_ids: &[Uuid],
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    let mut people: Vec<Uuid> = Vec::new();
    for chunk in pairing_ids.chunks(CHUNK) {
        let mentors: Vec<Uuid> = pairing::Entity::find()
            .select_only()
            .column(pairing::Column::MentorId)
            .filter(pairing::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        people.extend(mentors);
        people.extend(
            members::mentees_of(txn, chunk)
                .await?
                .into_values()
                .flatten(),
        );
    }
    // One call over everyone: their rows are locked in one sorted order.
    employees::bump_availability(txn, &people).await?;
    let mut cancelled: Vec<Uuid> = Vec::new();
    for chunk in pairing_ids.chunks(CHUNK) {
        let ids: Vec<Uuid> = mentoring_session::Entity::find()
            .select_only()
            .column(mentoring_session::Column::Id)
            .filter(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
            .filter(mentoring_session::Column::StartsAt.gt(now))
            .into_tuple()
            .all(txn)
            .await?;
        cancelled.extend(ids);
    }
    for chunk in cancelled.chunks(CHUNK) {
        mentoring_session::Entity::update_many()
            .col_expr(
                mentoring_session::Column::Status,
                Expr::value(SessionStatus::Cancelled.to_value()),
            )
            .col_expr(mentoring_session::Column::CancelReason, Expr::value(reason))
            .col_expr(
                mentoring_session::Column::Sequence,
                sea_orm::sea_query::ExprTrait::add(
                    Expr::col(mentoring_session::Column::Sequence),
                    1,
                ),
            )
            .col_expr(mentoring_session::Column::UpdatedAt, Expr::value(now))
            .filter(mentoring_session::Column::Id.is_in(chunk.iter().copied()))
            .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
            .exec(txn)
            .await?;
    }
    Ok(cancelled)
}

/// An admin pairs a mentor with mentees by hand: every rule is checked
/// under the programme's lock, then the pairing starts ACTIVE.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    rules: PairingRules,
    programme_id: Uuid,
    mentor_id: Uuid,
    mentee_ids: Vec<Uuid>,
) -> AppResult<pairing::Model> {
    access::require(actor.caller, Area::Administration)?;
    let mentees: Vec<Uuid> = {
        let mut seen = HashSet::new();
        mentee_ids
            .into_iter()
            .filter(|id| seen.insert(*id))
            .collect()
    };
    if mentees.is_empty() {
        return Err(AppError::bad_input(
            "menteeIds",
            "a pairing needs at least one mentee",
        ));
    }
    if mentees.contains(&mentor_id) {
        return Err(AppError::bad_input(
            "menteeIds",
            "the mentor cannot be their own mentee",
        ));
    }
    let txn = write_txn(db).await?;
    let lock = lock_programme(&txn, programme_id).await?;
    let programme = lock.programme(programme_id)?;
    if let Some(refusal) = rules::size_refusal(
        programme.format,
        programme.max_mentees_per_mentor,
        mentees.len(),
    ) {
        return Err(AppError::bad_input("menteeIds", refusal));
    }
    let proposal = Candidate {
        programme,
        mentor_id,
        mentee_ids: &mentees,
        pairing_id: None,
    };
    check_candidate(&txn, rules, &proposal, &HOLDING_PLACES).await?;
    let now = Utc::now();
    let created = pairing::ActiveModel {
        id: Set(crate::domain::new_id()),
        programme_id: Set(programme_id),
        mentor_id: Set(mentor_id),
        status: Set(PairingStatus::Active),
        score: Set(None),
        reasons: Set(super::reasons::to_stored(&[])),
        end_reason: Set(None),
        decided_at: Set(Some(now)),
        ended_at: Set(None),
        paused_at: Set(None),
        pause_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let rows = mentees.iter().map(|m| pairing_mentee::ActiveModel {
        pairing_id: Set(created.id),
        mentee_id: Set(*m),
    });
    pairing_mentee::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    let details = serde_json::json!({ "mentor": mentor_id, "mentees": mentees });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("pairing.create", "pairing", created.id, details),
    )
    .await?;
    outbox::record(&txn, Change::PairingsStarted(&[created.id]), now).await?;
    txn.commit().await?;
    Ok(created)
}

/// A pairing about to start: by hand, or a proposal being accepted.
struct Candidate<'a> {
    programme: &'a programme::Model,
    mentor_id: Uuid,
    mentee_ids: &'a [Uuid],
    /// The proposal being accepted (its own places are not "taken").
    pairing_id: Option<Uuid>,
}

/// Every rule a starting pairing obeys, read under the programme's lock:
/// the programme is pairing, everyone's enrolment is approved, the mentor
/// is trained and supervised where required, reverse mentoring outside the
/// management chain, and room — places held by pairings in `held_by`.
async fn check_candidate<C: ConnectionTrait>(
    txn: &C,
    pairing_rules: PairingRules,
    candidate: &Candidate<'_>,
    held_by: &[PairingStatus],
) -> AppResult<()> {
    let programme = candidate.programme;
    if !rules::starts_pairings(programme.status) {
        return Err(AppError::Conflict(format!(
            "the programme is {}: pairings are made while it is MATCHING or ACTIVE",
            programme.status.to_value()
        )));
    }
    let mentor = approved_enrolment(
        txn,
        programme.id,
        candidate.mentor_id,
        ParticipantRole::Mentor,
    )
    .await?;
    if !rules::is_ready_to_mentor(programme.requires_mentor_training, &mentor) {
        return Err(AppError::Conflict(
            "the mentor must be trained and have a supervisor before being paired".into(),
        ));
    }
    for mentee in candidate.mentee_ids {
        approved_enrolment(txn, programme.id, *mentee, ParticipantRole::Mentee).await?;
    }
    check_people(
        txn,
        pairing_rules,
        candidate.mentor_id,
        candidate.mentee_ids,
    )
    .await?;
    let places = rules::places(
        programme.format,
        programme.max_mentees_per_mentor,
        mentor.capacity,
    );
    check_room(txn, candidate, places, held_by).await
}

async fn approved_enrolment<C: ConnectionTrait>(
    txn: &C,
    programme_id: Uuid,
    employee_id: Uuid,
    role: ParticipantRole,
) -> AppResult<enrolment::Model> {
    let found = enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(programme_id))
        .filter(enrolment::Column::EmployeeId.eq(employee_id))
        .filter(enrolment::Column::Role.eq(role))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Approved))
        .one(txn)
        .await?;
    match found {
        Some(enrolment) => Ok(enrolment),
        None => Err(AppError::Conflict(format!(
            "{} has no approved {} enrolment in this programme",
            display_name(txn, employee_id).await?,
            role.to_value()
        ))),
    }
}

/// An employee's display name for a message ("someone" if unknown).
async fn display_name<C: ConnectionTrait>(txn: &C, id: Uuid) -> AppResult<String> {
    let name: Option<String> = employee::Entity::find_by_id(id)
        .select_only()
        .column(employee::Column::DisplayName)
        .into_tuple()
        .one(txn)
        .await?;
    Ok(name.unwrap_or_else(|| "someone".to_owned()))
}

/// Reverse mentoring and no close management relation, either way: the
/// people and their managers up to the excluded depth are read level by
/// level (one statement per level), then [`rules::refusal`] decides.
async fn check_people<C: ConnectionTrait>(
    txn: &C,
    pairing_rules: PairingRules,
    mentor_id: Uuid,
    mentee_ids: &[Uuid],
) -> AppResult<()> {
    let depth = pairing_rules.excluded_chain_depth;
    let mut people: HashMap<Uuid, employee::Model> = HashMap::new();
    let mut frontier: Vec<Uuid> = std::iter::once(mentor_id)
        .chain(mentee_ids.iter().copied())
        .collect();
    for _ in 0..=depth {
        frontier.retain(|id| !people.contains_key(id));
        if frontier.is_empty() {
            break;
        }
        let found = employee::Entity::find()
            .filter(employee::Column::Id.is_in(frontier.iter().copied()))
            .all(txn)
            .await?;
        frontier = found.iter().filter_map(|e| e.manager_id).collect();
        people.extend(found.into_iter().map(|e| (e.id, e)));
    }
    let manager_of = |id: Uuid| people.get(&id).and_then(|e| e.manager_id);
    let mentor = people
        .get(&mentor_id)
        .ok_or(AppError::NotFound("employee"))?;
    let mentor_chain = rules::management_chain(mentor_id, depth, manager_of);
    for mentee_id in mentee_ids {
        let mentee = people
            .get(mentee_id)
            .ok_or(AppError::NotFound("employee"))?;
        let mentee_chain = rules::management_chain(*mentee_id, depth, manager_of);
        let refusal = rules::refusal(
            Side {
                id: mentor_id,
                seniority: mentor.seniority_level,
                chain: &mentor_chain,
            },
            Side {
                id: *mentee_id,
                seniority: mentee.seniority_level,
                chain: &mentee_chain,
            },
        );
        match refusal {
            None => {}
            Some(Refusal::SamePerson) => {
                return Err(AppError::bad_input(
                    "menteeIds",
                    "the mentor cannot be their own mentee",
                ));
            }
            Some(Refusal::MentorNotJunior) => {
                return Err(AppError::Conflict(format!(
                    "reverse mentoring: the mentor must be junior in seniority to {}",
                    mentee.display_name
                )));
            }
            Some(Refusal::TooCloseInChain) => {
                return Err(AppError::Conflict(format!(
                    "{} and the mentor are too close in the management chain",
                    mentee.display_name
                )));
            }
        }
    }
    Ok(())
}

/// The mentor has room for the candidate's mentees beside the places other
/// pairings in `held_by` hold, and no mentee is in such a pairing already.
async fn check_room<C: ConnectionTrait>(
    txn: &C,
    candidate: &Candidate<'_>,
    places: usize,
    held_by: &[PairingStatus],
) -> AppResult<()> {
    let held =
        members::places_held(txn, candidate.programme.id, held_by, candidate.pairing_id).await?;
    let taken = held.taken.get(&candidate.mentor_id).copied().unwrap_or(0);
    let placed = held.placed;
    if !rules::has_room(places, taken, candidate.mentee_ids.len()) {
        return Err(AppError::Conflict(format!(
            "the mentor has no room for {} more: {taken} of their {places} places in this programme are taken",
            candidate.mentee_ids.len()
        )));
    }
    if let Some(busy) = candidate.mentee_ids.iter().find(|m| placed.contains(m)) {
        return Err(AppError::Conflict(format!(
            "{} already has a live pairing in this programme",
            display_name(txn, *busy).await?
        )));
    }
    Ok(())
}

/// Accepts (ACTIVE, every rule checked again under the lock: places may
/// have gone to another pairing since the proposal) or declines a PROPOSED
/// pairing (admins).
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    pairing_rules: PairingRules,
    id: Uuid,
    accept: bool,
) -> AppResult<pairing::Model> {
    access::require(actor.caller, Area::Administration)?;
    let txn = write_txn(db).await?;
    let found = members::get(&txn, actor.caller, id).await?;
    let lock = lock_programme(&txn, found.programme_id).await?;
    let current = reread(&txn, id).await?;
    let to = if accept {
        PairingStatus::Active
    } else {
        PairingStatus::Declined
    };
    refuse_unless_in(&current, &[PairingStatus::Proposed], to)?;
    if accept {
        let mentees = members::mentees_of_one(&txn, id).await?;
        let candidate = Candidate {
            programme: lock.programme(current.programme_id)?,
            mentor_id: current.mentor_id,
            mentee_ids: &mentees,
            pairing_id: Some(id),
        };
        check_candidate(&txn, pairing_rules, &candidate, &RUNNING).await?;
    }
    let change = Move {
        from: &[PairingStatus::Proposed],
        to,
        reason: (!accept).then_some("declined by the programme team"),
    };
    let moved = finish_move(&txn, actor, &lock, current, change, "pairing.decide").await?;
    txn.commit().await?;
    Ok(moved)
}

/// Ends an ACTIVE or PAUSED pairing, completed or early, with a reason
/// (admins); its sessions still to come are cancelled.
pub async fn end(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    reason: String,
    completed: bool,
) -> AppResult<pairing::Model> {
    access::require(actor.caller, Area::Administration)?;
    let reason = reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(AppError::bad_input(
            "reason",
            "a reason of 1 to 1000 characters is required",
        ));
    }
    let to = if completed {
        PairingStatus::Completed
    } else {
        PairingStatus::EndedEarly
    };
    let txn = write_txn(db).await?;
    let found = members::get(&txn, actor.caller, id).await?;
    let lock = lock_programme(&txn, found.programme_id).await?;
    let current = reread(&txn, id).await?;
    refuse_unless_in(&current, &RUNNING, to)?;
    let change = Move {
        from: &RUNNING,
        to,
        reason: Some(&reason),
    };
    let moved = finish_move(&txn, actor, &lock, current, change, "pairing.end").await?;
    txn.commit().await?;
    Ok(moved)
}

/// Pauses an ACTIVE pairing (a participant or an admin), with an optional
/// reason stored with it: it takes no new session and its sessions still
/// to come are cancelled.
pub async fn pause(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    reason: Option<String>,
) -> AppResult<pairing::Model> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(AppError::bad_input(
            "reason",
            "a reason is limited to 1000 characters",
        ));
    }
    let change = Move {
        from: &[PairingStatus::Active],
        to: PairingStatus::Paused,
        reason: reason.as_deref(),
    };
    move_as_participant_or_admin(db, actor, id, change, "pairing.pause").await
}

/// Resumes a PAUSED pairing (a participant or an admin): it takes sessions again.
pub async fn resume(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
) -> AppResult<pairing::Model> {
    let change = Move {
        from: &[PairingStatus::Paused],
        to: PairingStatus::Active,
        reason: None,
    };
    move_as_participant_or_admin(db, actor, id, change, "pairing.resume").await
}

/// A move its participants may make as well as the programme team: others
/// get NOT_FOUND, as for a pairing they may not see.
async fn move_as_participant_or_admin(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    change: Move<'_>,
    action: &str,
) -> AppResult<pairing::Model> {
    access::require(actor.caller, Area::People)?;
    let txn = write_txn(db).await?;
    let found = if actor.caller.is_admin() {
        members::get(&txn, actor.caller, id).await?
    } else {
        members::get_as_participant(&txn, actor.caller, id).await?
    };
    let lock = lock_programme(&txn, found.programme_id).await?;
    let current = reread(&txn, id).await?;
    refuse_unless_in(&current, change.from, change.to)?;
    let programme = lock.programme(current.programme_id)?;
    if change.to == PairingStatus::Active && !rules::runs_pairings(programme.status) {
        return Err(AppError::Conflict(format!(
            "the programme is {}: its pairings no longer resume",
            programme.status.to_value()
        )));
    }
    let moved = finish_move(&txn, actor, &lock, current, change, action).await?;
    txn.commit().await?;
    Ok(moved)
}

/// The pairing as it is now, under the lock.
async fn reread<C: ConnectionTrait>(txn: &C, id: Uuid) -> AppResult<pairing::Model> {
    members::find(txn, id).await
}

fn refuse_unless_in(
    current: &pairing::Model,
    from: &[PairingStatus],
    to: PairingStatus,
) -> AppResult<()> {
    if from.contains(&current.status) {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "the pairing is {}: it cannot move to {}",
        current.status.to_value(),
        to.to_value()
    )))
}

/// Moves one pairing and audits the move (the caller commits).
async fn finish_move(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor<'_>,
    lock: &ProgrammeLock,
    current: pairing::Model,
    change: Move<'_>,
    action: &str,
) -> AppResult<pairing::Model> {
    let id = current.id;
    let moved = move_pairings(txn, lock, &[id], change, Utc::now()).await?;
    if moved.is_empty() {
        return Err(AppError::Conflict(
            "the pairing changed meanwhile; read it again".into(),
        ));
    }
    let details =
        serde_json::json!({ "from": current.status.to_value(), "to": change.to.to_value() });
    audit::record(txn, actor, AuditEntry::new(action, "pairing", id, details)).await?;
    reread(txn, id).await
}

/// Completes a closing programme's running pairings ("programme closed");
/// proposals stay PROPOSED, to be declined (a decline would bar the pair
/// from later matching).
pub async fn complete_for_closing<C: ConnectionTrait>(
    txn: &C,
    lock: &ProgrammeLock,
    programme_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    let running: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::ProgrammeId.eq(programme_id))
        .filter(pairing::Column::Status.is_in(RUNNING))
        .into_tuple()
        .all(txn)
        .await?;
    let change = Move {
        from: &RUNNING,
        to: PairingStatus::Completed,
        reason: Some("programme closed"),
    };
    move_pairings(txn, lock, &running, change, now).await
}

/// The programmes in which these people are enrolled or paired: what a
/// departure must lock ([`end_for_departure`]).
pub async fn programmes_of<C: ConnectionTrait>(txn: &C, people: &[Uuid]) -> AppResult<Vec<Uuid>> {
    let mut programmes: Vec<Uuid> = enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::ProgrammeId)
        .filter(enrolment::Column::EmployeeId.is_in(people.iter().copied()))
        .distinct()
        .into_tuple()
        .all(txn)
        .await?;
    let as_mentee = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .filter(pairing_mentee::Column::MenteeId.is_in(people.iter().copied()))
        .into_query();
    let paired: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::ProgrammeId)
        .filter(
            Condition::any()
                .add(pairing::Column::MentorId.is_in(people.iter().copied()))
                .add(pairing::Column::Id.in_subquery(as_mentee)),
        )
        .distinct()
        .into_tuple()
        .all(txn)
        .await?;
    programmes.extend(paired);
    Ok(programmes)
}

/// Ends the pairings that `people` hold places in, within the locked
/// programmes, as they leave (withdrawal, termination): running pairings
/// end early, proposals are declined, their sessions to come are cancelled.
/// `role` narrows to pairings where they are mentor or mentee.
pub async fn end_for_departure<C: ConnectionTrait>(
    txn: &C,
    lock: &ProgrammeLock,
    people: &[Uuid],
    role: Option<ParticipantRole>,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let as_mentee = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .filter(pairing_mentee::Column::MenteeId.is_in(people.iter().copied()))
        .into_query();
    let as_mentor = pairing::Column::MentorId.is_in(people.iter().copied());
    let membership = match role {
        Some(ParticipantRole::Mentor) => Condition::all().add(as_mentor),
        Some(ParticipantRole::Mentee) => {
            Condition::all().add(pairing::Column::Id.in_subquery(as_mentee))
        }
        None => Condition::any()
            .add(as_mentor)
            .add(pairing::Column::Id.in_subquery(as_mentee)),
    };
    let held: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::ProgrammeId.is_in(lock.ids()))
        .filter(pairing::Column::Status.is_in(HOLDING_PLACES))
        .filter(membership)
        .into_tuple()
        .all(txn)
        .await?;
    let end_early = Move {
        from: &RUNNING,
        to: PairingStatus::EndedEarly,
        reason: Some(reason),
    };
    let decline = Move {
        from: &[PairingStatus::Proposed],
        to: PairingStatus::Declined,
        reason: Some(reason),
    };
    move_pairings(txn, lock, &held, end_early, now).await?;
    move_pairings(txn, lock, &held, decline, now).await?;
    Ok(())
}
