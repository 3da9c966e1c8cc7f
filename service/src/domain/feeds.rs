//! Personal iCalendar feeds: a secret URL per employee that Outlook, Google
//! Calendar or Apple Calendar subscribe to, listing the employee's mentoring
//! sessions.
//!
//! The token in the URL is the credential (calendar clients send no bearer
//! token): 32 random bytes, base64url without padding (43 characters). Only
//! its SHA-256 is stored, so the URL cannot be rebuilt from the database; a
//! rotation replaces the hash and the previous URL stops working at once.
//! A token is checked for shape before anything else ([`FeedToken::parse`]):
//! a malformed one costs no database query.
//!
//! The feed holds what a calendar needs and nothing said in a session: time,
//! state, programme and the other participants' names. Never the agenda,
//! the private notes, a cancellation reason or feedback — those columns are
//! not even read.

use std::collections::{BTreeSet, HashMap};

use aws_lc_rs::{constant_time, digest, rand as random};
use chrono::{DateTime, Duration, Utc};
use entity::enums::{EmployeeStatus, SessionStatus};
use entity::{calendar_feed, employee, mentoring_session, pairing, pairing_mentee, programme};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::audit::{self, Actor, AuditEntry};
use super::icalendar::{Calendar, Event, EventStatus};
use crate::config::PublicBaseUrl;
use crate::error::{AppError, AppResult};

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;
/// Characters of a token: 32 bytes in unpadded base64url.
pub const TOKEN_LENGTH: usize = 43;
/// How far back the feed reaches.
pub const DAYS_BACK: i64 = 30;
/// How far ahead the feed reaches.
pub const DAYS_AHEAD: i64 = 180;
/// Most sessions one feed lists (the earliest in the window first), so that
/// a huge diary cannot make one request expensive.
pub const MAX_SESSIONS: u64 = 2_000;
/// Path of a feed under the service's base URL: `/calendar/<token>.ics`.
pub const PATH_PREFIX: &str = "/calendar/";
/// The feed's file extension in its URL.
pub const PATH_SUFFIX: &str = ".ics";

/// A feed token of the right shape (not yet known to be anyone's). Its
/// `Debug` hides it: it is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedToken(String);

impl std::fmt::Debug for FeedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedToken(<redacted>)")
    }
}

impl FeedToken {
    /// The token, if `raw` has the shape of one: 43 characters of the
    /// base64url alphabet. Anything else is no token (the HTTP layer answers
    /// 404 without asking the database).
    pub fn parse(raw: &str) -> Option<Self> {
        let shaped = raw.len() == TOKEN_LENGTH
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Self(raw.to_owned()))
    }

    /// A fresh token from the system's secure random generator.
    fn generate() -> AppResult<Self> {
        use aws_lc_rs::rand::SecureRandom as _;
        use base64::Engine as _;
        let mut bytes = [0u8; TOKEN_BYTES];
        random::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("the system random source failed")))?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// What is stored: the SHA-256 of the token, in lower-case hex.
    fn hash(&self) -> String {
        hex(digest::digest(&digest::SHA256, self.0.as_bytes()).as_ref())
    }

    /// The feed's absolute URL under `base`.
    pub fn url(&self, base: &PublicBaseUrl) -> String {
        format!("{}{PATH_PREFIX}{}{PATH_SUFFIX}", base.as_str(), self.0)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Gives the caller a new feed token, replacing any previous one (whose URL
/// stops working); audited. Only employees have a feed.
pub async fn rotate(db: &DatabaseConnection, actor: &Actor<'_>) -> AppResult<FeedToken> {
    let me = actor
        .caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only employees have a calendar feed"))?;
    let token = FeedToken::generate()?;
    let txn = super::write_txn(db).await?;
    calendar_feed::Entity::insert(calendar_feed::ActiveModel {
        employee_id: Set(me),
        token_hash: Set(token.hash()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(calendar_feed::Column::EmployeeId)
            .update_columns([
                calendar_feed::Column::TokenHash,
                calendar_feed::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec(&txn)
    .await?;
    // Neither the token nor its hash goes to the audit log.
    let entry = AuditEntry::new(
        "calendar_feed.rotate",
        "employee",
        me,
        serde_json::json!({}),
    );
    audit::record(&txn, actor, entry).await?;
    txn.commit().await?;
    Ok(token)
}

/// The session columns a feed reads: no agenda, notes or reasons.
#[derive(Debug, FromQueryResult)]
struct FeedSession {
    id: Uuid,
    pairing_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    status: SessionStatus,
    sequence: i32,
    updated_at: DateTime<Utc>,
}

/// The iCalendar text of the feed `token` opens, at `now`: None when the
/// token is nobody's (or its owner left the company).
pub async fn calendar_of(
    db: &DatabaseConnection,
    token: &FeedToken,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    let Some(me) = owner(db, token).await? else {
        return Ok(None);
    };
    let from = now
        .checked_sub_signed(Duration::days(DAYS_BACK))
        .unwrap_or(now);
    let to = now
        .checked_add_signed(Duration::days(DAYS_AHEAD))
        .unwrap_or(now);
    let events = events_of(db, me, from, to).await?;
    Ok(Some(
        Calendar {
            prodid: "-//Tandem//Mentoring sessions//EN".to_owned(),
            method: None,
            name: Some("Tandem mentoring sessions".to_owned()),
            refresh_minutes: Some(60),
            events,
        }
        .render(),
    ))
}

/// The employee whose feed `token` opens, unless they are TERMINATED: one
/// statement, then the stored hash compared in constant time.
async fn owner(db: &DatabaseConnection, token: &FeedToken) -> AppResult<Option<Uuid>> {
    let hash = token.hash();
    let still_here = Query::select()
        .column(employee::Column::Id)
        .from(employee::Entity)
        .and_where(employee::Column::Status.ne(EmployeeStatus::Terminated))
        .to_owned();
    let row = calendar_feed::Entity::find()
        .filter(calendar_feed::Column::TokenHash.eq(hash.as_str()))
        .filter(calendar_feed::Column::EmployeeId.in_subquery(still_here))
        .one(db)
        .await?;
    Ok(row
        .filter(|row| {
            constant_time::verify_slices_are_equal(row.token_hash.as_bytes(), hash.as_bytes())
                .is_ok()
        })
        .map(|row| row.employee_id))
}

/// The VEVENTs of `me`'s sessions (as mentor or mentee) starting in
/// `[from, to)`, earliest first, at most [`MAX_SESSIONS`].
async fn events_of(
    db: &DatabaseConnection,
    me: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<Event>> {
    let as_mentee = Query::select()
        .column(pairing_mentee::Column::PairingId)
        .from(pairing_mentee::Entity)
        .and_where(pairing_mentee::Column::MenteeId.eq(me))
        .to_owned();
    let pairings: Vec<(Uuid, Uuid, Uuid)> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .column(pairing::Column::ProgrammeId)
        .column(pairing::Column::MentorId)
        .filter(
            Condition::any()
                .add(pairing::Column::MentorId.eq(me))
                .add(pairing::Column::Id.in_subquery(as_mentee)),
        )
        .into_tuple()
        .all(db)
        .await?;
    if pairings.is_empty() {
        return Ok(Vec::new());
    }
    let mut sessions: Vec<FeedSession> = mentoring_session::Entity::find()
        .select_only()
        .columns([
            mentoring_session::Column::Id,
            mentoring_session::Column::PairingId,
            mentoring_session::Column::StartsAt,
            mentoring_session::Column::EndsAt,
            mentoring_session::Column::Status,
            mentoring_session::Column::Sequence,
            mentoring_session::Column::UpdatedAt,
        ])
        .filter(mentoring_session::Column::PairingId.is_in(pairings.iter().map(|p| p.0)))
        .filter(mentoring_session::Column::StartsAt.gte(from))
        .filter(mentoring_session::Column::StartsAt.lt(to))
        .order_by_asc(mentoring_session::Column::StartsAt)
        .order_by_asc(mentoring_session::Column::Id)
        .limit(MAX_SESSIONS + 1)
        .into_model()
        .all(db)
        .await?;
    if sessions.len() as u64 > MAX_SESSIONS {
        tracing::warn!(employee = %me, cap = MAX_SESSIONS, "calendar feed cut at its cap");
        sessions.truncate(MAX_SESSIONS as usize);
    }
    let used: BTreeSet<Uuid> = sessions.iter().map(|s| s.pairing_id).collect();
    let pairings: HashMap<Uuid, (Uuid, Uuid)> = pairings
        .into_iter()
        .filter(|(id, _, _)| used.contains(id))
        .map(|(id, programme, mentor)| (id, (programme, mentor)))
        .collect();
    let people = Participants::load(db, &pairings).await?;
    let programme_ids: BTreeSet<Uuid> = pairings.values().map(|(p, _)| *p).collect();
    let programmes: HashMap<Uuid, String> = programme::Entity::find()
        .select_only()
        .column(programme::Column::Id)
        .column(programme::Column::Name)
        .filter(programme::Column::Id.is_in(programme_ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(sessions
        .into_iter()
        .map(|session| {
            let (programme, others) = match pairings.get(&session.pairing_id) {
                Some((programme, _)) => (
                    programmes
                        .get(programme)
                        .map_or("Mentoring", String::as_str),
                    people.others_of(session.pairing_id, me),
                ),
                None => ("Mentoring", Vec::new()),
            };
            event_of(&session, &summary(programme, &others))
        })
        .collect())
}

/// Who takes part in each pairing, by name.
struct Participants {
    /// Pairing → mentor first, then mentees by name.
    members: HashMap<Uuid, Vec<Uuid>>,
    names: HashMap<Uuid, String>,
}

impl Participants {
    /// Two statements: the mentees of the pairings, then everyone's name.
    async fn load(
        db: &DatabaseConnection,
        pairings: &HashMap<Uuid, (Uuid, Uuid)>,
    ) -> AppResult<Self> {
        let mut members: HashMap<Uuid, Vec<Uuid>> = pairings
            .iter()
            .map(|(id, (_, mentor))| (*id, vec![*mentor]))
            .collect();
        if pairings.is_empty() {
            return Ok(Self {
                members,
                names: HashMap::new(),
            });
        }
        let mentees: Vec<(Uuid, Uuid)> = pairing_mentee::Entity::find()
            .select_only()
            .column(pairing_mentee::Column::PairingId)
            .column(pairing_mentee::Column::MenteeId)
            .filter(pairing_mentee::Column::PairingId.is_in(pairings.keys().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (pairing_id, mentee) in mentees {
            members.entry(pairing_id).or_default().push(mentee);
        }
        let everyone: BTreeSet<Uuid> = members.values().flatten().copied().collect();
        let names: HashMap<Uuid, String> = employee::Entity::find()
            .select_only()
            .column(employee::Column::Id)
            .column(employee::Column::DisplayName)
            .filter(employee::Column::Id.is_in(everyone))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for list in members.values_mut() {
            if let Some(mentees) = list.get_mut(1..) {
                mentees.sort_by(|a, b| names.get(a).cmp(&names.get(b)));
            }
        }
        Ok(Self { members, names })
    }

    /// The names of `pairing`'s participants other than `me`, mentor first.
    fn others_of(&self, pairing: Uuid, me: Uuid) -> Vec<&str> {
        self.members
            .get(&pairing)
            .into_iter()
            .flatten()
            .filter(|id| **id != me)
            .filter_map(|id| self.names.get(id).map(String::as_str))
            .collect()
    }
}

/// `Programme: mentoring session with Ada, Bo and Cy`.
fn summary(programme: &str, others: &[&str]) -> String {
    match others {
        [] => format!("{programme}: mentoring session"),
        [one] => format!("{programme}: mentoring session with {one}"),
        [init @ .., last] => format!(
            "{programme}: mentoring session with {} and {last}",
            init.join(", ")
        ),
    }
}

fn event_of(session: &FeedSession, summary: &str) -> Event {
    let status = match session.status {
        SessionStatus::Scheduled | SessionStatus::Held => EventStatus::Confirmed,
        SessionStatus::Cancelled | SessionStatus::NoShow => EventStatus::Cancelled,
    };
    Event {
        uid: format!("{}@tandem", session.id),
        // Without METHOD, DTSTAMP is when the event last changed: an
        // unchanged feed reads byte for byte the same (and keeps its ETag).
        stamp: session.updated_at,
        start: session.starts_at,
        end: session.ends_at,
        sequence: u32::try_from(session.sequence).unwrap_or(0),
        status,
        summary: summary.to_owned(),
        last_modified: session.updated_at,
        organizer: None,
        attendees: Vec::new(),
        zone: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_has_the_shape_parse_accepts() {
        let token = FeedToken::generate().unwrap();
        assert_eq!(token.0.len(), TOKEN_LENGTH);
        assert_eq!(FeedToken::parse(&token.0), Some(token.clone()));
        assert_ne!(FeedToken::generate().unwrap(), token, "fresh each time");
    }

    #[test]
    fn a_token_of_the_wrong_length_or_alphabet_is_no_token() {
        let good = "a".repeat(TOKEN_LENGTH);
        assert!(FeedToken::parse(&good).is_some());
        assert!(FeedToken::parse(&"a".repeat(TOKEN_LENGTH - 1)).is_none());
        assert!(FeedToken::parse(&"a".repeat(TOKEN_LENGTH + 1)).is_none());
        for bad in ['+', '/', '=', '.', '%', ' ', 'é'] {
            let text = format!("{bad}{}", &good[bad.len_utf8()..]);
            assert!(FeedToken::parse(&text).is_none(), "{text:?}");
        }
        assert!(FeedToken::parse("").is_none());
    }

    #[test]
    fn the_stored_hash_is_the_hex_sha256_of_the_token() {
        let token = FeedToken("abc".into());
        assert_eq!(
            token.hash(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_debug_form_hides_the_token() {
        let token = FeedToken::generate().unwrap();
        assert!(!format!("{token:?}").contains(&token.0));
    }

    #[test]
    fn the_url_is_the_base_then_calendar_token_ics() {
        let base = PublicBaseUrl::parse("https://tandem.example.com/").unwrap();
        let token = FeedToken("t".repeat(TOKEN_LENGTH));
        assert_eq!(
            token.url(&base),
            format!("https://tandem.example.com/calendar/{}.ics", token.0)
        );
    }

    #[test]
    fn the_summary_names_the_programme_and_every_other_participant() {
        assert_eq!(
            summary("Digital 2027", &["Ada"]),
            "Digital 2027: mentoring session with Ada"
        );
        assert_eq!(
            summary("Digital 2027", &["Ada", "Bo", "Cy"]),
            "Digital 2027: mentoring session with Ada, Bo and Cy"
        );
        assert_eq!(summary("D", &[]), "D: mentoring session");
    }
}
