//! The outbox: notification rows written in the transaction of the change
//! they tell of. Each event becomes one EMAIL row per person told, one
//! EMAIL row for the programme team's mailbox when the team is told, and
//! one WEBHOOK row; every row's dedup key is unique, so raising the same
//! event twice (two passes, two replicas) writes it once.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{
    DeliveryState, EnrolmentStatus, NotificationChannel, NotificationKind, ParticipantRole,
};
use entity::{enrolment, mentoring_session, notification, pairing};
use sea_orm::{
    ActiveEnum as _, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::pairings::members;
use crate::error::AppResult;

/// Ids per statement: under every backend's parameter cap.
const CHUNK: usize = 5_000;

/// One event to tell, before it is split into rows.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// What it tells.
    pub kind: NotificationKind,
    /// The event's identity (`KIND:subject[:version]`): the rows' dedup keys
    /// extend it with the recipient.
    pub key: String,
    /// The programme it belongs to (admins see delivery per programme).
    pub programme_id: Option<Uuid>,
    /// The pairing it is about.
    pub pairing_id: Option<Uuid>,
    /// The session it is about.
    pub session_id: Option<Uuid>,
    /// The facts as they are now (times, calendar sequence, counts).
    pub payload: Value,
    /// The employees told, by email.
    pub people: Vec<Uuid>,
    /// Whether the programme team's mailbox is told too.
    pub team: bool,
}

/// Writes the rows of `events` that do not exist yet; answers how many
/// were written. One look-up of the keys, then chunked inserts that skip a
/// key another writer took meanwhile.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    events: Vec<Outgoing>,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let rows: Vec<notification::ActiveModel> = events
        .iter()
        .flat_map(|event| rows_of(event, now))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|row| row.dedup_key.clone().take())
        .collect();
    let mut existing: HashSet<String> = HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        let found: Vec<String> = notification::Entity::find()
            .select_only()
            .column(notification::Column::DedupKey)
            .filter(notification::Column::DedupKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        existing.extend(found);
    }
    let mut fresh: Vec<notification::ActiveModel> = rows
        .into_iter()
        .filter(|row| {
            row.dedup_key
                .clone()
                .take()
                .is_some_and(|key| !existing.contains(&key))
        })
        .collect();
    // In key order: two writers raising the same events lock the same
    // index entries in the same order, so they queue instead of deadlocking.
    fresh.sort_by_key(|row| row.dedup_key.clone().take());
    let mut written = 0;
    // 16 columns a row: well under PostgreSQL's 65,535 parameters.
    for chunk in fresh.chunks(2_000) {
        let inserted = notification::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing_on([notification::Column::DedupKey])
            .exec_without_returning(db)
            .await?;
        if let sea_orm::TryInsertResult::Inserted(count) = inserted {
            written += count;
        }
    }
    Ok(written)
}

/// The rows of one event: EMAIL per person, EMAIL for the team, one WEBHOOK.
fn rows_of(event: &Outgoing, now: DateTime<Utc>) -> Vec<notification::ActiveModel> {
    let mut payload = event.payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("recipients".into(), json!(event.people));
        map.insert("team".into(), json!(event.team));
    }
    let row = |channel, recipient: Option<Uuid>, suffix: String| notification::ActiveModel {
        id: Set(crate::domain::new_id()),
        dedup_key: Set(format!("{}:{suffix}", event.key)),
        kind: Set(event.kind),
        channel: Set(channel),
        recipient_id: Set(recipient),
        programme_id: Set(event.programme_id),
        pairing_id: Set(event.pairing_id),
        session_id: Set(event.session_id),
        payload: Set(payload.clone()),
        state: Set(DeliveryState::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        subject: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    };
    let mut people: Vec<Uuid> = event.people.clone();
    people.sort();
    people.dedup();
    let mut rows: Vec<_> = people
        .iter()
        .map(|person| {
            row(
                NotificationChannel::Email,
                Some(*person),
                person.to_string(),
            )
        })
        .collect();
    if event.team {
        rows.push(row(NotificationChannel::Email, None, "team".into()));
    }
    if !people.is_empty() || event.team {
        rows.push(row(NotificationChannel::Webhook, None, "hook".into()));
    }
    rows
}

/// A change someone must hear about, recorded in its own transaction.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// The matcher proposed these pairings in this programme: one message
    /// to the programme team for the whole run (not one per pairing).
    PairingsProposed(Uuid, &'a [Uuid]),
    /// These pairings started: the participants and the mentor's supervisor.
    PairingsStarted(&'a [Uuid]),
    /// These pairings ended: the same people.
    PairingsEnded(&'a [Uuid]),
    /// A session was booked: every participant (with an invitation).
    SessionScheduled(Uuid),
    /// A session moved: every participant (the invitation, updated).
    SessionRescheduled(Uuid),
    /// These sessions were called off: every participant (a cancellation).
    SessionsCancelled(&'a [Uuid]),
    /// An enrolment was approved or rejected: the volunteer.
    EnrolmentDecided(Uuid),
}

/// Writes the outbox rows of `change`, in the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let events = match change {
        Change::PairingsProposed(programme_id, ids) => proposals_event(programme_id, ids),
        Change::PairingsStarted(ids) => {
            pairing_events(txn, ids, NotificationKind::PairingStarted).await?
        }
        Change::PairingsEnded(ids) => {
            pairing_events(txn, ids, NotificationKind::PairingEnded).await?
        }
        Change::SessionScheduled(id) => {
            session_events(txn, &[id], NotificationKind::SessionScheduled).await?
        }
        Change::SessionRescheduled(id) => {
            session_events(txn, &[id], NotificationKind::SessionRescheduled).await?
        }
        Change::SessionsCancelled(ids) => {
            session_events(txn, ids, NotificationKind::SessionCancelled).await?
        }
        Change::EnrolmentDecided(id) => enrolment_events(txn, id).await?,
    };
    write(txn, events, now).await.map(|_| ())
}

/// The mentor first, then the mentees, of each pairing.
pub async fn participants_of<C: ConnectionTrait>(
    db: &C,
    pairings: &[pairing::Model],
) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let ids: Vec<Uuid> = pairings.iter().map(|p| p.id).collect();
    let mut mentees: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        mentees.extend(members::mentees_of(db, chunk).await?);
    }
    Ok(pairings
        .iter()
        .map(|p| {
            let mut people = vec![p.mentor_id];
            people.extend(mentees.remove(&p.id).unwrap_or_default());
            (p.id, people)
        })
        .collect())
}

/// The supervisor of each pairing's mentor in its programme, where one is named.
pub async fn supervisors_of<C: ConnectionTrait>(
    db: &C,
    pairings: &[pairing::Model],
) -> AppResult<HashMap<Uuid, Uuid>> {
    let mentors: BTreeSet<Uuid> = pairings.iter().map(|p| p.mentor_id).collect();
    let programmes: BTreeSet<Uuid> = pairings.iter().map(|p| p.programme_id).collect();
    let mut named: HashMap<(Uuid, Uuid), Uuid> = HashMap::new();
    let mentors: Vec<Uuid> = mentors.into_iter().collect();
    for chunk in mentors.chunks(CHUNK) {
        let rows: Vec<(Uuid, Uuid, Option<Uuid>)> = enrolment::Entity::find()
            .select_only()
            .column(enrolment::Column::ProgrammeId)
            .column(enrolment::Column::EmployeeId)
            .column(enrolment::Column::SupervisorId)
            .filter(enrolment::Column::EmployeeId.is_in(chunk.iter().copied()))
            .filter(enrolment::Column::ProgrammeId.is_in(programmes.iter().copied()))
            .filter(enrolment::Column::Role.eq(ParticipantRole::Mentor))
            .filter(enrolment::Column::Status.eq(EnrolmentStatus::Approved))
            .into_tuple()
            .all(db)
            .await?;
        for (programme, mentor, supervisor) in rows {
            if let Some(supervisor) = supervisor {
                named.insert((programme, mentor), supervisor);
            }
        }
    }
    Ok(pairings
        .iter()
        .filter_map(|p| {
            named
                .get(&(p.programme_id, p.mentor_id))
                .map(|supervisor| (p.id, *supervisor))
        })
        .collect())
}

/// The pairings of these ids, chunked under the parameter caps.
pub async fn pairings_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> AppResult<Vec<pairing::Model>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        found.extend(
            pairing::Entity::find()
                .filter(pairing::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

async fn pairing_events<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    kind: NotificationKind,
) -> AppResult<Vec<Outgoing>> {
    let pairings = pairings_by_ids(db, ids).await?;
    let mut people = participants_of(db, &pairings).await?;
    let supervisors = supervisors_of(db, &pairings).await?;
    Ok(pairings
        .iter()
        .map(|p| {
            let mut told = people.remove(&p.id).unwrap_or_default();
            told.extend(supervisors.get(&p.id));
            Outgoing {
                kind,
                key: format!("{}:{}", kind.to_value(), p.id),
                programme_id: Some(p.programme_id),
                pairing_id: Some(p.id),
                session_id: None,
                payload: json!({ "pairingStatus": p.status.to_value() }),
                people: told,
                team: false,
            }
        })
        .collect())
}

/// One PAIRING_PROPOSED for a matcher run: how many proposals wait.
fn proposals_event(programme_id: Uuid, ids: &[Uuid]) -> Vec<Outgoing> {
    let Some(first) = ids.iter().min() else {
        return Vec::new();
    };
    let kind = NotificationKind::PairingProposed;
    vec![Outgoing {
        kind,
        key: format!("{}:{programme_id}:{first}", kind.to_value()),
        programme_id: Some(programme_id),
        pairing_id: None,
        session_id: None,
        payload: json!({ "proposals": ids.len(), "pairingIds": ids }),
        people: Vec::new(),
        team: true,
    }]
}

async fn session_events<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    kind: NotificationKind,
) -> AppResult<Vec<Outgoing>> {
    let mut sessions = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        sessions.extend(
            mentoring_session::Entity::find()
                .filter(mentoring_session::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    let pairing_ids: Vec<Uuid> = sessions
        .iter()
        .map(|s| s.pairing_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let pairings = pairings_by_ids(db, &pairing_ids).await?;
    let people = participants_of(db, &pairings).await?;
    let programme_of: HashMap<Uuid, Uuid> =
        pairings.iter().map(|p| (p.id, p.programme_id)).collect();
    Ok(sessions
        .iter()
        .map(|s| {
            let key = match kind {
                NotificationKind::SessionRescheduled => {
                    format!("{}:{}:{}", kind.to_value(), s.id, s.sequence)
                }
                _ => format!("{}:{}", kind.to_value(), s.id),
            };
            Outgoing {
                kind,
                key,
                programme_id: programme_of.get(&s.pairing_id).copied(),
                pairing_id: Some(s.pairing_id),
                session_id: Some(s.id),
                payload: session_payload(s),
                people: people.get(&s.pairing_id).cloned().unwrap_or_default(),
                team: false,
            }
        })
        .collect())
}

/// What a session event keeps of the session: when, how, which version.
pub fn session_payload(session: &mentoring_session::Model) -> Value {
    json!({
        "startsAt": session.starts_at,
        "endsAt": session.ends_at,
        "sequence": session.sequence,
        "mode": session.mode.to_value(),
    })
}

async fn enrolment_events<C: ConnectionTrait>(db: &C, id: Uuid) -> AppResult<Vec<Outgoing>> {
    let Some(row) = enrolment::Entity::find_by_id(id).one(db).await? else {
        return Ok(Vec::new());
    };
    let kind = NotificationKind::EnrolmentDecided;
    Ok(vec![Outgoing {
        kind,
        key: format!("{}:{}", kind.to_value(), row.id),
        programme_id: Some(row.programme_id),
        pairing_id: None,
        session_id: None,
        payload: json!({ "decision": row.status.to_value(), "role": row.role.to_value() }),
        people: vec![row.employee_id],
        team: false,
    }])
}
