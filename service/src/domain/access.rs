//! Who may see which employee (docs/design.md, Authorization).
//!
//! Admins see everyone. An employee sees themself, the people they share a
//! pairing with, and the mentors they supervise. Analysts and the HRIS account
//! see no individual. Everything else answers NOT_FOUND, never FORBIDDEN, so
//! ids cannot be probed.

use std::collections::HashSet;

use entity::enums::{PairingStatus, ParticipantRole, ProgrammeStatus};
use entity::{enrolment, pairing, pairing_mentee};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::error::{AppError, AppResult};

/// The parts of the API, each open to some kinds of caller (docs/design.md,
/// Authorization). Rows within an area are filtered further by the domain
/// functions (drafts, employee scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// The skill catalogue.
    Catalogue,
    /// Programmes' names, purposes and statuses.
    Programmes,
    /// Individual employees.
    People,
    /// HRIS sync runs and operations.
    Hris,
    /// Aggregated programme metrics.
    Metrics,
    /// The programme team's operations (create, transition, decide …).
    Administration,
}

/// Whether `caller` may reach `area` at all. Employees, admins and analysts
/// read the catalogue and programmes; only employees and admins reach
/// individuals; the HRIS account reaches HRIS operations only.
pub fn may_reach(caller: &Caller, area: Area) -> bool {
    let employee = caller.employee_id.is_some();
    let admin = caller.is_admin();
    let analyst = caller.has_role(Role::Analyst);
    match area {
        Area::Catalogue | Area::Programmes => employee || admin || analyst,
        Area::People => employee || admin,
        Area::Hris => admin || caller.has_role(Role::Hris),
        Area::Metrics => admin || analyst,
        Area::Administration => admin,
    }
}

/// [`may_reach`] as a FORBIDDEN error.
pub fn require(caller: &Caller, area: Area) -> AppResult<()> {
    if may_reach(caller, area) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "this account may not use this part of the API",
        ))
    }
}

/// The employees a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmployeeScope {
    /// Admins: every employee.
    All,
    /// These employees only (possibly none): themself, pairing partners,
    /// supervised mentors.
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

    /// Whether `id`'s profile (skills, seniority, generation, department)
    /// may be read: only in scope. An employee reached otherwise — a
    /// delegation's principal or delegate — shows an identity only.
    pub fn reads_profile(&self, id: Uuid) -> bool {
        self.contains(id)
    }

    /// Every id in scope, unless the scope is everyone.
    pub fn ids(&self) -> Option<Vec<Uuid>> {
        match self {
            EmployeeScope::All => None,
            EmployeeScope::Only(ids) => Some(ids.iter().copied().collect()),
        }
    }
}

/// Whether a programme's sponsor is shown to this caller. The sponsor is named
/// to every volunteer with the purpose, so employees and admins see them;
/// accounts without an employee identity (analysts, the HRIS) see no individual.
pub fn sees_programme_sponsors(caller: &Caller) -> bool {
    caller.is_admin() || caller.employee_id.is_some()
}

/// Whether the caller is the mentor or one of the mentees. Private session
/// notes are readable by exactly these people — not admins, not supervisors.
pub fn is_participant(caller: &Caller, mentor_id: Uuid, mentee_ids: &[Uuid]) -> bool {
    caller
        .employee_id
        .is_some_and(|me| me == mentor_id || mentee_ids.contains(&me))
}

/// Whether the caller may know a programme exists: a DRAFT is the
/// programme team's alone (every path — `programme`, `programmes`,
/// `programmeMetrics` — answers NOT_FOUND for it, so no path is an oracle).
pub fn sees_programme(caller: &Caller, status: ProgrammeStatus) -> bool {
    caller.is_admin() || status != ProgrammeStatus::Draft
}

/// Whether the caller may read a feedback entry (its author, rating and
/// comment): its author and the programme team. Partners and supervisors
/// see none, so a rating stays the author's to give honestly.
pub fn reads_feedback(caller: &Caller, author_id: Uuid) -> bool {
    caller.is_admin() || caller.employee_id == Some(author_id)
}

/// Pairing states in which the participants know each other: a proposal
/// (PROPOSED) or a refused one (DECLINED) names nobody to anybody but the
/// programme team.
pub const KNOWN_PAIRING_STATES: [PairingStatus; 4] = [
    PairingStatus::Active,
    PairingStatus::Paused,
    PairingStatus::Completed,
    PairingStatus::EndedEarly,
];

/// Pairing states in which partners read each other's free time: only a
/// running pairing; once it ended, former partners' diaries are their own.
const LIVE_PAIRING_STATES: [PairingStatus; 2] = crate::domain::pairings::rules::RUNNING;

/// Whether the caller may see a pairing: admins always; its participants
/// and the supervisor of its mentor (in its programme) once it is known
/// (not PROPOSED or DECLINED).
pub fn sees_pairing(
    caller: &Caller,
    pairing: &pairing::Model,
    mentee_ids: &[Uuid],
    supervises_mentor: bool,
) -> bool {
    if caller.is_admin() {
        return true;
    }
    KNOWN_PAIRING_STATES.contains(&pairing.status)
        && (is_participant(caller, pairing.mentor_id, mentee_ids) || supervises_mentor)
}

/// Whether the caller sees a pairing's mentor and mentees as employees
/// without computing the whole [`employee_scope`]: admins (whose scope is
/// everyone) and the participants of a known pairing (whose scope holds
/// every member of their known pairings). Anyone else asks the scope.
pub fn sees_members_of(caller: &Caller, pairing: &pairing::Model, mentee_ids: &[Uuid]) -> bool {
    sees_members(caller, pairing.status, pairing.mentor_id, mentee_ids)
}

/// [`sees_members_of`] for a pairing known by its status and members only
/// (a read that took no whole row, `domain::pairings::screen`).
pub fn sees_members(
    caller: &Caller,
    status: PairingStatus,
    mentor_id: Uuid,
    mentee_ids: &[Uuid],
) -> bool {
    caller.is_admin()
        || (KNOWN_PAIRING_STATES.contains(&status) && is_participant(caller, mentor_id, mentee_ids))
}

/// Whether the caller may read why a pairing was proposed (score and match
/// reasons): they quote the mentees' wishes, departments, generations and
/// common free time, so only admins and the participants.
pub fn reads_match_reasons(caller: &Caller, mentor_id: Uuid, mentee_ids: &[Uuid]) -> bool {
    caller.is_admin() || is_participant(caller, mentor_id, mentee_ids)
}

/// Whether the caller may read why a pairing is paused (the words of the
/// person who paused it): admins and the participants, not supervisors.
pub fn reads_pause_reason(caller: &Caller, mentor_id: Uuid, mentee_ids: &[Uuid]) -> bool {
    caller.is_admin() || is_participant(caller, mentor_id, mentee_ids)
}

/// Whether the caller may read a pairing's goals: admins, its participants
/// and the supervisor of its mentor — not a participant's delegate, who
/// manages the agenda, not the mentoring.
pub fn reads_goals(
    caller: &Caller,
    mentor_id: Uuid,
    mentee_ids: &[Uuid],
    supervises: bool,
) -> bool {
    caller.is_admin() || is_participant(caller, mentor_id, mentee_ids) || supervises
}

/// Whether a poor rating may move a pairing's health for this caller: a
/// rating is feedback, so admins and the mentor's supervisor (who are told
/// of a pairing at risk) only — participants and delegates see the cadence.
pub fn told_of_ratings(caller: &Caller, supervises_mentor: bool) -> bool {
    caller.is_admin() || supervises_mentor
}

/// Whether the caller may read the common free time of a pairing's
/// participants: admins, and the participants while the pairing is live.
/// Supervisors see the pairing, never anyone's free time.
pub fn reads_common_free_time(
    caller: &Caller,
    pairing: &pairing::Model,
    mentee_ids: &[Uuid],
) -> bool {
    caller.is_admin()
        || (LIVE_PAIRING_STATES.contains(&pairing.status)
            && is_participant(caller, pairing.mentor_id, mentee_ids))
}

/// Computes the caller's scope: a few indexed queries, done once per request.
pub async fn employee_scope(db: &DatabaseConnection, caller: &Caller) -> AppResult<EmployeeScope> {
    if caller.is_admin() {
        return Ok(EmployeeScope::All);
    }
    let Some(me) = caller.employee_id else {
        return Ok(EmployeeScope::Only(HashSet::new()));
    };
    let mut visible = HashSet::from([me]);
    let pairings = pairings_of(db, me, &KNOWN_PAIRING_STATES).await?;
    if !pairings.is_empty() {
        let mentees: Vec<Uuid> = pairing_mentee::Entity::find()
            .select_only()
            .column(pairing_mentee::Column::MenteeId)
            .filter(pairing_mentee::Column::PairingId.is_in(pairings.iter().map(|(id, _)| *id)))
            .into_tuple()
            .all(db)
            .await?;
        visible.extend(pairings.iter().map(|(_, mentor)| *mentor));
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
    // Delegation partners are not in scope: a delegate meets the principal
    // through `Delegation` and `pairingsOf`, where the principal's profile
    // fields read as unknown ([`EmployeeScope::reads_profile`]).
    Ok(EmployeeScope::Only(visible))
}

/// The (programme, mentor) pairs of the mentors the caller supervises: one statement.
pub async fn supervised_mentors(
    db: &DatabaseConnection,
    caller: &Caller,
) -> AppResult<HashSet<(Uuid, Uuid)>> {
    let Some(me) = caller.employee_id else {
        return Ok(HashSet::new());
    };
    let rows: Vec<(Uuid, Uuid)> = enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::ProgrammeId)
        .column(enrolment::Column::EmployeeId)
        .filter(enrolment::Column::SupervisorId.eq(me))
        .filter(enrolment::Column::Role.eq(ParticipantRole::Mentor))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Whether `me` may read `other`'s free time: they are partners in a live
/// pairing ([`LIVE_PAIRING_STATES`]).
pub async fn reads_free_time_of(db: &DatabaseConnection, me: Uuid, other: Uuid) -> AppResult<bool> {
    let mine = pairings_of(db, me, &LIVE_PAIRING_STATES).await?;
    if mine.is_empty() {
        return Ok(false);
    }
    let theirs = pairings_of(db, other, &LIVE_PAIRING_STATES).await?;
    Ok(mine.iter().any(|p| theirs.contains(p)))
}

/// Pairings in one of `states` in which `me` is mentor or mentee, as
/// (pairing id, mentor id): one statement.
async fn pairings_of(
    db: &DatabaseConnection,
    me: Uuid,
    states: &[PairingStatus],
) -> AppResult<Vec<(Uuid, Uuid)>> {
    let as_mentee = Query::select()
        .column(pairing_mentee::Column::PairingId)
        .from(pairing_mentee::Entity)
        .and_where(pairing_mentee::Column::MenteeId.eq(me))
        .to_owned();
    Ok(pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .column(pairing::Column::MentorId)
        .filter(pairing::Column::Status.is_in(states.iter().copied()))
        .filter(
            Condition::any()
                .add(pairing::Column::MentorId.eq(me))
                .add(pairing::Column::Id.in_subquery(as_mentee)),
        )
        .into_tuple()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn caller(employee: bool, roles: &[Role]) -> Caller {
        Caller {
            subject: "t".into(),
            employee_id: employee.then(Uuid::nil),
            roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        }
    }

    #[test]
    fn each_kind_of_caller_reaches_its_areas_only() {
        use Area::*;
        let cases = [
            (caller(true, &[]), [true, true, true, false, false]),
            (
                caller(false, &[Role::Admin]),
                [true, true, true, true, true],
            ),
            (
                caller(false, &[Role::Analyst]),
                [true, true, false, false, true],
            ),
            (
                caller(false, &[Role::Hris]),
                [false, false, false, true, false],
            ),
            (caller(false, &[]), [false, false, false, false, false]),
        ];
        for (who, expected) in cases {
            let reached =
                [Catalogue, Programmes, People, Hris, Metrics].map(|area| may_reach(&who, area));
            assert_eq!(reached, expected, "{who:?}");
        }
    }

    fn pairing(mentor_id: Uuid, status: PairingStatus) -> pairing::Model {
        let now = chrono::Utc::now();
        pairing::Model {
            id: Uuid::now_v7(),
            programme_id: Uuid::now_v7(),
            mentor_id,
            status,
            score: None,
            reasons: serde_json::json!([]),
            end_reason: None,
            decided_at: None,
            ended_at: None,
            paused_at: None,
            pause_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn participants_of_a_known_pairing_see_its_members_without_the_scope() {
        let me = caller(true, &[]);
        let other = Uuid::now_v7();
        for status in KNOWN_PAIRING_STATES {
            assert!(sees_members_of(
                &me,
                &pairing(Uuid::nil(), status),
                &[other]
            ));
            assert!(sees_members_of(
                &me,
                &pairing(other, status),
                &[Uuid::nil()]
            ));
        }
        for status in [PairingStatus::Proposed, PairingStatus::Declined] {
            assert!(!sees_members_of(
                &me,
                &pairing(Uuid::nil(), status),
                &[other]
            ));
        }
        let outsider = pairing(other, PairingStatus::Active);
        assert!(!sees_members_of(&me, &outsider, &[Uuid::now_v7()]));
        assert!(sees_members_of(
            &caller(false, &[Role::Admin]),
            &pairing(other, PairingStatus::Proposed),
            &[]
        ));
    }
}
