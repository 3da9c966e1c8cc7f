//! The time-based events, raised by one pass at a given instant: session
//! reminders, feedback requests, cadence nudges, at-risk alerts and the
//! admins' daily enrolment digest. A pass may run any number of times, on
//! any number of replicas: each event's dedup key makes it exist once.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use entity::enums::{EnrolmentStatus, NotificationKind, PairingStatus, SessionStatus};
use entity::{
    enrolment, mentoring_session, notification_preference, pairing, programme, session_feedback,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveEnum as _, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::outbox::{self, Outgoing};
use super::preferences::{self, DEFAULT_LEAD_MINUTES, Preferences};
use super::{NotifySettings, due};
use crate::domain::pairings::health;
use crate::error::AppResult;

/// What one pass raised (rows written, all channels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Raised {
    /// Session reminders.
    pub reminders: u64,
    /// Feedback requests.
    pub feedback_requests: u64,
    /// Cadence nudges and at-risk alerts.
    pub nudges: u64,
    /// The enrolment digest.
    pub digests: u64,
}

/// Raises every time-based event due at `now`.
pub async fn raise_due(
    db: &DatabaseConnection,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<Raised> {
    // The four reads are independent: run at once (on separate pool
    // connections), an idle pass costs the slowest, not their sum.
    let (reminders, feedback_requests, nudges, digests) = tokio::try_join!(
        reminders_due(db, settings, now),
        feedback_requests_due(db, settings, now),
        nudges_due(db, settings, now),
        digest_due(db, settings, now),
    )?;
    let reminders = outbox::write(db, reminders, now).await?;
    let feedback_requests = outbox::write(db, feedback_requests, now).await?;
    let nudges = outbox::write(db, nudges, now).await?;
    let digests = outbox::write(db, digests, now).await?;
    Ok(Raised {
        reminders,
        feedback_requests,
        nudges,
        digests,
    })
}

/// The ids of ACTIVE pairings, as a sub-query.
fn active_pairings() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(pairing::Column::Id)
        .from(pairing::Entity)
        .and_where(pairing::Column::Status.eq(PairingStatus::Active))
        .to_owned()
}

/// Who a batch of sessions concerns: each pairing's programme and
/// participants, and their preferences.
struct Audience {
    programme_of: HashMap<Uuid, Uuid>,
    participants: HashMap<Uuid, Vec<Uuid>>,
    wants: HashMap<Uuid, Preferences>,
}

impl Audience {
    /// Reads it for `sessions` in a few statements.
    async fn of(
        db: &DatabaseConnection,
        sessions: &[mentoring_session::Model],
        settings: &NotifySettings,
    ) -> AppResult<Self> {
        let ids: BTreeSet<Uuid> = sessions.iter().map(|s| s.pairing_id).collect();
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let pairings = outbox::pairings_by_ids(db, &ids).await?;
        let participants = outbox::participants_of(db, &pairings).await?;
        Ok(Self {
            programme_of: pairings.iter().map(|p| (p.id, p.programme_id)).collect(),
            wants: preferences_of(db, &participants, settings).await?,
            participants,
        })
    }

    /// The participants of `session`'s pairing.
    fn of_session(&self, session: &mentoring_session::Model) -> &[Uuid] {
        self.participants
            .get(&session.pairing_id)
            .map_or(&[], Vec::as_slice)
    }

    /// An event about `session` told to `person` alone.
    fn tell(
        &self,
        kind: NotificationKind,
        key: String,
        session: &mentoring_session::Model,
        person: Uuid,
    ) -> Outgoing {
        Outgoing {
            kind,
            key,
            programme_id: self.programme_of.get(&session.pairing_id).copied(),
            pairing_id: Some(session.pairing_id),
            session_id: Some(session.id),
            payload: outbox::session_payload(session),
            people: vec![person],
            team: false,
        }
    }
}

/// Everyone's preferences among these pairings' participants.
async fn preferences_of(
    db: &DatabaseConnection,
    participants: &HashMap<Uuid, Vec<Uuid>>,
    settings: &NotifySettings,
) -> AppResult<HashMap<Uuid, Preferences>> {
    let people: BTreeSet<Uuid> = participants.values().flatten().copied().collect();
    let people: Vec<Uuid> = people.into_iter().collect();
    preferences::of_people(db, &people, settings.default_language).await
}

/// A reminder per participant of each SCHEDULED session of an ACTIVE
/// pairing whose lead has begun, for those who want reminders. A moved
/// session is a new version (its SEQUENCE), reminded again.
async fn reminders_due(
    db: &DatabaseConnection,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<Vec<Outgoing>> {
    let longest: Option<i32> = notification_preference::Entity::find()
        .select_only()
        .column_as(
            notification_preference::Column::ReminderLeadMinutes.max(),
            "longest",
        )
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let lead = Ord::max(longest.unwrap_or(0), DEFAULT_LEAD_MINUTES);
    let horizon = now
        .checked_add_signed(Duration::minutes(i64::from(lead)))
        .unwrap_or(now);
    let sessions = mentoring_session::Entity::find()
        .filter(mentoring_session::Column::Status.eq(SessionStatus::Scheduled))
        .filter(mentoring_session::Column::StartsAt.gt(now))
        .filter(mentoring_session::Column::StartsAt.lte(horizon))
        .filter(mentoring_session::Column::PairingId.in_subquery(active_pairings()))
        .all(db)
        .await?;
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let audience = Audience::of(db, &sessions, settings).await?;
    let kind = NotificationKind::SessionReminder;
    let mut events = Vec::new();
    for session in &sessions {
        for person in audience.of_session(session) {
            let Some(prefs) = audience.wants.get(person) else {
                continue;
            };
            if !prefs.wants(kind)
                || !due::reminder_due(session.starts_at, prefs.reminder_lead_minutes, now)
            {
                continue;
            }
            let key = format!(
                "{}:{}:{}:{person}",
                kind.to_value(),
                session.id,
                session.sequence
            );
            events.push(audience.tell(kind, key, session, *person));
        }
    }
    Ok(events)
}

/// A feedback request to each participant of a HELD session of an ACTIVE
/// pairing who has not given feedback a day after it ended (and who takes
/// nudges).
async fn feedback_requests_due(
    db: &DatabaseConnection,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<Vec<Outgoing>> {
    let (Some(earliest), Some(latest)) = (
        now.checked_sub_signed(due::FEEDBACK_UNTIL),
        now.checked_sub_signed(due::FEEDBACK_AFTER),
    ) else {
        return Ok(Vec::new());
    };
    let sessions = mentoring_session::Entity::find()
        // By start, through the (status, start) index: a session lasts at
        // most four hours; the exact window on its end is checked below.
        .filter(mentoring_session::Column::Status.eq(SessionStatus::Held))
        .filter(
            mentoring_session::Column::StartsAt.gte(
                earliest
                    .checked_sub_signed(Duration::hours(4))
                    .unwrap_or(earliest),
            ),
        )
        .filter(mentoring_session::Column::StartsAt.lte(latest))
        .filter(mentoring_session::Column::PairingId.in_subquery(active_pairings()))
        .all(db)
        .await?;
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let mut given: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    for chunk in sessions.chunks(5_000) {
        let rows: Vec<(Uuid, Uuid)> = session_feedback::Entity::find()
            .select_only()
            .column(session_feedback::Column::SessionId)
            .column(session_feedback::Column::AuthorId)
            .filter(session_feedback::Column::SessionId.is_in(chunk.iter().map(|s| s.id)))
            .into_tuple()
            .all(db)
            .await?;
        given.extend(rows);
    }
    let audience = Audience::of(db, &sessions, settings).await?;
    let kind = NotificationKind::FeedbackRequested;
    let mut events = Vec::new();
    for session in &sessions {
        if !due::feedback_request_due(session.ends_at, now) {
            continue;
        }
        for person in audience.of_session(session) {
            if given.contains(&(session.id, *person))
                || !audience.wants.get(person).is_some_and(|p| p.wants(kind))
            {
                continue;
            }
            let key = format!("{}:{}:{person}", kind.to_value(), session.id);
            events.push(audience.tell(kind, key, session, *person));
        }
    }
    Ok(events)
}

/// CADENCE_OVERDUE to the pair (those who take nudges) and PAIRING_AT_RISK
/// to the programme team and the mentor's supervisor, by the rule of
/// [`health::nudges`], once per quiet spell or poor rating.
async fn nudges_due(
    db: &DatabaseConnection,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<Vec<Outgoing>> {
    let (active, cadences) = nudge_candidates(db, now).await?;
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = active.iter().map(|p| p.id).collect();
    let activity = health::activity_of(db, &ids, now).await?;
    let nudged: Vec<(pairing::Model, health::Nudges)> = active
        .into_iter()
        .filter_map(|p| {
            let cadence = cadences.get(&p.programme_id).copied().unwrap_or(14);
            let facts = activity
                .get(&p.id)
                .cloned()
                .unwrap_or_default()
                .facts(&p, cadence);
            let nudges = health::nudges(&facts, now);
            (nudges != health::Nudges::default()).then_some((p, nudges))
        })
        .collect();
    if nudged.is_empty() {
        return Ok(Vec::new());
    }
    let pairings: Vec<pairing::Model> = nudged.iter().map(|(p, _)| p.clone()).collect();
    let participants = outbox::participants_of(db, &pairings).await?;
    let supervisors = outbox::supervisors_of(db, &pairings).await?;
    let wants = preferences_of(db, &participants, settings).await?;
    let mut events = Vec::new();
    for (p, nudges) in &nudged {
        if let Some(since) = nudges.overdue_since {
            let people: Vec<Uuid> = participants
                .get(&p.id)
                .into_iter()
                .flatten()
                .filter(|person| {
                    wants
                        .get(person)
                        .is_some_and(|w| w.wants(NotificationKind::CadenceOverdue))
                })
                .copied()
                .collect();
            if !people.is_empty() {
                events.push(pairing_nudge(
                    NotificationKind::CadenceOverdue,
                    p,
                    since,
                    people,
                    false,
                ));
            }
        }
        if let Some(since) = nudges.at_risk_since {
            let people: Vec<Uuid> = supervisors.get(&p.id).copied().into_iter().collect();
            events.push(pairing_nudge(
                NotificationKind::PairingAtRisk,
                p,
                since,
                people,
                true,
            ));
        }
    }
    Ok(events)
}

/// The ACTIVE pairings a nudge may be due for at `now`, with their
/// programmes' cadences: per programme, [`health::attention_candidates`]
/// (a superset; [`health::nudges`] decides on each).
async fn nudge_candidates(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> AppResult<(Vec<pairing::Model>, HashMap<Uuid, i32>)> {
    let running = Query::select()
        .column(pairing::Column::ProgrammeId)
        .from(pairing::Entity)
        .and_where(pairing::Column::Status.eq(PairingStatus::Active))
        .to_owned();
    let cadences: HashMap<Uuid, i32> = programme::Entity::find()
        .select_only()
        .column(programme::Column::Id)
        .column(programme::Column::SessionCadenceDays)
        .filter(programme::Column::Id.in_subquery(running))
        .into_tuple::<(Uuid, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut candidates = Vec::new();
    for (programme_id, cadence_days) in &cadences {
        let active = pairing::Entity::find()
            .filter(pairing::Column::ProgrammeId.eq(*programme_id))
            .filter(pairing::Column::Status.eq(PairingStatus::Active));
        candidates.extend(health::attention_candidates(db, active, *cadence_days, now).await?);
    }
    Ok((candidates, cadences))
}

fn pairing_nudge(
    kind: NotificationKind,
    pairing: &pairing::Model,
    since: DateTime<Utc>,
    people: Vec<Uuid>,
    team: bool,
) -> Outgoing {
    Outgoing {
        kind,
        key: format!("{}:{}:{}", kind.to_value(), pairing.id, since.timestamp()),
        programme_id: Some(pairing.programme_id),
        pairing_id: Some(pairing.id),
        session_id: None,
        payload: json!({ "quietSince": since }),
        people,
        team,
    }
}

/// One digest a day to the programme team when enrolments have waited for
/// a decision longer than `NOTIFY_ENROLMENT_WAIT_DAYS`: how many, per programme.
async fn digest_due(
    db: &DatabaseConnection,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<Vec<Outgoing>> {
    let Some(cutoff) = now.checked_sub_signed(Duration::days(settings.enrolment_wait_days)) else {
        return Ok(Vec::new());
    };
    let waiting: Vec<(Uuid, i64)> = enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::ProgrammeId)
        .column_as(enrolment::Column::Id.count(), "waiting")
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Pending))
        .filter(enrolment::Column::CreatedAt.lte(cutoff))
        .group_by(enrolment::Column::ProgrammeId)
        .into_tuple()
        .all(db)
        .await?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let kind = NotificationKind::EnrolmentsAwaitingDecision;
    let programmes: Vec<_> = waiting
        .iter()
        .map(|(id, count)| json!({ "programmeId": id, "waiting": count }))
        .collect();
    Ok(vec![Outgoing {
        kind,
        key: format!("{}:{}", kind.to_value(), now.date_naive()),
        programme_id: None,
        pairing_id: None,
        session_id: None,
        payload: json!({ "programmes": programmes, "waitDays": settings.enrolment_wait_days }),
        people: Vec::new(),
        team: true,
    }])
}
