//! Pairings: a mentor junior in seniority to each of their mentees, outside
//! each other's close management chain, within capacity and format.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::enums::{
    EnrolmentStatus, PairingStatus, ParticipantRole, ProgrammeFormat, ProgrammeStatus,
};
use entity::{employee, enrolment, goal, pairing, pairing_mentee, programme};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::access::{self, Area};
use super::audit::{self, Actor, AuditEntry};
use super::pagination::{Cursor, Page, PageRequest, after_condition};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Pairing states that hold a mentor's capacity and a mentee's place.
const OCCUPYING: [PairingStatus; 3] = [
    PairingStatus::Proposed,
    PairingStatus::Active,
    PairingStatus::Paused,
];

/// Rules from configuration that pairings obey.
#[derive(Clone, Copy, Debug)]
pub struct PairingRules {
    /// Management-chain levels within which mentor and mentee may not be paired.
    pub excluded_chain_depth: u32,
}

/// Participants of a pairing: the mentor first, then the mentees.
pub async fn participants<C: ConnectionTrait>(
    db: &C,
    pairing: &pairing::Model,
) -> AppResult<Vec<Uuid>> {
    let mut ids = vec![pairing.mentor_id];
    ids.extend(
        mentees_of(db, &[pairing.id])
            .await?
            .remove(&pairing.id)
            .unwrap_or_default(),
    );
    Ok(ids)
}

/// Mentee ids of several pairings at once (for DataLoaders).
pub async fn mentees_of<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let rows = pairing_mentee::Entity::find()
        .filter(pairing_mentee::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .order_by_asc(pairing_mentee::Column::MenteeId)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        grouped
            .entry(row.pairing_id)
            .or_default()
            .push(row.mentee_id);
    }
    Ok(grouped)
}

/// Pairings by id (for DataLoaders).
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, pairing::Model>> {
    let rows = pairing::Entity::find()
        .filter(pairing::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

/// Goals of several pairings at once (for DataLoaders).
pub async fn goals_of(
    db: &DatabaseConnection,
    pairing_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<goal::Model>>> {
    let rows = goal::Entity::find()
        .filter(goal::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .order_by_asc(goal::Column::Id)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<goal::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.pairing_id).or_default().push(row);
    }
    Ok(grouped)
}

/// Whether the caller may see this pairing: admins, its participants, and the
/// supervisor of its mentor in that programme.
async fn may_see<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    pairing: &pairing::Model,
) -> AppResult<bool> {
    if caller.is_admin() {
        return Ok(true);
    }
    let Some(me) = caller.employee_id else {
        return Ok(false);
    };
    let mentees = mentees_of(db, &[pairing.id])
        .await?
        .remove(&pairing.id)
        .unwrap_or_default();
    let supervises = !access::is_participant(caller, pairing.mentor_id, &mentees)
        && enrolment::Entity::find()
            .filter(enrolment::Column::ProgrammeId.eq(pairing.programme_id))
            .filter(enrolment::Column::EmployeeId.eq(pairing.mentor_id))
            .filter(enrolment::Column::SupervisorId.eq(me))
            .one(db)
            .await?
            .is_some();
    Ok(access::sees_pairing(caller, pairing, &mentees, supervises))
}

/// One pairing the caller may see; NOT_FOUND otherwise.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<pairing::Model> {
    let found = pairing::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("pairing"))?;
    if may_see(db, caller, &found).await? {
        Ok(found)
    } else {
        Err(AppError::NotFound("pairing"))
    }
}

/// One pairing of which the caller is a participant; NOT_FOUND otherwise
/// (admins and supervisors see pairings but do not act in them).
pub async fn get_as_participant<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<pairing::Model> {
    let found = pairing::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("pairing"))?;
    let mentees = mentees_of(db, &[found.id])
        .await?
        .remove(&found.id)
        .unwrap_or_default();
    // A proposal is nobody's to act in until it is accepted.
    if access::is_participant(caller, found.mentor_id, &mentees)
        && access::sees_pairing(caller, &found, &mentees, false)
    {
        Ok(found)
    } else {
        Err(AppError::NotFound("pairing"))
    }
}

/// Pairings where the caller is mentor or mentee, newest first.
pub async fn mine(
    db: &DatabaseConnection,
    caller: &Caller,
    status: Option<PairingStatus>,
) -> AppResult<Vec<pairing::Model>> {
    let Some(me) = caller.employee_id else {
        return Ok(Vec::new());
    };
    let as_mentee = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .filter(pairing_mentee::Column::MenteeId.eq(me))
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    // A proposal names nobody to its participants until it is accepted.
    let mut query = pairing::Entity::find()
        .filter(
            Condition::any()
                .add(pairing::Column::MentorId.eq(me))
                .add(pairing::Column::Id.is_in(as_mentee)),
        )
        .filter(pairing::Column::Status.is_in(access::KNOWN_PAIRING_STATES));
    if let Some(status) = status {
        query = query.filter(pairing::Column::Status.eq(status));
    }
    Ok(query.order_by_desc(pairing::Column::Id).all(db).await?)
}

/// A page of a programme's pairings the caller may see (admins: all;
/// employees: their own and their supervised mentors').
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    programme_id: Uuid,
    page: &PageRequest,
    status: Option<PairingStatus>,
) -> AppResult<Page<pairing::Model>> {
    access::require(caller, Area::People)?;
    let mut query = pairing::Entity::find().filter(pairing::Column::ProgrammeId.eq(programme_id));
    if !caller.is_admin() {
        let visible: Vec<Uuid> = mine(db, caller, None)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let supervised: Vec<Uuid> = enrolment::Entity::find()
            .select_only()
            .column(enrolment::Column::EmployeeId)
            .filter(enrolment::Column::ProgrammeId.eq(programme_id))
            .filter(enrolment::Column::SupervisorId.eq(caller.employee_id.unwrap_or_default()))
            .into_tuple()
            .all(db)
            .await?;
        query = query
            .filter(
                Condition::any()
                    .add(pairing::Column::Id.is_in(visible))
                    .add(pairing::Column::MentorId.is_in(supervised)),
            )
            .filter(pairing::Column::Status.is_in(access::KNOWN_PAIRING_STATES));
    }
    if let Some(status) = status {
        query = query.filter(pairing::Column::Status.eq(status));
    }
    if let Some(after) = &page.after {
        query = query.filter(after_condition(
            pairing::Column::Id,
            pairing::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(pairing::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |p| Cursor {
        key: p.id.to_string(),
        id: p.id,
    }))
}

/// An admin pairs a mentor with mentees by hand; every rule is checked in
/// the same transaction as the insert, so concurrent pairings cannot
/// overbook a mentor.
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
    let txn = super::write_txn(db).await?;
    let programme = programme::Entity::find_by_id(programme_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("programme"))?;
    if !matches!(
        programme.status,
        ProgrammeStatus::Matching | ProgrammeStatus::Active
    ) {
        return Err(AppError::Conflict(format!(
            "the programme is {}: pairings are made while it is MATCHING or ACTIVE",
            programme.status.to_value()
        )));
    }
    if programme.format == ProgrammeFormat::OneToOne && mentees.len() != 1 {
        return Err(AppError::bad_input(
            "menteeIds",
            "a ONE_TO_ONE programme pairs exactly one mentee",
        ));
    }
    if mentees.len() as i32 > programme.max_mentees_per_mentor {
        return Err(AppError::bad_input(
            "menteeIds",
            format!(
                "this programme allows at most {} mentees per mentor",
                programme.max_mentees_per_mentor
            ),
        ));
    }
    let mentor_enrolment =
        approved_enrolment(&txn, programme_id, mentor_id, ParticipantRole::Mentor).await?;
    let trained = mentor_enrolment.training_completed_at.is_some()
        && mentor_enrolment.supervisor_id.is_some();
    if programme.requires_mentor_training && !trained {
        return Err(AppError::Conflict(
            "the mentor must be trained and have a supervisor before being paired".into(),
        ));
    }
    for mentee in &mentees {
        approved_enrolment(&txn, programme_id, *mentee, ParticipantRole::Mentee).await?;
    }
    check_people(&txn, rules, mentor_id, &mentees).await?;
    check_places(
        &txn,
        programme_id,
        mentor_id,
        mentor_enrolment.capacity,
        &mentees,
    )
    .await?;
    let now = Utc::now();
    let created = pairing::ActiveModel {
        id: Set(super::new_id()),
        programme_id: Set(programme_id),
        mentor_id: Set(mentor_id),
        status: Set(PairingStatus::Active),
        score: Set(None),
        reasons: Set(serde_json::json!([])),
        end_reason: Set(None),
        decided_at: Set(Some(now)),
        ended_at: Set(None),
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
    txn.commit().await?;
    Ok(created)
}

async fn approved_enrolment<C: ConnectionTrait>(
    db: &C,
    programme_id: Uuid,
    employee_id: Uuid,
    role: ParticipantRole,
) -> AppResult<enrolment::Model> {
    enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(programme_id))
        .filter(enrolment::Column::EmployeeId.eq(employee_id))
        .filter(enrolment::Column::Role.eq(role))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Approved))
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "{employee_id} has no approved {} enrolment in this programme",
                role.to_value()
            ))
        })
}

/// Hierarchy inversion and no close management relation, either way.
async fn check_people<C: ConnectionTrait>(
    db: &C,
    rules: PairingRules,
    mentor_id: Uuid,
    mentees: &[Uuid],
) -> AppResult<()> {
    let mentor = employee::Entity::find_by_id(mentor_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("employee"))?;
    let mentor_chain = management_chain(db, mentor_id, rules.excluded_chain_depth).await?;
    for mentee_id in mentees {
        let mentee = employee::Entity::find_by_id(*mentee_id)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("employee"))?;
        match (mentor.seniority_level, mentee.seniority_level) {
            (Some(junior), Some(senior)) if junior < senior => {}
            _ => {
                return Err(AppError::Conflict(format!(
                    "reverse mentoring: the mentor must be junior in seniority to {}",
                    mentee.display_name
                )));
            }
        }
        let mentee_chain = management_chain(db, *mentee_id, rules.excluded_chain_depth).await?;
        if mentor_chain.contains(mentee_id) || mentee_chain.contains(&mentor_id) {
            return Err(AppError::Conflict(format!(
                "{} and the mentor are too close in the management chain",
                mentee.display_name
            )));
        }
    }
    Ok(())
}

/// The managers above `employee_id`, up to `depth` levels.
async fn management_chain<C: ConnectionTrait>(
    db: &C,
    employee_id: Uuid,
    depth: u32,
) -> AppResult<Vec<Uuid>> {
    let mut chain = Vec::new();
    let mut current = employee_id;
    for _ in 0..depth {
        let manager: Option<Option<Uuid>> = employee::Entity::find_by_id(current)
            .select_only()
            .column(employee::Column::ManagerId)
            .into_tuple()
            .one(db)
            .await?;
        match manager.flatten() {
            Some(next) if !chain.contains(&next) && next != employee_id => {
                chain.push(next);
                current = next;
            }
            _ => break,
        }
    }
    Ok(chain)
}

/// The mentor has room and no mentee already has a live pairing here.
async fn check_places<C: ConnectionTrait>(
    db: &C,
    programme_id: Uuid,
    mentor_id: Uuid,
    capacity: i32,
    mentees: &[Uuid],
) -> AppResult<()> {
    let live: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::ProgrammeId.eq(programme_id))
        .filter(pairing::Column::Status.is_in(OCCUPYING))
        .into_tuple()
        .all(db)
        .await?;
    let mentor_pairings: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::Id.is_in(live.clone()))
        .filter(pairing::Column::MentorId.eq(mentor_id))
        .into_tuple()
        .all(db)
        .await?;
    let taken = mentees_of(db, &mentor_pairings)
        .await?
        .values()
        .map(Vec::len)
        .sum::<usize>();
    if taken + mentees.len() > capacity as usize {
        return Err(AppError::Conflict(format!(
            "the mentor accepts {capacity} mentees and already has {taken}"
        )));
    }
    let busy = pairing_mentee::Entity::find()
        .filter(pairing_mentee::Column::PairingId.is_in(live))
        .filter(pairing_mentee::Column::MenteeId.is_in(mentees.iter().copied()))
        .one(db)
        .await?;
    if let Some(row) = busy {
        return Err(AppError::Conflict(format!(
            "{} already has a live pairing in this programme",
            row.mentee_id
        )));
    }
    Ok(())
}

/// Accepts (ACTIVE) or declines a PROPOSED pairing (admins).
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    accept: bool,
) -> AppResult<pairing::Model> {
    let to = if accept {
        PairingStatus::Active
    } else {
        PairingStatus::Declined
    };
    move_pairing(
        db,
        actor,
        id,
        &[PairingStatus::Proposed],
        to,
        None,
        "pairing.decide",
    )
    .await
}

/// Ends an ACTIVE or PAUSED pairing, completed or early, with a reason (admins);
/// its sessions still to come are cancelled.
pub async fn end(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    reason: String,
    completed: bool,
) -> AppResult<pairing::Model> {
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
    let from = [PairingStatus::Active, PairingStatus::Paused];
    move_pairing(db, actor, id, &from, to, Some(reason), "pairing.end").await
}

async fn move_pairing(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    from: &[PairingStatus],
    to: PairingStatus,
    reason: Option<String>,
    action: &str,
) -> AppResult<pairing::Model> {
    access::require(actor.caller, Area::Administration)?;
    let txn = super::write_txn(db).await?;
    let current = get(&txn, actor.caller, id).await?;
    if !from.contains(&current.status) {
        return Err(AppError::Conflict(format!(
            "the pairing is {}: it cannot move to {}",
            current.status.to_value(),
            to.to_value()
        )));
    }
    let now = Utc::now();
    let ending = matches!(to, PairingStatus::Completed | PairingStatus::EndedEarly);
    if ending {
        super::sessions::cancel_future(
            &txn,
            &[id],
            reason.as_deref().unwrap_or("pairing ended"),
            now,
        )
        .await?;
    }
    let mut change: pairing::ActiveModel = current.clone().into();
    change.status = Set(to);
    change.updated_at = Set(now);
    if ending {
        change.ended_at = Set(Some(now));
        change.end_reason = Set(reason);
    } else {
        change.decided_at = Set(Some(now));
    }
    let updated = change.update(&txn).await?;
    let details = serde_json::json!({ "from": current.status.to_value(), "to": to.to_value() });
    audit::record(&txn, actor, AuditEntry::new(action, "pairing", id, details)).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Ends these pairings as a participant leaves: ACTIVE and PAUSED ones end
/// early, PROPOSED ones are declined (others are left alone), and their
/// future sessions are cancelled.
pub async fn end_live<C: ConnectionTrait>(
    db: &C,
    pairing_ids: &[Uuid],
    reason: &str,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    if pairing_ids.is_empty() {
        return Ok(());
    }
    for (from, to) in [
        (
            vec![PairingStatus::Active, PairingStatus::Paused],
            PairingStatus::EndedEarly,
        ),
        (vec![PairingStatus::Proposed], PairingStatus::Declined),
    ] {
        pairing::Entity::update_many()
            .col_expr(pairing::Column::Status, Expr::value(to.to_value()))
            .col_expr(pairing::Column::EndReason, Expr::value(reason))
            .col_expr(pairing::Column::EndedAt, Expr::value(now))
            .col_expr(pairing::Column::UpdatedAt, Expr::value(now))
            .filter(pairing::Column::Id.is_in(pairing_ids.iter().copied()))
            .filter(pairing::Column::Status.is_in(from))
            .exec(db)
            .await?;
    }
    super::sessions::cancel_future(db, pairing_ids, reason, now).await
}
