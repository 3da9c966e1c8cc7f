//! The right of access and portability (GDPR art. 15 and 20): everything
//! Tandem holds about the caller as one JSON document, each part read in
//! one query (no N+1), the caller's own notes opened, what others wrote
//! about them left out. README "Personal data" documents it field by field.

use entity::{
    calendar_feed, delegation, department, employee, enrolment, goal, mentoring_session,
    notification, notification_preference, pairing, pairing_mentee, programme, session_feedback,
    skill, skill_assessment, skill_profile, unavailability, weekly_slot,
};
use sea_orm::{
    ActiveEnum as _, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

use super::seal::{self, Keyring};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// The document's format version, so a reader can tell what it holds.
const FORMAT: &str = "tandem.personal-data/1";

/// Everything Tandem holds about the caller (an employee).
pub async fn my_data(
    db: &DatabaseConnection,
    caller: &Caller,
    keyring: &Keyring,
) -> AppResult<Value> {
    let me = caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only an employee's own token reads their data"))?;
    let person = employee::Entity::find_by_id(me)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("employee"))?;
    let department = match person.department_id {
        Some(id) => department::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let pairings = my_pairings(db, me).await?;
    let pairing_ids: Vec<Uuid> = pairings.iter().map(|p| p.id).collect();
    let mentees = super::pairings::members::mentees_of(db, &pairing_ids).await?;
    let sessions = mentoring_session::Entity::find()
        .filter(mentoring_session::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .order_by_asc(mentoring_session::Column::StartsAt)
        .all(db)
        .await?;
    let goals = goal::Entity::find()
        .filter(goal::Column::PairingId.is_in(pairing_ids.iter().copied()))
        .order_by_asc(goal::Column::CreatedAt)
        .all(db)
        .await?;
    let feedback = session_feedback::Entity::find()
        .filter(session_feedback::Column::AuthorId.eq(me))
        .order_by_asc(session_feedback::Column::SubmittedAt)
        .all(db)
        .await?;
    let profile = skill_profile::Entity::find()
        .filter(skill_profile::Column::EmployeeId.eq(me))
        .all(db)
        .await?;
    let assessments = skill_assessment::Entity::find()
        .filter(skill_assessment::Column::EmployeeId.eq(me))
        .all(db)
        .await?;
    let enrolments = enrolment::Entity::find()
        .filter(enrolment::Column::EmployeeId.eq(me))
        .all(db)
        .await?;
    // The names of only the skills and programmes the document mentions.
    let skill_ids: BTreeSet<Uuid> = profile
        .iter()
        .map(|s| s.skill_id)
        .chain(assessments.iter().map(|a| a.skill_id))
        .chain(goals.iter().filter_map(|g| g.skill_id))
        .collect();
    let skills: HashMap<Uuid, String> = skill::Entity::find()
        .filter(skill::Column::Id.is_in(skill_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let skill_name = |id: &Uuid| skills.get(id).cloned();
    let programme_ids: BTreeSet<Uuid> = pairings
        .iter()
        .map(|p| p.programme_id)
        .chain(enrolments.iter().map(|e| e.programme_id))
        .chain(assessments.iter().map(|a| a.programme_id))
        .collect();
    let programmes: HashMap<Uuid, String> = programme::Entity::find()
        .filter(programme::Column::Id.is_in(programme_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();

    Ok(json!({
        "format": FORMAT,
        "generatedAt": chrono::Utc::now(),
        "profile": {
            "id": person.id,
            "externalId": person.external_id,
            "email": person.email,
            "givenName": person.given_name,
            "familyName": person.family_name,
            "displayName": person.display_name,
            "jobTitle": person.job_title,
            "department": department.map(|d| d.name),
            "managerId": person.manager_id,
            "generation": person.generation.to_value(),
            "seniorityLevel": person.seniority_level,
            "timezone": person.timezone,
            "status": person.status.to_value(),
            "createdAt": person.created_at,
            "updatedAt": person.updated_at,
        },
        "skills": profile.into_iter()
            .map(|s| json!({ "skill": skill_name(&s.skill_id), "direction": s.direction.to_value(), "level": s.level, "updatedAt": s.updated_at }))
            .collect::<Vec<_>>(),
        "assessments": assessments.into_iter()
            .map(|a| json!({ "programme": programmes.get(&a.programme_id), "skill": skill_name(&a.skill_id), "phase": a.phase.to_value(), "level": a.level, "assessedAt": a.assessed_at }))
            .collect::<Vec<_>>(),
        "availability": {
            "weekly": weekly_slot::Entity::find()
                .filter(weekly_slot::Column::EmployeeId.eq(me))
                .all(db).await?.into_iter()
                .map(|w| json!({ "weekday": w.weekday, "start": super::calendar::format_hhmm(w.start_minute), "end": super::calendar::format_hhmm(w.end_minute) }))
                .collect::<Vec<_>>(),
            "unavailabilities": unavailability::Entity::find()
                .filter(unavailability::Column::EmployeeId.eq(me))
                .order_by_asc(unavailability::Column::StartsAt)
                .all(db).await?.into_iter()
                .map(|u| json!({ "startsAt": u.starts_at, "endsAt": u.ends_at, "reason": u.reason }))
                .collect::<Vec<_>>(),
        },
        "enrolments": enrolments.into_iter()
            .map(|e| json!({
                "programme": programmes.get(&e.programme_id), "role": e.role.to_value(),
                "status": e.status.to_value(), "consentedAt": e.consented_at,
                "motivation": e.motivation, "trainingCompletedAt": e.training_completed_at,
                "supervisorId": e.supervisor_id, "capacity": e.capacity,
                "decidedAt": e.decided_at, "decisionReason": e.decision_reason,
                "withdrawnAt": e.withdrawn_at, "createdAt": e.created_at,
            }))
            .collect::<Vec<_>>(),
        "pairings": pairings.iter()
            .map(|p| json!({
                "id": p.id, "programme": programmes.get(&p.programme_id),
                "role": if p.mentor_id == me { "MENTOR" } else { "MENTEE" },
                "status": p.status.to_value(), "mentorId": p.mentor_id,
                "menteeIds": mentees.get(&p.id).cloned().unwrap_or_default(),
                "endReason": p.end_reason, "pauseReason": p.pause_reason,
                "decidedAt": p.decided_at, "pausedAt": p.paused_at, "endedAt": p.ended_at,
                "createdAt": p.created_at,
            }))
            .collect::<Vec<_>>(),
        "sessions": sessions.iter()
            .map(|s| json!({
                "id": s.id, "pairingId": s.pairing_id, "startsAt": s.starts_at,
                "endsAt": s.ends_at, "mode": s.mode.to_value(), "status": s.status.to_value(),
                "agenda": s.agenda,
                "privateNotes": keyring.open_or_log(s.private_notes.as_deref(), &seal::notes_context(s.id)),
                "cancelReason": s.cancel_reason,
            }))
            .collect::<Vec<_>>(),
        "feedbackWritten": feedback.iter()
            .map(|f| json!({
                "sessionId": f.session_id, "rating": f.rating, "recommend": f.recommend,
                "comment": keyring.open_or_log(f.comment.as_deref(), &seal::comment_context(f.id)),
                "submittedAt": f.submitted_at,
            }))
            .collect::<Vec<_>>(),
        "goals": goals.iter()
            .map(|g| json!({
                "pairingId": g.pairing_id, "description": g.description,
                "skill": g.skill_id.as_ref().and_then(skill_name), "status": g.status.to_value(),
                "dueOn": g.due_on, "createdAt": g.created_at,
            }))
            .collect::<Vec<_>>(),
        "notifications": notification::Entity::find()
            .filter(notification::Column::RecipientId.eq(me))
            .order_by_asc(notification::Column::Id)
            .all(db).await?.into_iter()
            .map(|n| json!({
                "kind": n.kind.to_value(), "channel": n.channel.to_value(),
                "state": n.state.to_value(), "subject": n.subject,
                "createdAt": n.created_at, "sentAt": n.sent_at,
            }))
            .collect::<Vec<_>>(),
        "notificationPreferences": notification_preference::Entity::find_by_id(me)
            .one(db).await?
            .map(|p| json!({
                "sessionReminders": p.session_reminders,
                "reminderLeadMinutes": p.reminder_lead_minutes,
                "nudges": p.nudges, "language": p.language,
            })),
        "delegations": delegation::Entity::find()
            .filter(Condition::any()
                .add(delegation::Column::PrincipalId.eq(me))
                .add(delegation::Column::DelegateId.eq(me)))
            .all(db).await?.into_iter()
            .map(|d| json!({
                "principalId": d.principal_id, "delegateId": d.delegate_id,
                "grantedBy": d.granted_by, "createdAt": d.created_at, "revokedAt": d.revoked_at,
            }))
            .collect::<Vec<_>>(),
        "calendarFeed": calendar_feed::Entity::find_by_id(me)
            .one(db).await?
            .map(|f| json!({ "createdAt": f.created_at })),
        "auditEntries": entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::TargetId.eq(me))
            .order_by_asc(entity::audit_log::Column::Id)
            .all(db).await?.into_iter()
            .map(|a| json!({ "at": a.at, "action": a.action, "targetType": a.target_type }))
            .collect::<Vec<_>>(),
    }))
}

/// The pairings the person `me` takes part in, as mentor or mentee.
async fn my_pairings(db: &DatabaseConnection, me: Uuid) -> AppResult<Vec<pairing::Model>> {
    let as_mentee: BTreeSet<Uuid> = pairing_mentee::Entity::find()
        .filter(pairing_mentee::Column::MenteeId.eq(me))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.pairing_id)
        .collect();
    Ok(pairing::Entity::find()
        .filter(
            Condition::any()
                .add(pairing::Column::MentorId.eq(me))
                .add(pairing::Column::Id.is_in(as_mentee)),
        )
        .order_by_asc(pairing::Column::CreatedAt)
        .all(db)
        .await?)
}
