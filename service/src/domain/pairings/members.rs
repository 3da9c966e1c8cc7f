//! Who is in a pairing and who may see it: the members' queries (for the
//! API's loaders and for the other domain modules), each pairing read
//! through the authorization rules of [`access`].

use std::collections::HashMap;

use entity::enums::PairingStatus;
use entity::{enrolment, goal, pairing, pairing_mentee, skill};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, JoinType, Order, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::joined;
use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::joined::{Columns, ReadAt};
use crate::domain::pagination::{Cursor, Page, PageRequest, after_condition};
use crate::error::{AppError, AppResult};

/// Participants of a pairing: the mentor first, then the mentees.
pub async fn participants<C: ConnectionTrait>(
    db: &C,
    pairing: &pairing::Model,
) -> AppResult<Vec<Uuid>> {
    let mut ids = vec![pairing.mentor_id];
    ids.extend(mentees_of_one(db, pairing.id).await?);
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

/// Goals of several pairings at once, each with its skill: one statement
/// (for DataLoaders).
pub async fn goals_of(
    db: &DatabaseConnection,
    pairing_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<GoalWithSkill>>> {
    let mut query = Query::select();
    let mut columns = Columns::default();
    let goal_at = columns.select::<goal::Entity>(&mut query, "goals");
    let skill_at = columns.select::<skill::Entity>(&mut query, "skills");
    query
        .from(goal::Entity)
        .join(
            JoinType::LeftJoin,
            skill::Entity,
            Expr::col((skill::Entity, skill::Column::Id))
                .equals((goal::Entity, goal::Column::SkillId)),
        )
        .and_where(goal::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .order_by((goal::Entity, goal::Column::Id), Order::Asc);
    let mut grouped: HashMap<Uuid, Vec<GoalWithSkill>> = HashMap::new();
    let rows = db.query_all(&query).await?;
    let checked = columns.check(&rows)?;
    for row in &rows {
        let goal = goal::Model::read_at(row, goal_at, checked)?;
        let skill = match goal.skill_id {
            Some(_) => Some(skill::Model::read_at(row, skill_at, checked)?),
            None => None,
        };
        grouped
            .entry(goal.pairing_id)
            .or_default()
            .push(GoalWithSkill { goal, skill });
    }
    Ok(grouped)
}

/// A goal with the skill it works on, read together.
#[derive(Clone, Debug)]
pub struct GoalWithSkill {
    /// The goal.
    pub goal: goal::Model,
    /// Its skill, if it names one.
    pub skill: Option<skill::Model>,
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
    let mentees = mentees_of_one(db, pairing.id).await?;
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

/// The mentee ids of one pairing.
pub async fn mentees_of_one<C: ConnectionTrait>(db: &C, pairing_id: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(mentees_of(db, &[pairing_id])
        .await?
        .remove(&pairing_id)
        .unwrap_or_default())
}

/// The pairing with this id, whoever asks; NOT_FOUND if there is none.
pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<pairing::Model> {
    pairing::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("pairing"))
}

/// One pairing the caller may see; NOT_FOUND otherwise.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<pairing::Model> {
    let found = find(db, id).await?;
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
    let found = find(db, id).await?;
    let mentees = mentees_of_one(db, found.id).await?;
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
    match caller.employee_id {
        Some(me) => of_employee(db, me, status).await,
        None => Ok(Vec::new()),
    }
}

/// A principal's ACTIVE pairings, for their delegate (who manages the
/// agenda of live pairings only); NOT_FOUND unless the principal delegated
/// to the caller.
pub async fn of_principal(
    db: &DatabaseConnection,
    caller: &Caller,
    principal: Uuid,
) -> AppResult<Vec<pairing::Model>> {
    access::require(caller, Area::People)?;
    let principal = crate::domain::delegations::require_principal(db, caller, principal).await?;
    of_employee(db, principal, Some(PairingStatus::Active)).await
}

/// The caller's pairings with the relations the API's selection needs
/// (programme, mentor, mentees), in one statement: see [`joined`].
pub async fn mine_with(
    db: &DatabaseConnection,
    caller: &Caller,
    status: Option<PairingStatus>,
    relations: joined::Relations,
) -> AppResult<Vec<joined::WithRelations>> {
    match caller.employee_id {
        Some(me) => joined::read(db, of_employee_condition(me, status), relations).await,
        None => Ok(Vec::new()),
    }
}

/// Known pairings (not proposals) where `employee` is mentor or mentee,
/// newest first.
async fn of_employee(
    db: &DatabaseConnection,
    employee: Uuid,
    status: Option<PairingStatus>,
) -> AppResult<Vec<pairing::Model>> {
    Ok(pairing::Entity::find()
        .filter(of_employee_condition(employee, status))
        .order_by_desc(pairing::Column::Id)
        .all(db)
        .await?)
}

/// The pairings `employee` mentors or is a mentee of, in a known state
/// (a proposal names nobody to its participants until it is accepted),
/// and in `status` when one is given: one condition, so one statement.
///
/// The two ways in are a UNION ALL of two index seeks rather than an OR:
/// PostgreSQL cannot estimate `mentor_id = $1 OR id IN (…)` and, guessing
/// half the table, joined the employees by scanning them (2–3 ms instead
/// of 0.5 ms on the demo company).
pub(super) fn of_employee_condition(employee: Uuid, status: Option<PairingStatus>) -> Condition {
    let own = Alias::new("own");
    let ids = Query::select()
        .column((own.clone(), pairing::Column::Id))
        .from_as(pairing::Entity, own.clone())
        .and_where(Expr::col((own, pairing::Column::MentorId)).eq(employee))
        .union(
            UnionType::All,
            Query::select()
                .column(pairing_mentee::Column::PairingId)
                .from(pairing_mentee::Entity)
                .and_where(pairing_mentee::Column::MenteeId.eq(employee))
                .to_owned(),
        )
        .to_owned();
    let mut condition = Condition::all()
        .add(pairing::Column::Id.in_subquery(ids))
        .add(pairing::Column::Status.is_in(access::KNOWN_PAIRING_STATES));
    if let Some(status) = status {
        condition = condition.add(pairing::Column::Status.eq(status));
    }
    condition
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

/// The places a programme's pairings in `held_by` hold: mentees per mentor,
/// and the mentees placed. `except` leaves one pairing out (a proposal
/// being accepted does not compete with itself).
#[derive(Debug, Default)]
pub struct PlacesHeld {
    /// Mentees per mentor.
    pub taken: HashMap<Uuid, usize>,
    /// Every mentee in such a pairing.
    pub placed: std::collections::HashSet<Uuid>,
}

/// Reads [`PlacesHeld`]: two statements per 10,000 pairings.
pub async fn places_held<C: ConnectionTrait>(
    db: &C,
    programme_id: Uuid,
    held_by: &[PairingStatus],
    except: Option<Uuid>,
) -> AppResult<PlacesHeld> {
    let mut holding = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .column(pairing::Column::MentorId)
        .filter(pairing::Column::ProgrammeId.eq(programme_id))
        .filter(pairing::Column::Status.is_in(held_by.iter().copied()));
    if let Some(own) = except {
        holding = holding.filter(pairing::Column::Id.ne(own));
    }
    let holding: Vec<(Uuid, Uuid)> = holding.into_tuple().all(db).await?;
    let ids: Vec<Uuid> = holding.iter().map(|(id, _)| *id).collect();
    let mentor_of: HashMap<Uuid, Uuid> = holding.into_iter().collect();
    let mut held = PlacesHeld::default();
    for chunk in ids.chunks(10_000) {
        for (pairing_id, mentees) in mentees_of(db, chunk).await? {
            if let Some(mentor) = mentor_of.get(&pairing_id) {
                let count = held.taken.entry(*mentor).or_default();
                *count = count.saturating_add(mentees.len());
            }
            held.placed.extend(mentees);
        }
    }
    Ok(held)
}
