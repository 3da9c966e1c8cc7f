//! Mentoring sessions: scheduling without double booking, holding,
//! cancelling, private notes for participants only, and feedback.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::enums::{PairingStatus, SessionMode, SessionStatus};
use entity::{mentoring_session, pairing, pairing_mentee, session_feedback, session_topic, skill};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use uuid::Uuid;

use super::audit::{Actor, AuditEntry};
use super::notifications::outbox::{self, Change};
use super::seal::{self, Keyring};
use super::{delegations, employees, pairings};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// What a participant asks for when scheduling a session.
#[derive(Clone, Debug)]
pub struct ScheduleRequest {
    /// The pairing.
    pub pairing_id: Uuid,
    /// Start; may be up to 30 days in the past (a session logged late).
    pub starts_at: DateTime<Utc>,
    /// 15 to 240 minutes.
    pub duration_minutes: i32,
    /// In person or by video.
    pub mode: SessionMode,
    /// Skills the session covers (at most 5, from the catalogue).
    pub topic_skill_ids: Vec<Uuid>,
    /// What the participants plan to talk about.
    pub agenda: Option<String>,
    /// Book for this principal, who delegated their agenda to the caller.
    pub on_behalf_of: Option<Uuid>,
}

/// Statuses that occupy a participant's time.
const BOOKED: [SessionStatus; 2] = [SessionStatus::Scheduled, SessionStatus::Held];

impl ScheduleRequest {
    fn validate(
        &self,
        now: DateTime<Utc>,
    ) -> AppResult<(DateTime<Utc>, Vec<Uuid>, Option<String>)> {
        if !(15..=240).contains(&self.duration_minutes) {
            return Err(AppError::bad_input(
                "durationMinutes",
                "a session lasts 15 to 240 minutes",
            ));
        }
        if self.starts_at < now - Duration::days(30) {
            return Err(AppError::bad_input(
                "startsAt",
                "a session may be recorded up to 30 days in the past",
            ));
        }
        let mut topics = self.topic_skill_ids.clone();
        topics.sort();
        topics.dedup();
        if topics.len() > 5 {
            return Err(AppError::bad_input(
                "topicSkillIds",
                "at most 5 topics per session",
            ));
        }
        let agenda = self
            .agenda
            .as_ref()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if agenda.as_ref().is_some_and(|a| a.chars().count() > 2000) {
            return Err(AppError::bad_input(
                "agenda",
                "the agenda is limited to 2000 characters",
            ));
        }
        let ends_at = self
            .starts_at
            .checked_add_signed(Duration::minutes(self.duration_minutes.into()))
            .ok_or_else(|| AppError::bad_input("startsAt", "startsAt is too far in the future"))?;
        Ok((ends_at, topics, agenda))
    }
}

/// A participant schedules a session of an ACTIVE pairing. The participants'
/// rows are updated first (their availability version), which locks them on
/// PostgreSQL and serialises writers on SQLite, so two concurrent bookings
/// cannot both pass the overlap check.
pub async fn schedule(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    request: ScheduleRequest,
) -> AppResult<mentoring_session::Model> {
    let caller = actor.caller;
    let now = Utc::now();
    let (ends_at, topics, agenda) = request.validate(now)?;
    let txn = super::write_txn(db).await?;
    let principal = match request.on_behalf_of {
        Some(principal) if Some(principal) != caller.employee_id => {
            Some(delegations::require_principal(&txn, caller, principal).await?)
        }
        _ => None,
    };
    let participant = match principal {
        Some(principal) => Caller {
            subject: caller.subject.clone(),
            employee_id: Some(principal),
            roles: Default::default(),
        },
        None => caller.clone(),
    };
    let pairing = pairings::get_as_participant(&txn, &participant, request.pairing_id).await?;
    if principal.is_some() && pairing.status != PairingStatus::Active {
        // A delegate knows the principal's ACTIVE pairings only.
        return Err(AppError::NotFound("pairing"));
    }
    if !topics.is_empty() {
        let known = skill::Entity::find()
            .filter(skill::Column::Id.is_in(topics.clone()))
            .count(&txn)
            .await?;
        if known != topics.len() as u64 {
            return Err(AppError::bad_input(
                "topicSkillIds",
                "every topic must be a skill of the catalogue",
            ));
        }
    }
    let participants = pairings::participants(&txn, &pairing).await?;
    employees::bump_availability(&txn, &participants).await?;
    require_active(&txn, pairing.id).await?;
    refuse_clashes(&txn, &participants, request.starts_at, ends_at, None).await?;
    let created = mentoring_session::ActiveModel {
        id: Set(super::new_id()),
        pairing_id: Set(pairing.id),
        starts_at: Set(request.starts_at),
        ends_at: Set(ends_at),
        mode: Set(request.mode),
        status: Set(SessionStatus::Scheduled),
        agenda: Set(agenda),
        private_notes: Set(None),
        cancel_reason: Set(None),
        sequence: Set(0),
        created_by: Set(caller.employee_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if !topics.is_empty() {
        let rows = topics.iter().map(|t| session_topic::ActiveModel {
            session_id: Set(created.id),
            skill_id: Set(*t),
        });
        session_topic::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    audit_delegated(&txn, actor, principal, "session.schedule", created.id).await?;
    outbox::record(&txn, Change::SessionScheduled(created.id), now).await?;
    txn.commit().await?;
    Ok(created)
}

/// Audits a session change a delegate made for their principal.
async fn audit_delegated<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor<'_>,
    principal: Option<Uuid>,
    action: &str,
    session_id: Uuid,
) -> AppResult<()> {
    let Some(principal) = principal else {
        return Ok(());
    };
    let entry = AuditEntry::new(action, "session", session_id, serde_json::json!({}));
    delegations::record_delegated(txn, actor, principal, entry).await
}

/// A session the caller manages: as one of its participants (`None`), or
/// as the delegate of one of them while the pairing is ACTIVE (`Some`
/// principal). Those who see it otherwise (admins, supervisors) are
/// refused; anyone else learns nothing (NOT_FOUND).
async fn managed<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(mentoring_session::Model, Vec<Uuid>, Option<Uuid>)> {
    let session = reread(db, id).await?;
    let pairing = pairing::Entity::find_by_id(session.pairing_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("session"))?;
    let participants = pairings::participants(db, &pairing).await?;
    if caller
        .employee_id
        .is_some_and(|me| participants.contains(&me))
    {
        return Ok((session, participants, None));
    }
    if pairing.status == PairingStatus::Active
        && let Some(principal) = delegations::principals_among(db, caller, &participants)
            .await?
            .first()
            .copied()
    {
        return Ok((session, participants, Some(principal)));
    }
    match pairings::get(db, caller, pairing.id).await {
        Ok(_) => Err(AppError::forbidden(
            "only the pairing's participants or their delegates do this",
        )),
        Err(_) => Err(AppError::NotFound("session")),
    }
}

/// The pairing is ACTIVE — read after the participants' rows are locked: a
/// pause or an end that committed meanwhile locked them too (it cancels
/// their sessions), so its new status is what this reads.
async fn require_active<C: ConnectionTrait>(txn: &C, pairing_id: Uuid) -> AppResult<()> {
    let status: Option<PairingStatus> = pairing::Entity::find_by_id(pairing_id)
        .select_only()
        .column(pairing::Column::Status)
        .into_tuple()
        .one(txn)
        .await?;
    match status {
        Some(PairingStatus::Active) => Ok(()),
        Some(other) => Err(AppError::Conflict(format!(
            "the pairing is {}: only ACTIVE pairings take sessions",
            other.to_value()
        ))),
        None => Err(AppError::NotFound("pairing")),
    }
}

/// No participant has another session in `[start, end)` (`moving`: the
/// session being moved, which does not clash with itself).
async fn refuse_clashes<C: ConnectionTrait>(
    txn: &C,
    participants: &[Uuid],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    moving: Option<Uuid>,
) -> AppResult<()> {
    let clashes = booked_of(txn, participants, start, end).await?;
    match clashes.iter().find(|s| Some(s.id) != moving) {
        Some(clash) => Err(AppError::Conflict(format!(
            "a participant already has a session from {} to {}",
            clash.starts_at.to_rfc3339(),
            clash.ends_at.to_rfc3339()
        ))),
        None => Ok(()),
    }
}

/// What a participant (or their delegate) asks for when moving a session.
#[derive(Clone, Copy, Debug)]
pub struct RescheduleRequest {
    /// The session.
    pub session_id: Uuid,
    /// The new start: still to come.
    pub starts_at: DateTime<Utc>,
    /// 15 to 240 minutes; the session's own length when not given.
    pub duration_minutes: Option<i32>,
}

/// Moves a SCHEDULED session still to come to another time, by the rules of
/// booking (an ACTIVE pairing, no participant double-booked, 15 to 240
/// minutes), in one transaction: the old slot is free again only if the new
/// one is taken. Its iCalendar SEQUENCE grows, so calendars update the same
/// entry; the participants' availability versions are bumped.
pub async fn reschedule(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    request: RescheduleRequest,
) -> AppResult<mentoring_session::Model> {
    let now = Utc::now();
    if request.starts_at <= now {
        return Err(AppError::bad_input(
            "startsAt",
            "a session is moved to a time still to come",
        ));
    }
    let txn = super::write_txn(db).await?;
    let (session, participants, principal) =
        managed(&txn, actor.caller, request.session_id).await?;
    let minutes = match request.duration_minutes {
        Some(minutes) => minutes,
        None => i32::try_from((session.ends_at - session.starts_at).num_minutes()).unwrap_or(0),
    };
    if !(15..=240).contains(&minutes) {
        return Err(AppError::bad_input(
            "durationMinutes",
            "a session lasts 15 to 240 minutes",
        ));
    }
    let ends_at = request
        .starts_at
        .checked_add_signed(Duration::minutes(minutes.into()))
        .ok_or_else(|| AppError::bad_input("startsAt", "startsAt is too far in the future"))?;
    employees::bump_availability(&txn, &participants).await?;
    let current = reread(&txn, session.id).await?;
    refuse_unless_still_to_come(&current, now, "moved")?;
    require_active(&txn, current.pairing_id).await?;
    refuse_clashes(
        &txn,
        &participants,
        request.starts_at,
        ends_at,
        Some(current.id),
    )
    .await?;
    let moved = mentoring_session::Entity::update_many()
        .col_expr(
            mentoring_session::Column::StartsAt,
            Expr::value(request.starts_at),
        )
        .col_expr(mentoring_session::Column::EndsAt, Expr::value(ends_at))
        .col_expr(
            mentoring_session::Column::Sequence,
            Expr::col(mentoring_session::Column::Sequence).add(1),
        )
        .col_expr(mentoring_session::Column::UpdatedAt, Expr::value(now))
        .filter(mentoring_session::Column::Id.eq(current.id))
        .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(AppError::Conflict(
            "the session changed meanwhile; read it again".into(),
        ));
    }
    let updated = reread(&txn, current.id).await?;
    audit_delegated(&txn, actor, principal, "session.reschedule", current.id).await?;
    outbox::record(&txn, Change::SessionRescheduled(current.id), now).await?;
    txn.commit().await?;
    Ok(updated)
}

/// A session that is SCHEDULED and has not started; CONFLICT naming its state otherwise.
fn refuse_unless_still_to_come(
    session: &mentoring_session::Model,
    now: DateTime<Utc>,
    verb: &str,
) -> AppResult<()> {
    if session.status != SessionStatus::Scheduled {
        return Err(AppError::Conflict(format!(
            "the session is {}: only a SCHEDULED session still to come is {verb}",
            session.status.to_value()
        )));
    }
    if session.starts_at <= now {
        return Err(AppError::Conflict(format!(
            "the session started at {}: it can no longer be {verb}",
            session.starts_at.to_rfc3339()
        )));
    }
    Ok(())
}

/// The session as it is now.
async fn reread<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<mentoring_session::Model> {
    mentoring_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("session"))
}

/// Moves a SCHEDULED session to `to` with a guarded update: of two changes
/// at once exactly one applies, the other is a CONFLICT naming the state it
/// found.
async fn finish_scheduled<C: ConnectionTrait>(
    txn: &C,
    id: Uuid,
    to: SessionStatus,
    cancel_reason: Option<String>,
) -> AppResult<mentoring_session::Model> {
    let mut update = mentoring_session::Entity::update_many()
        .col_expr(
            mentoring_session::Column::Status,
            Expr::value(to.to_value()),
        )
        .col_expr(
            mentoring_session::Column::UpdatedAt,
            Expr::value(Utc::now()),
        );
    if to == SessionStatus::Cancelled {
        // A cancellation is a new version of the calendar entry: one more
        // SEQUENCE, so no earlier invitation can bring the entry back.
        update = update
            .col_expr(
                mentoring_session::Column::CancelReason,
                Expr::value(cancel_reason),
            )
            .col_expr(
                mentoring_session::Column::Sequence,
                Expr::col(mentoring_session::Column::Sequence).add(1),
            );
    }
    let moved = update
        .filter(mentoring_session::Column::Id.eq(id))
        .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
        .exec(txn)
        .await?;
    let now = reread(txn, id).await?;
    if moved.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "the session is {}: it cannot become {}",
            now.status.to_value(),
            to.to_value()
        )));
    }
    Ok(now)
}

/// The SCHEDULED and HELD sessions of any of these people (in any of their
/// pairings) that overlap `[start, end)`.
pub async fn booked_of<C: ConnectionTrait>(
    db: &C,
    people: &[Uuid],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> AppResult<Vec<mentoring_session::Model>> {
    let mut all: Vec<mentoring_session::Model> = booked_by_person(db, people, start, end)
        .await?
        .into_values()
        .flatten()
        .collect();
    all.sort_by_key(|s| (s.starts_at, s.id));
    all.dedup_by_key(|s| s.id);
    Ok(all)
}

/// The SCHEDULED and HELD sessions overlapping `[start, end)` of each of
/// these people, in three statements whatever their number.
pub async fn booked_by_person<C: ConnectionTrait>(
    db: &C,
    people: &[Uuid],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Vec<mentoring_session::Model>>> {
    let as_mentee: Vec<(Uuid, Uuid)> = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .column(pairing_mentee::Column::MenteeId)
        .filter(pairing_mentee::Column::MenteeId.is_in(people.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mentored: Vec<(Uuid, Uuid)> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .column(pairing::Column::MentorId)
        .filter(pairing::Column::MentorId.is_in(people.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut who: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (pairing_id, person) in as_mentee.into_iter().chain(mentored) {
        who.entry(pairing_id).or_default().push(person);
    }
    let sessions = mentoring_session::Entity::find()
        .filter(mentoring_session::Column::PairingId.is_in(who.keys().copied()))
        .filter(mentoring_session::Column::Status.is_in(BOOKED))
        .filter(mentoring_session::Column::StartsAt.lt(end))
        .filter(mentoring_session::Column::EndsAt.gt(start))
        .order_by_asc(mentoring_session::Column::StartsAt)
        .all(db)
        .await?;
    let mut by_person: HashMap<Uuid, Vec<mentoring_session::Model>> = HashMap::new();
    for session in sessions {
        for person in who.get(&session.pairing_id).into_iter().flatten() {
            by_person.entry(*person).or_default().push(session.clone());
        }
    }
    Ok(by_person)
}

/// The session, if the caller may see its pairing.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(mentoring_session::Model, pairing::Model)> {
    let session = mentoring_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("session"))?;
    let pairing = pairings::get(db, caller, session.pairing_id)
        .await
        .map_err(|_| AppError::NotFound("session"))?;
    Ok((session, pairing))
}

/// The session, if the caller is one of its participants.
async fn get_as_participant<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(mentoring_session::Model, Vec<Uuid>)> {
    let (session, pairing) = get(db, caller, id).await?;
    let participants = pairings::participants(db, &pairing).await?;
    if caller
        .employee_id
        .is_some_and(|me| participants.contains(&me))
    {
        Ok((session, participants))
    } else {
        Err(AppError::forbidden(
            "only the pairing's participants do this",
        ))
    }
}

/// Marks a session HELD, once it has started.
pub async fn mark_held(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<mentoring_session::Model> {
    let txn = super::write_txn(db).await?;
    let (session, _) = get_as_participant(&txn, caller, id).await?;
    if session.status != SessionStatus::Scheduled {
        return Err(AppError::Conflict(format!(
            "the session is {}: only a SCHEDULED session is held",
            session.status.to_value()
        )));
    }
    if session.starts_at > Utc::now() {
        return Err(AppError::Conflict(
            "the session is SCHEDULED and has not started yet".into(),
        ));
    }
    let updated = finish_scheduled(&txn, session.id, SessionStatus::Held, None).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Marks a session NO_SHOW (a participant, once it has started): it did
/// not take place, and counts as such in metrics, never as held.
pub async fn mark_no_show(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<mentoring_session::Model> {
    let txn = super::write_txn(db).await?;
    let (session, _) = get_as_participant(&txn, caller, id).await?;
    if session.status != SessionStatus::Scheduled {
        return Err(AppError::Conflict(format!(
            "the session is {}: only a SCHEDULED session is marked NO_SHOW",
            session.status.to_value()
        )));
    }
    if session.starts_at > Utc::now() {
        return Err(AppError::Conflict(
            "the session has not started yet: nobody has missed it".into(),
        ));
    }
    let updated = finish_scheduled(&txn, session.id, SessionStatus::NoShow, None).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Cancels a SCHEDULED session (its participants, or admins).
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    reason: Option<String>,
) -> AppResult<mentoring_session::Model> {
    let caller = actor.caller;
    let txn = super::write_txn(db).await?;
    let (session, participants, principal) = if caller.is_admin() {
        let (session, pairing) = get(&txn, caller, id).await?;
        (session, pairings::participants(&txn, &pairing).await?, None)
    } else {
        managed(&txn, caller, id).await?
    };
    if session.status != SessionStatus::Scheduled {
        return Err(AppError::Conflict(format!(
            "the session is {}: only a SCHEDULED session is cancelled",
            session.status.to_value()
        )));
    }
    employees::bump_availability(&txn, &participants).await?;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let updated = finish_scheduled(&txn, session.id, SessionStatus::Cancelled, reason).await?;
    audit_delegated(&txn, actor, principal, "session.cancel", session.id).await?;
    outbox::record(&txn, Change::SessionsCancelled(&[session.id]), Utc::now()).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Sets the private notes (participants only; nobody else ever reads them).
pub async fn set_notes(
    db: &DatabaseConnection,
    caller: &Caller,
    keyring: &Keyring,
    id: Uuid,
    notes: &str,
) -> AppResult<mentoring_session::Model> {
    if notes.chars().count() > 10_000 {
        return Err(AppError::bad_input(
            "notes",
            "notes are limited to 10000 characters",
        ));
    }
    let txn = super::write_txn(db).await?;
    let (session, _) = get_as_participant(&txn, caller, id).await?;
    let sealed = match notes.trim().is_empty() {
        true => None,
        false => Some(keyring.seal(notes, &seal::notes_context(session.id))?),
    };
    let mut change: mentoring_session::ActiveModel = session.into();
    change.private_notes = Set(sealed);
    change.updated_at = Set(Utc::now());
    let updated = change.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Topic skill ids of several sessions (for DataLoaders).
pub async fn topics_of(
    db: &DatabaseConnection,
    session_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let rows = session_topic::Entity::find()
        .filter(session_topic::Column::SessionId.is_in(session_ids.iter().copied()))
        .order_by_asc(session_topic::Column::SkillId)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        grouped
            .entry(row.session_id)
            .or_default()
            .push(row.skill_id);
    }
    Ok(grouped)
}

/// Feedback of several sessions (for DataLoaders).
pub async fn feedback_of(
    db: &DatabaseConnection,
    session_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<session_feedback::Model>>> {
    let rows = session_feedback::Entity::find()
        .filter(session_feedback::Column::SessionId.is_in(session_ids.iter().copied()))
        .order_by_asc(session_feedback::Column::Id)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<session_feedback::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.session_id).or_default().push(row);
    }
    Ok(grouped)
}

/// A participant's evaluation of a session.
#[derive(Clone, Debug)]
pub struct FeedbackRequest {
    /// The session (HELD).
    pub session_id: Uuid,
    /// 1..5
    pub rating: i32,
    /// 0..10, would they recommend the programme.
    pub recommend: Option<i32>,
    /// Free text, at most 2000 characters.
    pub comment: Option<String>,
}

/// A participant evaluates a HELD session, once.
pub async fn submit_feedback(
    db: &DatabaseConnection,
    caller: &Caller,
    keyring: &Keyring,
    request: FeedbackRequest,
) -> AppResult<session_feedback::Model> {
    if !(1..=5).contains(&request.rating) {
        return Err(AppError::bad_input("rating", "rating is 1 to 5"));
    }
    if request.recommend.is_some_and(|r| !(0..=10).contains(&r)) {
        return Err(AppError::bad_input("recommend", "recommend is 0 to 10"));
    }
    let comment = request
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
        return Err(AppError::bad_input(
            "comment",
            "comments are limited to 2000 characters",
        ));
    }
    let txn = super::write_txn(db).await?;
    let (session, _) = get_as_participant(&txn, caller, request.session_id).await?;
    if session.status != SessionStatus::Held {
        return Err(AppError::Conflict(format!(
            "the session is {}: feedback follows a HELD session",
            session.status.to_value()
        )));
    }
    let author = caller.employee_id.ok_or(AppError::NotFound("session"))?;
    let duplicate = || AppError::Conflict("you already gave feedback on this session".into());
    let existing = session_feedback::Entity::find()
        .filter(session_feedback::Column::SessionId.eq(session.id))
        .filter(session_feedback::Column::AuthorId.eq(author))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(duplicate());
    }
    let id = super::new_id();
    let comment = match comment {
        Some(text) => Some(keyring.seal(&text, &seal::comment_context(id))?),
        None => None,
    };
    let created = session_feedback::ActiveModel {
        id: Set(id),
        session_id: Set(session.id),
        author_id: Set(author),
        rating: Set(request.rating),
        recommend: Set(request.recommend),
        comment: Set(comment),
        submitted_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => duplicate(),
        _ => err.into(),
    })?;
    txn.commit().await?;
    Ok(created)
}
