//! Employees' weekly availability, unavailabilities, free time and the
//! common slots of a pairing, over the interval arithmetic of
//! [`availability`](super::availability).

use chrono::{DateTime, Duration, Utc, Weekday};
use chrono_tz::Tz;
use entity::enums::PairingStatus;
use entity::{employee, pairing, unavailability, weekly_slot};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::audit::{Actor, AuditEntry};
use super::availability::{self, Interval, WeeklySlot};
use super::calendar_import;
use super::sessions;
use crate::auth::Caller;
use crate::cache::FreeTimeCache;
use crate::error::{AppError, AppResult};

/// Longest window a free-time query may span.
pub const MAX_WINDOW_DAYS: i64 = 92;

/// A weekly slot as the client writes it: weekday and HH:MM times.
#[derive(Clone, Debug)]
pub struct SlotText {
    /// Day of the week.
    pub weekday: Weekday,
    /// HH:MM, local.
    pub start: String,
    /// HH:MM, local (24:00 allowed).
    pub end: String,
}

/// Minutes after midnight of an `HH:MM` time (00:00–24:00).
pub fn parse_hhmm(field: &str, text: &str) -> AppResult<u32> {
    let invalid =
        || AppError::bad_input(field, format!("{field} must be a time HH:MM, got `{text}`"));
    let (h, m) = text.trim().split_once(':').ok_or_else(invalid)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(invalid());
    }
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
    );
    let minutes = h * 60 + m;
    if m >= 60 || minutes > 24 * 60 {
        return Err(invalid());
    }
    Ok(minutes)
}

/// `HH:MM` of minutes after midnight.
pub fn format_hhmm(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// An IANA time zone name, checked.
pub fn parse_zone(field: &str, name: &str) -> AppResult<Tz> {
    name.trim().parse::<Tz>().map_err(|_| {
        AppError::bad_input(
            field,
            format!("`{name}` is not an IANA time zone (e.g. Europe/Paris)"),
        )
    })
}

fn weekday_number(day: Weekday) -> i32 {
    day.num_days_from_monday() as i32
}

fn weekday_of(number: i32) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][number.clamp(0, 6) as usize]
}

fn me(caller: &Caller) -> AppResult<Uuid> {
    caller
        .employee_id
        .ok_or_else(|| AppError::forbidden("only employees have a calendar"))
}

/// Replaces the caller's weekly pattern and time zone; bumps their availability version.
pub async fn set_weekly(
    db: &DatabaseConnection,
    caller: &Caller,
    timezone: &str,
    slots: Vec<SlotText>,
) -> AppResult<Vec<weekly_slot::Model>> {
    let me = me(caller)?;
    let zone = parse_zone("timezone", timezone)?;
    if slots.len() > 50 {
        return Err(AppError::bad_input("slots", "at most 50 weekly slots"));
    }
    let mut parsed = Vec::with_capacity(slots.len());
    for slot in &slots {
        let (start, end) = (
            parse_hhmm("start", &slot.start)?,
            parse_hhmm("end", &slot.end)?,
        );
        if end <= start {
            return Err(AppError::bad_input(
                "end",
                format!("{} must end after it starts", slot.start),
            ));
        }
        parsed.push((weekday_number(slot.weekday), start as i32, end as i32));
    }
    parsed.sort();
    if parsed
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[1].1 < w[0].2)
    {
        return Err(AppError::bad_input(
            "slots",
            "weekly slots of the same day must not overlap",
        ));
    }
    let txn = super::write_txn(db).await?;
    weekly_slot::Entity::delete_many()
        .filter(weekly_slot::Column::EmployeeId.eq(me))
        .exec(&txn)
        .await?;
    let rows: Vec<weekly_slot::ActiveModel> = parsed
        .iter()
        .map(|(weekday, start, end)| weekly_slot::ActiveModel {
            id: Set(super::new_id()),
            employee_id: Set(me),
            weekday: Set(*weekday),
            start_minute: Set(*start),
            end_minute: Set(*end),
        })
        .collect();
    if !rows.is_empty() {
        weekly_slot::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    employee::ActiveModel {
        id: Set(me),
        timezone: Set(zone.name().to_owned()),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    super::employees::bump_availability(&txn, &[me]).await?;
    txn.commit().await?;
    weekly_of(db, me).await
}

/// The caller's (or anyone's) weekly slots, by day and time.
pub async fn weekly_of<C: ConnectionTrait>(
    db: &C,
    employee_id: Uuid,
) -> AppResult<Vec<weekly_slot::Model>> {
    Ok(weekly_slot::Entity::find()
        .filter(weekly_slot::Column::EmployeeId.eq(employee_id))
        .order_by_asc(weekly_slot::Column::Weekday)
        .order_by_asc(weekly_slot::Column::StartMinute)
        .all(db)
        .await?)
}

/// The caller's own weekly slots.
pub async fn my_weekly(
    db: &DatabaseConnection,
    caller: &Caller,
) -> AppResult<Vec<weekly_slot::Model>> {
    weekly_of(db, me(caller)?).await
}

/// Whose diary a change is for: the caller's own, or — `on_behalf_of` —
/// a principal who delegated to the caller (NOT_FOUND otherwise).
async fn diary_owner<C: sea_orm::ConnectionTrait>(
    db: &C,
    caller: &Caller,
    on_behalf_of: Option<Uuid>,
) -> AppResult<Uuid> {
    match on_behalf_of {
        Some(principal) if Some(principal) != caller.employee_id => {
            super::delegations::require_principal(db, caller, principal).await
        }
        _ => me(caller),
    }
}

/// Audits a change a delegate made to a principal's diary.
async fn audit_if_delegated<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor<'_>,
    owner: Uuid,
    action: &str,
    id: Uuid,
) -> AppResult<()> {
    if actor.caller.employee_id == Some(owner) {
        return Ok(());
    }
    let entry = AuditEntry::new(action, "unavailability", id, serde_json::json!({}));
    super::delegations::record_delegated(db, actor, owner, entry).await
}

/// Adds a period the caller (or a principal who delegated to them) cannot meet.
pub async fn add_unavailability(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    on_behalf_of: Option<Uuid>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: Option<String>,
) -> AppResult<unavailability::Model> {
    let me = diary_owner(db, actor.caller, on_behalf_of).await?;
    if ends_at <= starts_at {
        return Err(AppError::bad_input(
            "endsAt",
            "endsAt must be after startsAt",
        ));
    }
    if ends_at - starts_at > Duration::days(366) {
        return Err(AppError::bad_input(
            "endsAt",
            "an unavailability lasts at most a year",
        ));
    }
    let reason = clean_reason(reason)?;
    let txn = super::write_txn(db).await?;
    let created = unavailability::ActiveModel {
        id: Set(super::new_id()),
        employee_id: Set(me),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        reason: Set(reason),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    super::employees::bump_availability(&txn, &[me]).await?;
    audit_if_delegated(&txn, actor, me, "unavailability.add", created.id).await?;
    txn.commit().await?;
    Ok(created)
}

/// A reason trimmed, None when blank, at most 500 characters.
fn clean_reason(reason: Option<String>) -> AppResult<Option<String>> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(AppError::bad_input(
            "reason",
            "the reason is limited to 500 characters",
        ));
    }
    Ok(reason)
}

/// What an iCalendar import stored.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The new unavailabilities, in time order.
    pub created: Vec<unavailability::Model>,
    /// Busy blocks already stored with the same start and end (a calendar
    /// imported twice adds nothing the second time).
    pub already_there: usize,
    /// The window read: `from` and [`MAX_WINDOW_DAYS`] after.
    pub window: Interval,
}

/// The reason imported blocks carry when none is given: an imported
/// diary's titles are other meetings' business, never stored.
const IMPORTED_REASON: &str = "Imported from a calendar";

/// Imports the busy blocks of an iCalendar (an executive's diary) as
/// unavailabilities of the caller or of a principal who delegated to them,
/// over [`MAX_WINDOW_DAYS`] from `from` (default now), in one transaction.
pub async fn import_unavailability(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    on_behalf_of: Option<Uuid>,
    calendar_text: String,
    from: Option<DateTime<Utc>>,
    reason: Option<String>,
) -> AppResult<Imported> {
    let owner = diary_owner(db, actor.caller, on_behalf_of).await?;
    let reason = clean_reason(reason)?.unwrap_or_else(|| IMPORTED_REASON.to_owned());
    let from = from.unwrap_or_else(Utc::now);
    let window = Interval::new(from, from + Duration::days(MAX_WINDOW_DAYS))
        .ok_or_else(|| AppError::bad_input("from", "`from` is out of range"))?;
    let zone = employee::Entity::find_by_id(owner)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("employee"))?
        .timezone
        .parse::<Tz>()
        .unwrap_or(Tz::UTC);
    let blocks = read_busy_blocks(calendar_text, window, zone).await?;
    let txn = super::write_txn(db).await?;
    let existing: HashSet<(DateTime<Utc>, DateTime<Utc>)> = unavailability::Entity::find()
        .filter(unavailability::Column::EmployeeId.eq(owner))
        .filter(unavailability::Column::StartsAt.lt(window.end))
        .filter(unavailability::Column::EndsAt.gt(window.start))
        .all(&txn)
        .await?
        .into_iter()
        .map(|u| (u.starts_at, u.ends_at))
        .collect();
    let (known, new): (Vec<Interval>, Vec<Interval>) = blocks
        .into_iter()
        .partition(|b| existing.contains(&(b.start, b.end)));
    let now = Utc::now();
    let created: Vec<unavailability::Model> = new
        .iter()
        .map(|block| unavailability::Model {
            id: super::new_id(),
            employee_id: owner,
            starts_at: block.start,
            ends_at: block.end,
            reason: Some(reason.clone()),
            created_at: now,
        })
        .collect();
    for chunk in created.chunks(500) {
        unavailability::Entity::insert_many(
            chunk.iter().cloned().map(unavailability::ActiveModel::from),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    if !created.is_empty() {
        super::employees::bump_availability(&txn, &[owner]).await?;
    }
    if actor.caller.employee_id != Some(owner) {
        let details = serde_json::json!({ "imported": created.len(), "from": window.start, "to": window.end });
        let entry = AuditEntry::new("unavailability.import", "employee", owner, details);
        super::delegations::record_delegated(&txn, actor, owner, entry).await?;
    }
    txn.commit().await?;
    Ok(Imported {
        created,
        already_there: known.len(),
        window,
    })
}

/// The busy blocks of an uploaded calendar, one at a time, read off the async runtime
/// (a megabyte of repeat rules is CPU work) and with the parser's panics,
/// should a third-party rule engine have one, kept from the request.
async fn read_busy_blocks(text: String, window: Interval, zone: Tz) -> AppResult<Vec<Interval>> {
    // One calendar expanded at a time per process: each may take up to
    // MAX_EXPANSION_TIME of a core, and the cores serve everyone else too.
    // The turn is held by the expansion itself, not by this request: a
    // client that hangs up does not free it before the work is done.
    static ONE_AT_A_TIME: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| std::sync::Arc::new(tokio::sync::Semaphore::new(1)));
    let turn = ONE_AT_A_TIME
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("the import gate is closed")))?;
    let read = tokio::task::spawn_blocking(move || {
        let blocks = std::panic::catch_unwind(|| calendar_import::busy_blocks(&text, window, zone));
        drop(turn);
        blocks
    })
    .await;
    match read {
        Ok(Ok(Ok(blocks))) => Ok(blocks),
        Ok(Ok(Err(refused))) => Err(AppError::bad_input("calendar", refused.0)),
        Ok(Err(_)) | Err(_) => {
            tracing::error!("the iCalendar reader failed on an uploaded calendar");
            Err(AppError::bad_input(
                "calendar",
                "the calendar could not be read",
            ))
        }
    }
}

/// Removes one of the caller's (or their principal's) unavailabilities.
pub async fn remove_unavailability(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    on_behalf_of: Option<Uuid>,
    id: Uuid,
) -> AppResult<unavailability::Model> {
    let me = diary_owner(db, actor.caller, on_behalf_of).await?;
    let txn = super::write_txn(db).await?;
    let found = unavailability::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|u| u.employee_id == me)
        .ok_or(AppError::NotFound("unavailability"))?;
    unavailability::Entity::delete_by_id(id).exec(&txn).await?;
    super::employees::bump_availability(&txn, &[me]).await?;
    audit_if_delegated(&txn, actor, me, "unavailability.remove", id).await?;
    txn.commit().await?;
    Ok(found)
}

/// A validated query window: `from < to`, at most [`MAX_WINDOW_DAYS`].
pub fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> AppResult<Interval> {
    let interval = Interval::new(from, to)
        .ok_or_else(|| AppError::bad_input("to", "`to` must be after `from`"))?;
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(AppError::bad_input(
            "to",
            format!("a window spans at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    Ok(interval)
}

/// Free time of several employees over `window`, in the order given.
///
/// Each person's free time over the cache horizon is read from `cache` under
/// their current availability version, or computed from the database and
/// stored; a window reaching past the horizon is computed directly. The
/// version is read before the rows it covers, so an entry never holds data
/// older than its version.
#[tracing::instrument(name = "availability.free_time", skip_all, fields(people = people.len() as i64))]
pub async fn free_time_of<C: ConnectionTrait>(
    db: &C,
    cache: &FreeTimeCache,
    people: &[Uuid],
    window: Interval,
) -> AppResult<Vec<Vec<Interval>>> {
    let found: HashMap<Uuid, employee::Model> = employee::Entity::find()
        .filter(employee::Column::Id.is_in(people.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let persons = people
        .iter()
        .map(|id| found.get(id).cloned().ok_or(AppError::NotFound("employee")))
        .collect::<AppResult<Vec<_>>>()?;
    free_time_for(db, cache, &persons, window).await
}

/// Free time of these (already loaded) employees over `window`, in order.
async fn free_time_for<C: ConnectionTrait>(
    db: &C,
    cache: &FreeTimeCache,
    persons: &[employee::Model],
    window: Interval,
) -> AppResult<Vec<Vec<Interval>>> {
    let horizon = FreeTimeCache::horizon(Utc::now());
    if window.start < horizon.start || window.end > horizon.end {
        let everyone: Vec<&employee::Model> = persons.iter().collect();
        return compute_free_times(db, &everyone, window).await;
    }
    let versions: Vec<(Uuid, i64)> = persons
        .iter()
        .map(|p| (p.id, p.availability_version))
        .collect();
    let cached = cache.get(&versions, horizon).await;
    let misses: Vec<&employee::Model> = persons
        .iter()
        .zip(&cached)
        .filter(|(_, hit)| hit.is_none())
        .map(|(person, _)| person)
        .collect();
    let mut computed = compute_free_times(db, &misses, horizon).await?.into_iter();
    let mut fresh = Vec::new();
    let mut all = Vec::with_capacity(persons.len());
    for (version, hit) in versions.into_iter().zip(cached) {
        let free = match hit {
            Some(free) => free,
            None => {
                let free = computed.next().unwrap_or_default();
                fresh.push((version, free.clone()));
                free
            }
        };
        all.push(availability::intersect(&free, &[window]));
    }
    cache.put(&fresh, horizon).await;
    Ok(all)
}

/// Free time of employees from the database, in order: weekly slots in each
/// one's zone, minus unavailabilities, minus SCHEDULED and HELD sessions —
/// three statements for the slots and unavailabilities plus three for the
/// sessions, however many people.
async fn compute_free_times<C: ConnectionTrait>(
    db: &C,
    persons: &[&employee::Model],
    window: Interval,
) -> AppResult<Vec<Vec<Interval>>> {
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = persons.iter().map(|p| p.id).collect();
    let mut slots: HashMap<Uuid, Vec<WeeklySlot>> = HashMap::new();
    for s in weekly_slot::Entity::find()
        .filter(weekly_slot::Column::EmployeeId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        slots.entry(s.employee_id).or_default().push(WeeklySlot {
            weekday: weekday_of(s.weekday),
            start_minute: s.start_minute.max(0) as u32,
            end_minute: s.end_minute.max(0) as u32,
        });
    }
    let mut busy: HashMap<Uuid, Vec<Interval>> = HashMap::new();
    for u in unavailability::Entity::find()
        .filter(unavailability::Column::EmployeeId.is_in(ids.iter().copied()))
        .filter(unavailability::Column::StartsAt.lt(window.end))
        .filter(unavailability::Column::EndsAt.gt(window.start))
        .all(db)
        .await?
    {
        busy.entry(u.employee_id)
            .or_default()
            .extend(Interval::new(u.starts_at, u.ends_at));
    }
    for (person, sessions) in sessions::booked_by_person(db, &ids, window.start, window.end).await?
    {
        busy.entry(person).or_default().extend(
            sessions
                .iter()
                .filter_map(|s| Interval::new(s.starts_at, s.ends_at)),
        );
    }
    Ok(persons
        .iter()
        .map(|person| {
            let zone = parse_zone("timezone", &person.timezone).unwrap_or(chrono_tz::UTC);
            let weekly = availability::expand_weekly(
                slots.get(&person.id).map_or(&[][..], Vec::as_slice),
                zone,
                window,
            );
            availability::subtract(&weekly, busy.get(&person.id).map_or(&[][..], Vec::as_slice))
        })
        .collect())
}

/// Free intervals of `employee_id` (default: the caller), visible to the
/// employee, their pairing partners and admins.
pub async fn availability_of(
    db: &DatabaseConnection,
    cache: &FreeTimeCache,
    caller: &Caller,
    employee_id: Option<Uuid>,
    window: Interval,
) -> AppResult<Vec<Interval>> {
    let target = match employee_id {
        Some(id) => id,
        None => me(caller)?,
    };
    let allowed = caller.is_admin()
        || caller.employee_id == Some(target)
        || match caller.employee_id {
            Some(me) => super::access::reads_free_time_of(db, me, target).await?,
            None => false,
        };
    if !allowed {
        return Err(AppError::NotFound("employee"));
    }
    let mut free = free_time_of(db, cache, &[target], window).await?;
    Ok(free.pop().unwrap_or_default())
}

/// The soonest slots of `duration` free for every participant of an ACTIVE
/// pairing, aligned to quarter hours, never in the past.
#[tracing::instrument(name = "availability.next_common_slots", skip_all)]
pub async fn next_common_slots(
    db: &DatabaseConnection,
    cache: &FreeTimeCache,
    caller: &Caller,
    pairing: &pairing::Model,
    duration_minutes: i32,
    window: Interval,
    limit: i32,
) -> AppResult<Vec<Interval>> {
    if !(15..=240).contains(&duration_minutes) {
        return Err(AppError::bad_input(
            "durationMinutes",
            "a session lasts 15 to 240 minutes",
        ));
    }
    if !(1..=50).contains(&limit) {
        return Err(AppError::bad_input(
            "limit",
            "limit must be between 1 and 50",
        ));
    }
    let mentees = super::pairings::members::mentees_of_one(db, pairing.id).await?;
    let participants_ids: Vec<Uuid> = std::iter::once(pairing.mentor_id)
        .chain(mentees.iter().copied())
        .collect();
    let allowed = super::access::reads_common_free_time(caller, pairing, &mentees)
        || (pairing.status == PairingStatus::Active
            && !super::delegations::principals_among(db, caller, &participants_ids)
                .await?
                .is_empty());
    if !allowed {
        return Err(AppError::forbidden(
            "only the participants of a live pairing, their delegates and the programme team see its free time",
        ));
    }
    if pairing.status != PairingStatus::Active {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let Some(window) = Interval::new(window.start.max(now), window.end) else {
        return Ok(Vec::new());
    };
    let participants = employee::Entity::find()
        .filter(
            Condition::any()
                .add(employee::Column::Id.eq(pairing.mentor_id))
                // The mentees were read for the access check already.
                .add(employee::Column::Id.is_in(mentees.iter().copied())),
        )
        .all(db)
        .await?;
    let free = free_time_for(db, cache, &participants, window).await?;
    Ok(availability::common_slots(
        &free,
        Duration::minutes(duration_minutes.into()),
        limit as usize,
    ))
}

/// How far `nextCommonSlots` looks ahead by default.
pub const DEFAULT_LOOKAHEAD_DAYS: i64 = 28;

/// The window of `nextCommonSlots`: from now (or `from`) for four weeks (or to `to`).
pub fn lookahead(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> AppResult<Interval> {
    let from = from.unwrap_or_else(Utc::now);
    let to = match to {
        Some(to) => to,
        None => from
            .checked_add_signed(Duration::days(DEFAULT_LOOKAHEAD_DAYS))
            .ok_or_else(|| AppError::bad_input("from", "`from` is too far in the future"))?,
    };
    window(from, to)
}
