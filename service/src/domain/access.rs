//! Who may see which employee (DESIGN.md, Authorization).
//!
//! Admins see everyone. An employee sees themself, the people they share a
//! pairing with, and the mentors they supervise. Analysts and the HRIS account
//! see no individual. Everything else answers NOT_FOUND, never FORBIDDEN, so
//! ids cannot be probed.

use std::collections::HashSet;

use entity::enums::{PairingStatus, ParticipantRole};
use entity::{enrolment, pairing, pairing_mentee};
use sea_orm::sea_query::ExprTrait as _;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::AppResult;

/// The employees a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmployeeScope {
    /// Admins: every employee.
    All,
    /// These employees only (possibly none).
    Only(HashSet<Uuid>),
}

impl EmployeeScope {
    /// Whether `id` is in scope.
    pub fn contains(&self, id: Uuid) -> bool {
        match self {
            EmployeeScope::All => true,
            EmployeeScope::Only(ids) => ids.contains(&id),
        }
    }
}

/// Whether a programme's sponsor is shown to this caller. The sponsor is named
/// to every volunteer with the purpose, so employees and admins see them;
/// accounts without an employee identity (analysts, the HRIS) see no individual.
pub fn sees_programme_sponsors(caller: &Caller) -> bool {
    caller.is_admin() || caller.employee_id.is_some()
}

/// Pairing states in which the participants know each other.
const KNOWN_PAIRING_STATES: [PairingStatus; 4] = [
    PairingStatus::Active,
    PairingStatus::Paused,
    PairingStatus::Completed,
    PairingStatus::EndedEarly,
];

/// Computes the caller's scope: a few indexed queries, done once per request.
pub async fn employee_scope(db: &DatabaseConnection, caller: &Caller) -> AppResult<EmployeeScope> {
    if caller.is_admin() {
        return Ok(EmployeeScope::All);
    }
    let Some(me) = caller.employee_id else {
        return Ok(EmployeeScope::Only(HashSet::new()));
    };
    let mut visible = HashSet::from([me]);
    let pairing_ids = pairings_of(db, me).await?;
    if !pairing_ids.is_empty() {
        let mentors: Vec<Uuid> = pairing::Entity::find()
            .select_only()
            .column(pairing::Column::MentorId)
            .filter(pairing::Column::Id.is_in(pairing_ids.clone()))
            .into_tuple()
            .all(db)
            .await?;
        let mentees: Vec<Uuid> = pairing_mentee::Entity::find()
            .select_only()
            .column(pairing_mentee::Column::MenteeId)
            .filter(pairing_mentee::Column::PairingId.is_in(pairing_ids))
            .into_tuple()
            .all(db)
            .await?;
        visible.extend(mentors);
        visible.extend(mentees);
    }
    let supervised: Vec<Uuid> = enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::EmployeeId)
        .filter(enrolment::Column::SupervisorId.eq(me))
        .filter(enrolment::Column::Role.eq(ParticipantRole::Mentor))
        .into_tuple()
        .all(db)
        .await?;
    visible.extend(supervised);
    Ok(EmployeeScope::Only(visible))
}

/// Pairings (in a known state) in which `me` is mentor or mentee.
async fn pairings_of(db: &DatabaseConnection, me: Uuid) -> AppResult<Vec<Uuid>> {
    let as_mentee: Vec<Uuid> = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .filter(pairing_mentee::Column::MenteeId.eq(me))
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::Status.is_in(KNOWN_PAIRING_STATES))
        .filter(
            pairing::Column::MentorId
                .eq(me)
                .or(pairing::Column::Id.is_in(as_mentee)),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids)
}
