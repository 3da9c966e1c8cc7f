//! Volunteers' enrolments: only the employee enrols themself, with recorded
//! consent; the programme team decides; mentors are trained and supervised.

use chrono::{DateTime, Utc};
use entity::enums::{EmployeeStatus, EnrolmentStatus, ParticipantRole, ProgrammeStatus};
use entity::{employee, enrolment};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use uuid::Uuid;

use super::access::{self, Area};
use super::audit::{self, Actor, AuditEntry};
use super::pagination::{Cursor, Page, PageRequest, after_condition};
use super::pairings::lifecycle;
use crate::auth::Caller;
use crate::domain::notifications::outbox::{self, Change};
use crate::error::{AppError, AppResult};

/// What a volunteer sends to enrol.
#[derive(Clone, Debug)]
pub struct EnrolRequest {
    /// The programme.
    pub programme_id: Uuid,
    /// Mentor or mentee.
    pub role: ParticipantRole,
    /// Must be true: enrolment is voluntary.
    pub consent: bool,
    /// Why they volunteer (at most 2000 characters).
    pub motivation: Option<String>,
    /// Mentors: how many mentees they accept (1 to the programme's maximum).
    pub capacity: Option<i32>,
}

/// The live states: one such enrolment per employee, programme and role.
pub const LIVE: [EnrolmentStatus; 2] = [EnrolmentStatus::Pending, EnrolmentStatus::Approved];

/// Enrols the caller (and only the caller) in a programme open to volunteers.
pub async fn enrol(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    request: EnrolRequest,
) -> AppResult<enrolment::Model> {
    let me = actor
        .caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only an employee can volunteer, for themself"))?;
    if !request.consent {
        return Err(AppError::bad_input(
            "consent",
            "enrolment is voluntary: consent must be true",
        ));
    }
    let motivation = request
        .motivation
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    if motivation
        .as_ref()
        .is_some_and(|m| m.chars().count() > 2000)
    {
        return Err(AppError::bad_input(
            "motivation",
            "motivation is limited to 2000 characters",
        ));
    }
    let txn = super::write_txn(db).await?;
    let programme = super::programmes::get(&txn, actor.caller, request.programme_id).await?;
    if !matches!(
        programme.status,
        ProgrammeStatus::Enrolling | ProgrammeStatus::Matching
    ) {
        return Err(AppError::Conflict(format!(
            "the programme is {}: volunteers enrol while it is ENROLLING or MATCHING",
            programme.status.to_value()
        )));
    }
    let capacity = match (request.role, request.capacity) {
        (ParticipantRole::Mentee, None) => 1,
        (ParticipantRole::Mentee, Some(_)) => {
            return Err(AppError::bad_input(
                "capacity",
                "capacity applies to mentors only",
            ));
        }
        (ParticipantRole::Mentor, None) => programme.max_mentees_per_mentor,
        (ParticipantRole::Mentor, Some(c))
            if (1..=programme.max_mentees_per_mentor).contains(&c) =>
        {
            c
        }
        (ParticipantRole::Mentor, Some(_)) => {
            let max = programme.max_mentees_per_mentor;
            return Err(AppError::bad_input(
                "capacity",
                format!("capacity must be between 1 and {max}"),
            ));
        }
    };
    let existing = enrolment::Entity::find()
        .filter(enrolment::Column::ProgrammeId.eq(programme.id))
        .filter(enrolment::Column::EmployeeId.eq(me))
        .filter(enrolment::Column::Role.eq(request.role))
        .filter(enrolment::Column::Status.is_in(LIVE))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(duplicate());
    }
    let now = Utc::now();
    let created = enrolment::ActiveModel {
        id: Set(super::new_id()),
        programme_id: Set(programme.id),
        employee_id: Set(me),
        role: Set(request.role),
        status: Set(EnrolmentStatus::Pending),
        consented_at: Set(now),
        motivation: Set(motivation),
        training_completed_at: Set(None),
        supervisor_id: Set(None),
        capacity: Set(capacity),
        decided_at: Set(None),
        decision_reason: Set(None),
        withdrawn_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(unique_as_duplicate)?;
    txn.commit().await?;
    Ok(created)
}

fn duplicate() -> AppError {
    AppError::Conflict("you already have a live enrolment in this programme for this role".into())
}

/// A concurrent enrolment that won the race hits the partial unique index.
fn unique_as_duplicate(err: DbErr) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => duplicate(),
        _ => err.into(),
    }
}

/// The enrolment, if the caller may see it: its employee, its supervisor, admins.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<enrolment::Model> {
    let found = enrolment::Entity::find_by_id(id).one(db).await?;
    match found {
        Some(e)
            if caller.is_admin()
                || caller
                    .employee_id
                    .is_some_and(|me| me == e.employee_id || Some(me) == e.supervisor_id) =>
        {
            Ok(e)
        }
        _ => Err(AppError::NotFound("enrolment")),
    }
}

/// A page of a programme's enrolments the caller may see (admins: all;
/// employees: their own and those of the mentors they supervise).
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    programme_id: Uuid,
    page: &PageRequest,
    role: Option<ParticipantRole>,
    status: Option<EnrolmentStatus>,
) -> AppResult<Page<enrolment::Model>> {
    access::require(caller, Area::People)?;
    let mut query =
        enrolment::Entity::find().filter(enrolment::Column::ProgrammeId.eq(programme_id));
    if !caller.is_admin() {
        let me = caller.employee_id.unwrap_or_default();
        query = query.filter(
            Condition::any()
                .add(enrolment::Column::EmployeeId.eq(me))
                .add(enrolment::Column::SupervisorId.eq(me)),
        );
    }
    if let Some(role) = role {
        query = query.filter(enrolment::Column::Role.eq(role));
    }
    if let Some(status) = status {
        query = query.filter(enrolment::Column::Status.eq(status));
    }
    if let Some(after) = &page.after {
        query = query.filter(after_condition(
            enrolment::Column::Id,
            enrolment::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(enrolment::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |e| Cursor {
        key: e.id.to_string(),
        id: e.id,
    }))
}

/// Approves or rejects a PENDING enrolment (admins). The update is guarded
/// by the status read, so of two decisions at once exactly one applies and
/// the other is a CONFLICT.
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    approve: bool,
    reason: Option<String>,
) -> AppResult<enrolment::Model> {
    access::require(actor.caller, Area::Administration)?;
    let txn = super::write_txn(db).await?;
    let current = get(&txn, actor.caller, id).await?;
    let to = if approve {
        EnrolmentStatus::Approved
    } else {
        EnrolmentStatus::Rejected
    };
    let now = Utc::now();
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let decided = enrolment::Entity::update_many()
        .col_expr(enrolment::Column::Status, Expr::value(to.to_value()))
        .col_expr(enrolment::Column::DecidedAt, Expr::value(now))
        .col_expr(enrolment::Column::DecisionReason, Expr::value(reason))
        .col_expr(enrolment::Column::UpdatedAt, Expr::value(now))
        .filter(enrolment::Column::Id.eq(id))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Pending))
        .exec(&txn)
        .await?;
    if decided.rows_affected != 1 {
        let now_status = reread(&txn, id).await?.status;
        return Err(AppError::Conflict(format!(
            "the enrolment is {}: only PENDING enrolments are decided",
            now_status.to_value()
        )));
    }
    let details = serde_json::json!({ "to": to.to_value() });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("enrolment.decide", "enrolment", id, details),
    )
    .await?;
    outbox::record(&txn, Change::EnrolmentDecided(id), now).await?;
    let updated = reread(&txn, current.id).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The enrolment as it is now.
async fn reread<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<enrolment::Model> {
    enrolment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("enrolment"))
}

/// The employee withdraws: their pairings in the programme end early (or,
/// proposed, are declined) and their sessions to come are cancelled, in one
/// transaction under the programme's lock (the pairing lifecycle's guard).
pub async fn withdraw(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
) -> AppResult<enrolment::Model> {
    let txn = super::write_txn(db).await?;
    let found = get(&txn, actor.caller, id).await?;
    if actor.caller.employee_id != Some(found.employee_id) {
        return Err(AppError::forbidden(
            "only the volunteer withdraws their enrolment",
        ));
    }
    let lock = lifecycle::lock_programme(&txn, found.programme_id).await?;
    let current = reread(&txn, id).await?;
    if current.status == EnrolmentStatus::Withdrawn {
        return Err(AppError::Conflict(
            "the enrolment is WITHDRAWN already".into(),
        ));
    }
    let now = Utc::now();
    lifecycle::end_for_departure(
        &txn,
        &lock,
        &[current.employee_id],
        Some(current.role),
        "participant withdrew",
        now,
    )
    .await?;
    let mut change: enrolment::ActiveModel = current.into();
    change.status = Set(EnrolmentStatus::Withdrawn);
    change.withdrawn_at = Set(Some(now));
    change.updated_at = Set(now);
    let updated = change.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// A mentor enrolment the caller may see, or why not.
async fn mentor_enrolment<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<enrolment::Model> {
    let found = get(db, caller, id).await?;
    if found.role != ParticipantRole::Mentor {
        return Err(AppError::bad_input(
            "enrolmentId",
            "training and supervision concern mentor enrolments",
        ));
    }
    Ok(found)
}

/// Records that a mentor completed their training (admins, or the mentor's supervisor).
pub async fn record_training(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    completed_at: Option<DateTime<Utc>>,
) -> AppResult<enrolment::Model> {
    let txn = super::write_txn(db).await?;
    let current = mentor_enrolment(&txn, actor.caller, id).await?;
    let supervises =
        actor.caller.employee_id.is_some() && actor.caller.employee_id == current.supervisor_id;
    if !actor.caller.is_admin() && !supervises {
        return Err(AppError::forbidden(
            "only the programme team or the mentor's supervisor records training",
        ));
    }
    let now = Utc::now();
    let completed_at = completed_at.unwrap_or(now);
    if completed_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::bad_input(
            "completedAt",
            "training cannot be completed in the future",
        ));
    }
    let mut change: enrolment::ActiveModel = current.into();
    change.training_completed_at = Set(Some(completed_at));
    change.updated_at = Set(now);
    let updated = change.update(&txn).await?;
    let details = serde_json::json!({ "completedAt": completed_at });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("enrolment.training", "enrolment", id, details),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Names the coach who supervises a mentor (admins).
pub async fn assign_supervisor(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    supervisor_id: Uuid,
) -> AppResult<enrolment::Model> {
    access::require(actor.caller, Area::Administration)?;
    let txn = super::write_txn(db).await?;
    let current = mentor_enrolment(&txn, actor.caller, id).await?;
    if supervisor_id == current.employee_id {
        return Err(AppError::bad_input(
            "supervisorId",
            "a mentor cannot supervise themself",
        ));
    }
    let supervisor = employee::Entity::find_by_id(supervisor_id)
        .one(&txn)
        .await?;
    if !supervisor.is_some_and(|s| s.status == EmployeeStatus::Active) {
        return Err(AppError::bad_input(
            "supervisorId",
            "the supervisor must be an active employee",
        ));
    }
    let mut change: enrolment::ActiveModel = current.into();
    change.supervisor_id = Set(Some(supervisor_id));
    change.updated_at = Set(Utc::now());
    let updated = change.update(&txn).await?;
    let details = serde_json::json!({ "supervisorId": supervisor_id });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("enrolment.supervisor", "enrolment", id, details),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
