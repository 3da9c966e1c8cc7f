//! Delivery, as far as the database is concerned: which rows are due, who
//! takes them (a lease, claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL
//! so replicas never take the same row), whether each is still worth
//! sending, what it says, and what it became. The transports themselves
//! are in `crate::notify`.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::enums::{
    DeliveryState, EmployeeStatus, NotificationChannel, NotificationKind, PairingStatus,
    SessionMode, SessionStatus,
};
use entity::{employee, mentoring_session, notification, pairing, programme};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ActiveEnum as _, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::outbox;
use super::preferences::{self, Preferences};
use super::render::{self, Facts, Message, SessionFacts};
use super::{NotifySettings, due};
use crate::auth::Caller;
use crate::domain::access::{self, Area};
use crate::domain::icalendar::Party;
use crate::error::AppResult;

/// How long a claimed row stays with the pass that claimed it: longer than
/// a batch of attempts may take (each is cut off at twice
/// `NOTIFY_SEND_TIMEOUT_SECS`, at most 2 minutes, four waves a batch), so a
/// row is delivered by one pass at a time; a pass that dies leaves its rows
/// to be taken again once the lease ends (at least once).
pub const LEASE: Duration = Duration::minutes(15);

/// How many notifications wait for delivery (PENDING, due or not): the
/// queue depth the platform's dashboards show.
pub async fn waiting(db: &DatabaseConnection) -> AppResult<u64> {
    use sea_orm::PaginatorTrait as _;
    Ok(notification::Entity::find()
        .filter(notification::Column::State.eq(DeliveryState::Pending))
        .count(db)
        .await?)
}

/// Claims up to `limit` due rows at `now`: their attempt count grows and
/// their next attempt moves to the end of the lease, in one transaction.
pub async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<notification::Model>> {
    let txn = crate::domain::write_txn(db).await?;
    let mut due = notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .filter(notification::Column::State.eq(DeliveryState::Pending))
        .filter(notification::Column::NextAttemptAt.lte(now))
        .order_by_asc(notification::Column::NextAttemptAt)
        .order_by_asc(notification::Column::Id)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let ids: Vec<Uuid> = due.into_tuple().all(&txn).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // From the later of the pass's clock and the wall clock: a pass driven
    // at an instant in the past still holds its rows against live replicas.
    let lease_end = Ord::max(now, Utc::now())
        .checked_add_signed(LEASE)
        .unwrap_or(now);
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .col_expr(notification::Column::NextAttemptAt, Expr::value(lease_end))
        .filter(notification::Column::Id.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let claimed = notification::Entity::find()
        .filter(notification::Column::Id.is_in(ids))
        .order_by_asc(notification::Column::Id)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the relay or the endpoint.
    Sent,
    /// Nothing to send (why, in a few words: no address, no detail).
    Suppressed(&'static str),
    /// The attempt failed (why, without address or body).
    Failed(String),
}

/// Records `outcome` for a row this pass claimed (`claimed`, as claimed):
/// SENT, SUPPRESSED, or PENDING again after a backoff, FAILED after the
/// last attempt. Guarded by the attempt count, so a pass whose lease ran
/// out changes nothing. Answers the state reached.
pub async fn settle(
    db: &DatabaseConnection,
    claimed: &notification::Model,
    subject: Option<&str>,
    outcome: &Outcome,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<DeliveryState> {
    let (state, error) = match outcome {
        Outcome::Sent => (DeliveryState::Sent, None),
        Outcome::Suppressed(why) => (DeliveryState::Suppressed, Some((*why).to_owned())),
        Outcome::Failed(why) if claimed.attempts >= settings.max_attempts => {
            (DeliveryState::Failed, Some(why.clone()))
        }
        Outcome::Failed(why) => (DeliveryState::Pending, Some(why.clone())),
    };
    let next = match state {
        DeliveryState::Pending => due::retry_at(claimed.attempts, now, rand::random::<f64>()),
        _ => now,
    };
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::State, Expr::value(state.to_value()))
        .col_expr(notification::Column::NextAttemptAt, Expr::value(next))
        .col_expr(notification::Column::LastError, Expr::value(error));
    if let Some(subject) = subject {
        update = update.col_expr(notification::Column::Subject, Expr::value(subject));
    }
    if state == DeliveryState::Sent {
        update = update.col_expr(notification::Column::SentAt, Expr::value(now));
    }
    update
        .filter(notification::Column::Id.eq(claimed.id))
        .filter(notification::Column::Attempts.eq(claimed.attempts))
        .filter(notification::Column::State.eq(DeliveryState::Pending))
        .exec(db)
        .await?;
    Ok(state)
}

/// Where a message goes and what it says.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Nothing to send.
    Suppress(&'static str),
    /// An email to these (address, name) pairs.
    Email {
        /// Recipients.
        to: Vec<Party>,
        /// The message.
        message: Message,
    },
    /// A webhook POST with this JSON body.
    Webhook {
        /// The Standard Webhooks payload (`type`, `timestamp`, `data`).
        body: Value,
        /// A subject line for the history.
        subject: String,
    },
}

/// What the channels can reach, as far as planning needs to know.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// The sender, organiser of invitations; None when no SMTP relay is set.
    pub sender: Option<Party>,
    /// The programme team's addresses (`NOTIFY_ADMIN_EMAILS`).
    pub team: Vec<String>,
    /// Whether a webhook endpoint is set.
    pub webhook: bool,
    /// The service's public URL, for links.
    pub link: String,
}

/// The session facts a row keeps in its payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionSnapshot {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    sequence: i32,
    /// The database value (`VIDEO`, `IN_PERSON`).
    mode: String,
}

/// Everything a batch of claimed rows needs to be planned, read in a few
/// statements.
pub struct Batch {
    employees: HashMap<Uuid, employee::Model>,
    preferences: HashMap<Uuid, Preferences>,
    programmes: HashMap<Uuid, String>,
    pairings: HashMap<Uuid, pairing::Model>,
    participants: HashMap<Uuid, Vec<Uuid>>,
    sessions: HashMap<Uuid, mentoring_session::Model>,
}

impl Batch {
    /// Reads what `rows` refer to.
    pub async fn load(
        db: &DatabaseConnection,
        rows: &[notification::Model],
        settings: &NotifySettings,
    ) -> AppResult<Self> {
        let pairing_ids: BTreeSet<Uuid> = rows.iter().filter_map(|r| r.pairing_id).collect();
        let pairings: Vec<pairing::Model> = pairing::Entity::find()
            .filter(pairing::Column::Id.is_in(pairing_ids))
            .all(db)
            .await?;
        let participants = outbox::participants_of(db, &pairings).await?;
        let session_ids: BTreeSet<Uuid> = rows.iter().filter_map(|r| r.session_id).collect();
        let sessions = mentoring_session::Entity::find()
            .filter(mentoring_session::Column::Id.is_in(session_ids))
            .all(db)
            .await?;
        let mut people: BTreeSet<Uuid> = rows.iter().filter_map(|r| r.recipient_id).collect();
        people.extend(participants.values().flatten());
        for row in rows {
            people.extend(recipients_of(row));
        }
        let people: Vec<Uuid> = people.into_iter().collect();
        let employees = employee::Entity::find()
            .filter(employee::Column::Id.is_in(people.iter().copied()))
            .all(db)
            .await?;
        let mut programme_ids: BTreeSet<Uuid> =
            rows.iter().filter_map(|r| r.programme_id).collect();
        for row in rows {
            programme_ids.extend(waiting_of(row).into_iter().map(|(id, _)| id));
        }
        let programmes = programme::Entity::find()
            .select_only()
            .column(programme::Column::Id)
            .column(programme::Column::Name)
            .filter(programme::Column::Id.is_in(programme_ids))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?;
        Ok(Self {
            preferences: preferences::of_people(db, &people, settings.default_language).await?,
            employees: employees.into_iter().map(|e| (e.id, e)).collect(),
            programmes: programmes.into_iter().collect(),
            pairings: pairings.into_iter().map(|p| (p.id, p)).collect(),
            participants,
            sessions: sessions.into_iter().map(|s| (s.id, s)).collect(),
        })
    }

    /// What to do with `row` at `now`.
    pub fn plan(
        &self,
        row: &notification::Model,
        reach: &Reach,
        settings: &NotifySettings,
        now: DateTime<Utc>,
    ) -> Plan {
        if let Some(why) = self.no_longer_holds(row, now) {
            return Plan::Suppress(why);
        }
        match (row.channel, row.recipient_id) {
            (NotificationChannel::Webhook, _) if !reach.webhook => {
                Plan::Suppress("no webhook endpoint is configured")
            }
            (NotificationChannel::Webhook, _)
                if self.reachable(row).is_empty()
                    && !row
                        .payload
                        .get("team")
                        .and_then(Value::as_bool)
                        .unwrap_or(false) =>
            {
                Plan::Suppress("nobody the event tells can still be reached")
            }
            (NotificationChannel::Webhook, _) => Plan::Webhook {
                body: self.webhook_body(row),
                subject: self.message(row, None, settings, reach, now).subject,
            },
            (NotificationChannel::Email, _) if reach.sender.is_none() => {
                Plan::Suppress("no SMTP relay is configured")
            }
            (NotificationChannel::Email, None) if reach.team.is_empty() => {
                Plan::Suppress("no programme team address is configured")
            }
            (NotificationChannel::Email, None) => Plan::Email {
                to: reach
                    .team
                    .iter()
                    .map(|email| Party {
                        email: email.clone(),
                        name: None,
                    })
                    .collect(),
                message: self.message(row, None, settings, reach, now),
            },
            (NotificationChannel::Email, Some(person)) => match self.employees.get(&person) {
                Some(recipient) => Plan::Email {
                    to: vec![party(recipient)],
                    message: self.message(row, Some(recipient), settings, reach, now),
                },
                None => Plan::Suppress("the recipient is gone"),
            },
        }
    }

    /// Why `row` is no longer worth sending, if so: its recipient left, its
    /// pairing stopped, its session changed, or the person opted out.
    fn no_longer_holds(
        &self,
        row: &notification::Model,
        now: DateTime<Utc>,
    ) -> Option<&'static str> {
        use NotificationKind as K;
        let recipient = row.recipient_id.and_then(|id| self.employees.get(&id));
        if recipient.is_some_and(|e| e.status == EmployeeStatus::Terminated) {
            return Some("the recipient left the company");
        }
        let prefs = row.recipient_id.and_then(|id| self.preferences.get(&id));
        let pairing = row.pairing_id.and_then(|id| self.pairings.get(&id));
        let session = row.session_id.and_then(|id| self.sessions.get(&id));
        let nudge = matches!(
            row.kind,
            K::SessionReminder | K::FeedbackRequested | K::CadenceOverdue | K::PairingAtRisk
        );
        if nudge && !pairing.is_some_and(|p| p.status == PairingStatus::Active) {
            return Some("the pairing is no longer active");
        }
        match row.kind {
            K::SessionScheduled | K::SessionRescheduled => {
                // An invitation overtaken by a move or a cancellation: the
                // later message carries the entry, this one would undo it.
                let snapshot = snapshot_of(row);
                let current = session.is_some_and(|s| {
                    s.status == SessionStatus::Scheduled
                        && snapshot
                            .as_ref()
                            .is_some_and(|snap| snap.sequence == s.sequence)
                });
                if !current {
                    return Some("the session changed since");
                }
            }
            K::SessionReminder => {
                let snapshot = snapshot_of(row);
                let current = session.is_some_and(|s| {
                    s.status == SessionStatus::Scheduled
                        && s.starts_at > now
                        && snapshot
                            .as_ref()
                            .is_some_and(|snap| snap.sequence == s.sequence)
                });
                if !current {
                    return Some("the session was moved or called off");
                }
            }
            _ => {}
        }
        if prefs.is_some_and(|p| !p.wants(row.kind)) {
            return Some("the recipient turned these messages off");
        }
        None
    }

    /// The message of `row` for `recipient` (None: the programme team).
    fn message(
        &self,
        row: &notification::Model,
        recipient: Option<&employee::Model>,
        settings: &NotifySettings,
        reach: &Reach,
        now: DateTime<Utc>,
    ) -> Message {
        let language = recipient
            .and_then(|r| self.preferences.get(&r.id))
            .map_or(settings.default_language, |p| p.language);
        let zone: Tz = recipient
            .and_then(|r| r.timezone.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        let participants: &[Uuid] = row
            .pairing_id
            .and_then(|id| self.participants.get(&id))
            .map_or(&[], Vec::as_slice);
        let others = participants
            .iter()
            .filter(|id| Some(**id) != recipient.map(|r| r.id))
            .filter_map(|id| self.employees.get(id))
            .map(|e| e.display_name.clone())
            .collect();
        let session = snapshot_of(row).and_then(|snap| {
            Some(SessionFacts {
                id: row.session_id?,
                starts_at: snap.starts_at,
                ends_at: snap.ends_at,
                sequence: u32::try_from(snap.sequence).unwrap_or(0),
                video: snap.mode == SessionMode::Video.to_value(),
            })
        });
        let approved = row
            .payload
            .get("decision")
            .and_then(Value::as_str)
            .map(|d| d == "APPROVED");
        let waiting = waiting_of(row)
            .into_iter()
            .map(|(id, n)| {
                let name = self.programmes.get(&id).cloned().unwrap_or_default();
                (name, n)
            })
            .collect();
        render::render(&Facts {
            kind: row.kind,
            language,
            recipient_name: recipient.map(|r| r.display_name.clone()),
            participant: recipient.is_some_and(|r| participants.contains(&r.id)),
            zone,
            programme: row
                .programme_id
                .and_then(|id| self.programmes.get(&id).cloned()),
            others,
            session,
            organizer: reach.sender.clone(),
            attendees: participants
                .iter()
                .filter_map(|id| self.employees.get(id))
                .map(party)
                .collect(),
            organizer_zone: self.organizer_zone(row, participants),
            approved,
            proposals: row.payload.get("proposals").and_then(Value::as_i64),
            waiting,
            link: reach.link.clone(),
            now,
        })
    }

    /// The zone of the session's organiser: the participant who booked it,
    /// or, when an assistant or an admin did, the first mentee (the senior
    /// participant whose diary it is), else the mentor.
    fn organizer_zone(&self, row: &notification::Model, participants: &[Uuid]) -> Option<Tz> {
        let booker = row
            .session_id
            .and_then(|id| self.sessions.get(&id))
            .and_then(|s| s.created_by)
            .filter(|id| participants.contains(id));
        let organizer = booker.or_else(|| participants.get(1).or(participants.first()).copied())?;
        self.employees.get(&organizer)?.timezone.parse().ok()
    }

    /// The Standard Webhooks payload of `row`: ids and facts, never an
    /// address, a note or a feedback text.
    fn webhook_body(&self, row: &notification::Model) -> Value {
        let recipients: Vec<Value> = self
            .reachable(row)
            .into_iter()
            .map(|e| json!({ "employeeId": e.id, "externalId": e.external_id }))
            .collect();
        let mut data = row.payload.clone();
        if let Value::Object(map) = &mut data {
            map.insert("notificationId".into(), json!(row.id));
            map.insert("kind".into(), json!(row.kind.to_value()));
            map.insert("programmeId".into(), json!(row.programme_id));
            map.insert("pairingId".into(), json!(row.pairing_id));
            map.insert("sessionId".into(), json!(row.session_id));
            map.insert("recipients".into(), json!(recipients));
        }
        json!({
            "type": row.kind.to_value(),
            "timestamp": row.created_at,
            "data": data,
        })
    }
}

fn party(e: &employee::Model) -> Party {
    Party {
        email: e.email.clone(),
        name: Some(e.display_name.clone()),
    }
}

fn snapshot_of(row: &notification::Model) -> Option<SessionSnapshot> {
    serde_json::from_value(row.payload.clone()).ok()
}

impl Batch {
    /// The people an event still tells, as its webhook names them: not
    /// those who left, nor those who since turned this kind of message off.
    fn reachable(&self, row: &notification::Model) -> Vec<&employee::Model> {
        recipients_of(row)
            .into_iter()
            .filter_map(|id| self.employees.get(&id))
            .filter(|e| e.status != EmployeeStatus::Terminated)
            .filter(|e| {
                self.preferences
                    .get(&e.id)
                    .is_none_or(|p| p.wants(row.kind))
            })
            .collect()
    }
}

/// The people an event told (kept in its payload for the webhook row).
fn recipients_of(row: &notification::Model) -> Vec<Uuid> {
    row.payload
        .get("recipients")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default()
}

/// The digest's (programme, waiting) pairs.
fn waiting_of(row: &notification::Model) -> Vec<(Uuid, i64)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Waiting {
        programme_id: Uuid,
        waiting: i64,
    }
    row.payload
        .get("programmes")
        .and_then(|p| serde_json::from_value::<Vec<Waiting>>(p.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|w| (w.programme_id, w.waiting))
        .collect()
}

/// Counts of rows per delivery state, for the admins' view of a programme.
pub async fn counts_of_programme<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    programme_id: Uuid,
) -> AppResult<HashMap<DeliveryState, i64>> {
    access::require(caller, Area::Administration)?;
    let rows: Vec<(DeliveryState, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::State)
        .column_as(notification::Column::Id.count(), "n")
        .filter(notification::Column::ProgrammeId.eq(programme_id))
        .group_by(notification::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
