//! Busy blocks read from an uploaded iCalendar (RFC 5545): an executive's
//! diary exported from Outlook, Google Calendar or Apple Calendar, turned
//! into the intervals they cannot meet over an import window. Pure: no
//! database, no GraphQL; [`super::calendar::import_unavailability`] stores
//! the result.
//!
//! What counts as busy: every VEVENT that is neither `TRANSP:TRANSPARENT`
//! nor `STATUS:CANCELLED`, recurring ones (RRULE, RDATE, EXDATE, and
//! instances moved or cancelled by a `RECURRENCE-ID` override) expanded
//! over the window; and every VFREEBUSY period but `FBTYPE=FREE`. Times in
//! UTC, with a `TZID` (IANA names, names with a vendor prefix such as
//! `/mozilla.org/…/Europe/Paris`, and the Windows names Outlook writes), or
//! floating (read in the diary owner's zone, as are all-day dates). Nothing
//! of an event but its time is kept: titles, places and attendees of other
//! meetings are none of Tandem's business.
//!
//! Bounded work: at most [`MAX_CALENDAR_BYTES`], [`MAX_RECURRING_EVENTS`]
//! rules, [`MAX_OCCURRENCES`] occurrences looked at in all (before the
//! window too), [`MAX_BLOCKS`] blocks kept, and [`MAX_EXPANSION_TIME`] of
//! expansion: a rule no date can satisfy (`BYMONTH=2;BYMONTHDAY=30`) makes
//! the rule engine search up to its own loop limit, some 10 ms a rule, so
//! the clock is the one bound on a file full of them. Past any of these the
//! file is refused with a message saying which, never cut silently.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};

use super::availability::Interval;

/// Largest calendar accepted, in bytes.
pub const MAX_CALENDAR_BYTES: usize = 1024 * 1024;
/// Most events with a repeat rule in one calendar.
pub const MAX_RECURRING_EVENTS: usize = 500;
/// Most occurrences of repeat rules looked at in one calendar (a daily
/// meeting since 2008 is some 7,000 of them).
pub const MAX_OCCURRENCES: usize = 2_000_000;
/// Longest UID.
const MAX_UID_BYTES: usize = 1024;
/// Longest TZID.
const MAX_TZID_BYTES: usize = 128;
/// Longest busy block: anything longer is not a meeting.
const MAX_BLOCK_DAYS: i64 = 366;
/// Most times of day a repeat rule may name (BYHOUR × BYMINUTE): each is
/// a candidate on every day of a period, built at once by the rule engine.
const MAX_TIMES_OF_DAY: usize = 48;
/// Most busy blocks (after merging) one import stores.
pub const MAX_BLOCKS: usize = 2_000;
/// Longest time the repeat rules of one calendar may take to expand.
pub const MAX_EXPANSION_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// Deepest nesting of components (VCALENDAR > VEVENT > VALARM is 3).
const MAX_DEPTH: usize = 8;

/// Why a calendar was refused: a message for the `calendar` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError(pub String);

impl ImportError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

type Result<T> = std::result::Result<T, ImportError>;

/// The busy blocks of `text` that overlap `window`, in time order, each as
/// the diary has it (an exact duplicate once); floating times and all-day
/// dates are read in `zone`.
pub fn busy_blocks(text: &str, window: Interval, zone: Tz) -> Result<Vec<Interval>> {
    busy_blocks_within(text, window, zone, MAX_EXPANSION_TIME)
}

/// [`busy_blocks`] with the expansion time bound given.
fn busy_blocks_within(
    text: &str,
    window: Interval,
    zone: Tz,
    time_limit: std::time::Duration,
) -> Result<Vec<Interval>> {
    if text.len() > MAX_CALENDAR_BYTES {
        return Err(ImportError::new(format!(
            "the calendar is larger than {} MiB",
            MAX_CALENDAR_BYTES / (1024 * 1024)
        )));
    }
    let parsed = parse(text)?;
    if parsed.events.iter().any(|e| e.uid().len() > MAX_UID_BYTES) {
        return Err(ImportError::new(format!(
            "an event's UID is longer than {MAX_UID_BYTES} bytes"
        )));
    }
    let mut overridden: HashMap<&str, HashSet<DateTime<Utc>>> = HashMap::new();
    for event in &parsed.events {
        if let Some(id) = event.get("RECURRENCE-ID") {
            let at = instant(id, zone)?;
            overridden.entry(event.uid()).or_default().insert(at);
        }
    }
    let recurring = parsed
        .events
        .iter()
        .filter(|e| e.get("RRULE").is_some())
        .count();
    if recurring > MAX_RECURRING_EVENTS {
        return Err(ImportError::new(format!(
            "the calendar has more than {MAX_RECURRING_EVENTS} repeating events"
        )));
    }
    let mut expansion = Expansion {
        window,
        zone,
        budget: MAX_OCCURRENCES,
        clock: Clock::start(time_limit),
        blocks: Vec::new(),
    };
    for (done, event) in parsed.events.iter().enumerate() {
        if done > 0 {
            expansion.clock.check()?;
        }
        expansion.event(event, overridden.get(event.uid()))?;
    }
    for period in &parsed.free_busy {
        expansion.free_busy(period)?;
    }
    let mut blocks = expansion.blocks;
    blocks.sort();
    blocks.dedup();
    if blocks.len() > MAX_BLOCKS {
        return Err(ImportError::new(format!(
            "the calendar holds more than {MAX_BLOCKS} busy blocks in the window"
        )));
    }
    Ok(blocks)
}

/// The expansion's time bound, checked between events and every so many
/// occurrences.
struct Clock {
    started: std::time::Instant,
    limit: std::time::Duration,
}

impl Clock {
    fn start(limit: std::time::Duration) -> Self {
        Self {
            started: std::time::Instant::now(),
            limit,
        }
    }

    fn check(&self) -> Result<()> {
        if self.started.elapsed() > self.limit {
            return Err(ImportError::new(
                "the calendar's repeating events take too long to expand (rules no date can meet?)",
            ));
        }
        Ok(())
    }
}

/// One content line: `NAME;PARAM=value…:value`, the name and parameter
/// names upper-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Property {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Property {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The properties of one VEVENT (not of its VALARMs).
#[derive(Debug, Default)]
struct RawEvent {
    properties: Vec<Property>,
}

impl RawEvent {
    fn get(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }

    fn uid(&self) -> &str {
        self.get("UID").map_or("", |p| p.value.as_str())
    }

    fn is_free(&self) -> bool {
        let said = |name: &str, value: &str| {
            self.get(name)
                .is_some_and(|p| p.value.trim().eq_ignore_ascii_case(value))
        };
        said("TRANSP", "TRANSPARENT") || said("STATUS", "CANCELLED")
    }
}

/// What a calendar holds that matters here.
#[derive(Debug, Default)]
struct Parsed {
    events: Vec<RawEvent>,
    free_busy: Vec<Property>,
}

/// Unfolds the lines and walks the components.
fn parse(text: &str) -> Result<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed::default();
    let mut stack: Vec<String> = Vec::new();
    let mut event: Option<RawEvent> = None;
    let mut seen_calendar = false;
    for (number, line) in unfold(text) {
        let property = content_line(&line)
            .ok_or_else(|| ImportError::new(format!("line {number} is not an iCalendar line")))?;
        match property.name.as_str() {
            "BEGIN" => {
                let component = property.value.trim().to_ascii_uppercase();
                if stack.is_empty() && component != "VCALENDAR" {
                    return Err(ImportError::new(
                        "the file does not begin with BEGIN:VCALENDAR",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ImportError::new(format!(
                        "components are nested deeper than {MAX_DEPTH} (line {number})"
                    )));
                }
                seen_calendar = true;
                if component == "VEVENT" {
                    event = Some(RawEvent::default());
                }
                stack.push(component);
            }
            "END" => {
                let component = property.value.trim().to_ascii_uppercase();
                if stack.pop().as_deref() != Some(component.as_str()) {
                    return Err(ImportError::new(format!(
                        "END:{component} on line {number} closes nothing open"
                    )));
                }
                if component == "VEVENT" {
                    parsed.events.extend(event.take());
                }
            }
            _ => match (stack.last().map(String::as_str), event.as_mut()) {
                (None, _) => {
                    return Err(ImportError::new(
                        "the file does not begin with BEGIN:VCALENDAR",
                    ));
                }
                (Some("VEVENT"), Some(open)) => open.properties.push(property),
                (Some("VFREEBUSY"), _) if property.name == "FREEBUSY" => {
                    parsed.free_busy.push(property);
                }
                _ => {}
            },
        }
    }
    if !seen_calendar {
        return Err(ImportError::new("the file holds no VCALENDAR"));
    }
    if let Some(open) = stack.last() {
        return Err(ImportError::new(format!("BEGIN:{open} is never closed")));
    }
    Ok(parsed)
}

/// The logical lines of `text` with the number of the physical line each
/// begins on: CRLF or LF ends, a line starting with a space or a tab
/// continues the one before (RFC 5545 §3.1), blank lines skipped.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some((_, previous))) => previous.push_str(rest),
            _ if raw.trim().is_empty() => {}
            _ => lines.push((index + 1, raw.to_owned())),
        }
    }
    lines
}

/// `NAME;P=v;Q="a:b":value`; None when there is no name or no colon.
fn content_line(line: &str) -> Option<Property> {
    let name_end = line.find([';', ':'])?;
    let name = line[..name_end].trim().to_ascii_uppercase();
    if name.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after.find('=')?;
        let param = after[..eq].trim().to_ascii_uppercase();
        let mut value = String::new();
        let mut quoted = false;
        let mut end = after.len() - eq - 1;
        for (i, c) in after[eq + 1..].char_indices() {
            match c {
                '"' => quoted = !quoted,
                ';' | ':' if !quoted => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        params.push((param, value));
        rest = &after[eq + 1 + end..];
    }
    let value = rest.strip_prefix(':')?;
    Some(Property {
        name,
        params,
        value: value.to_owned(),
    })
}

/// A DATE or DATE-TIME value, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// An all-day date.
    Date(NaiveDate),
    /// A wall-clock time in a zone (a TZID, or the owner's when floating).
    Local(NaiveDateTime, Tz),
    /// A UTC time (`…Z`).
    Utc(DateTime<Utc>),
}

impl When {
    /// The instant it begins, dates at midnight in `zone`.
    fn start(self, zone: Tz) -> DateTime<Utc> {
        match self {
            Self::Date(date) => to_utc(zone, date.and_time(NaiveTime::MIN)),
            Self::Local(local, tz) => to_utc(tz, local),
            Self::Utc(at) => at,
        }
    }

    /// The zone its repetitions keep their wall-clock time in.
    fn zone(self, owner: Tz) -> Tz {
        match self {
            Self::Local(_, tz) => tz,
            Self::Date(_) => owner,
            Self::Utc(_) => Tz::UTC,
        }
    }
}

/// The instant of a local time: the earlier of an ambiguous one (the
/// autumn hour), the hour after for one that does not exist (spring).
fn to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => match zone.from_local_datetime(&(local + Duration::hours(1))) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
            LocalResult::None => local.and_utc(),
        },
    }
}

/// The DATE or DATE-TIME of `property` (its first value).
fn when(property: &Property, owner: Tz) -> Result<When> {
    let value = property.value.split(',').next().unwrap_or_default().trim();
    when_of(value, property, owner)
}

fn when_of(value: &str, property: &Property, owner: Tz) -> Result<When> {
    let unreadable = || {
        ImportError::new(format!(
            "{} has a date or time that cannot be read: {}",
            property.name,
            shorten(value)
        ))
    };
    let is_date = property
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || value.len() == 8;
    if is_date {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(When::Date)
            .map_err(|_| unreadable());
    }
    if let Some(utc) = value.strip_suffix(['Z', 'z']) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map(|at| When::Utc(at.and_utc()))
            .map_err(|_| unreadable());
    }
    let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| unreadable())?;
    let zone = match property.param("TZID") {
        Some(tzid) => zone_named(tzid)?,
        None => owner,
    };
    Ok(When::Local(local, zone))
}

/// The instant of a RECURRENCE-ID or EXDATE-like property.
fn instant(property: &Property, owner: Tz) -> Result<DateTime<Utc>> {
    Ok(when(property, owner)?.start(owner))
}

/// The tz database zone a TZID names.
fn zone_named(tzid: &str) -> Result<Tz> {
    let tzid = tzid.trim().trim_matches('"');
    let unknown = || {
        ImportError::new(format!(
            "the time zone \"{}\" is not known (use a name such as Europe/Paris)",
            shorten(tzid)
        ))
    };
    if tzid.len() > MAX_TZID_BYTES {
        return Err(unknown());
    }
    if let Ok(zone) = tzid.parse::<Tz>() {
        return Ok(zone);
    }
    // A vendor prefix (`/mozilla.org/20050126_1/Europe/Paris`): the last
    // three or two parts (`America/Argentina/Cordoba`, `Europe/Paris`).
    let parts: Vec<&str> = tzid.split('/').collect();
    let suffix = [3, 2]
        .iter()
        .filter_map(|n| parts.len().checked_sub(*n))
        .find_map(|from| parts[from..].join("/").parse::<Tz>().ok());
    suffix.or_else(|| windows_zone(tzid)).ok_or_else(unknown)
}

/// The zone of the Windows names Outlook writes as TZID.
fn windows_zone(name: &str) -> Option<Tz> {
    use chrono_tz::{Africa, America, Asia, Australia, Europe};
    let zone = match name {
        "UTC" | "Coordinated Universal Time" => Tz::UTC,
        "GMT Standard Time" => Europe::London,
        "Greenwich Standard Time" => Africa::Abidjan,
        "W. Europe Standard Time" => Europe::Berlin,
        "Romance Standard Time" => Europe::Paris,
        "Central Europe Standard Time" => Europe::Budapest,
        "Central European Standard Time" => Europe::Warsaw,
        "E. Europe Standard Time" => Europe::Chisinau,
        "FLE Standard Time" => Europe::Helsinki,
        "GTB Standard Time" => Europe::Bucharest,
        "Russian Standard Time" => Europe::Moscow,
        "Turkey Standard Time" => Europe::Istanbul,
        "Morocco Standard Time" => Africa::Casablanca,
        "South Africa Standard Time" => Africa::Johannesburg,
        "Arabian Standard Time" => Asia::Dubai,
        "India Standard Time" => Asia::Kolkata,
        "China Standard Time" => Asia::Shanghai,
        "Singapore Standard Time" => Asia::Singapore,
        "Tokyo Standard Time" => Asia::Tokyo,
        "AUS Eastern Standard Time" => Australia::Sydney,
        "Eastern Standard Time" => America::New_York,
        "Central Standard Time" => America::Chicago,
        "Mountain Standard Time" => America::Denver,
        "Pacific Standard Time" => America::Los_Angeles,
        "Atlantic Standard Time" => America::Halifax,
        "E. South America Standard Time" => America::Sao_Paulo,
        "Canada Central Standard Time" => America::Regina,
        _ => return None,
    };
    Some(zone)
}

/// A DURATION value (RFC 5545 §3.3.6): `P1W`, `PT1H30M`, `P1DT12H`; each
/// unit once and in order, at most [`MAX_BLOCK_DAYS`] in all.
fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let mut rest = text.strip_prefix('P')?;
    let units = ['W', 'D', 'T', 'H', 'M', 'S'];
    let mut next_unit = 0;
    let mut total = Duration::zero();
    let mut any = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('T') {
            let at = units.iter().position(|u| *u == 'T')?;
            if next_unit > at {
                return None;
            }
            next_unit = at + 1;
            rest = after;
            continue;
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: i64 = rest[..digits].parse().ok().filter(|n| *n <= 1_000_000)?;
        let unit = rest[digits..].chars().next()?;
        let at = units.iter().position(|u| *u == unit)?;
        let in_time = next_unit > 2;
        if at < next_unit || (at >= 3) != in_time {
            return None;
        }
        next_unit = at + 1;
        let part = match unit {
            'W' => Duration::try_weeks(number)?,
            'D' => Duration::try_days(number)?,
            'H' => Duration::try_hours(number)?,
            'M' => Duration::try_minutes(number)?,
            _ => Duration::try_seconds(number)?,
        };
        total = total.checked_add(&part)?;
        any = true;
        rest = &rest[digits + unit.len_utf8()..];
    }
    (any && total <= Duration::days(MAX_BLOCK_DAYS)).then_some(total)
}

/// Refuses a repeat rule the rule engine would spend unbounded work on:
/// more often than hourly, by the second, or with more than
/// [`MAX_TIMES_OF_DAY`] times of day.
fn check_rule_bounds(rule: &str) -> std::result::Result<(), String> {
    let mut times = 1usize;
    for part in rule.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim().to_ascii_uppercase();
        match key.as_str() {
            "FREQ" if value == "SECONDLY" || value == "MINUTELY" => {
                return Err(format!("FREQ={value}: at most hourly"));
            }
            "BYSECOND" => return Err("BYSECOND is not supported".to_owned()),
            "BYHOUR" | "BYMINUTE" => {
                times = times.saturating_mul(value.split(',').count());
            }
            _ => {}
        }
    }
    if times > MAX_TIMES_OF_DAY {
        return Err(format!("more than {MAX_TIMES_OF_DAY} times of day"));
    }
    Ok(())
}

/// `rule` with its UNTIL in UTC, as RFC 5545 asks when DTSTART has a
/// zone and as diaries do not always write it: a date ends at the last
/// second of that day, a local time is read in `zone`.
fn until_in_utc(rule: &str, zone: Tz) -> String {
    rule.split(';')
        .map(|part| {
            let Some((key, value)) = part.split_once('=') else {
                return part.to_owned();
            };
            if !key.trim().eq_ignore_ascii_case("UNTIL") {
                return part.to_owned();
            }
            let value = value.trim();
            let local = if value.len() == 8 {
                NaiveDate::parse_from_str(value, "%Y%m%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
            } else if value.ends_with(['Z', 'z']) {
                None
            } else {
                NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()
            };
            match local {
                Some(local) => format!("UNTIL={}", to_utc(zone, local).format("%Y%m%dT%H%M%SZ")),
                None => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// At most 40 characters of an echoed value.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    short
}

/// The blocks found so far and what bounds the rest.
struct Expansion {
    window: Interval,
    zone: Tz,
    budget: usize,
    clock: Clock,
    blocks: Vec<Interval>,
}

/// Checks the clock every this many occurrences.
const CLOCK_EVERY: usize = 1024;

impl Expansion {
    /// Keeps `start..start + length` if it overlaps the window.
    fn keep(&mut self, start: DateTime<Utc>, length: Duration) -> Result<()> {
        let end = start
            .checked_add_signed(length)
            .ok_or_else(|| ImportError::new("an event ends after the year 9999"))?;
        if start < self.window.end && end > self.window.start {
            self.blocks.extend(Interval::new(start, end));
        }
        Ok(())
    }

    /// The busy blocks of one VEVENT; `moved`: the instants of its
    /// occurrences that RECURRENCE-ID overrides replace.
    fn event(&mut self, event: &RawEvent, moved: Option<&HashSet<DateTime<Utc>>>) -> Result<()> {
        if event.is_free() {
            return Ok(());
        }
        let dtstart = event
            .get("DTSTART")
            .ok_or_else(|| ImportError::new("an event has no DTSTART"))?;
        let first = when(dtstart, self.zone)?;
        let start = first.start(self.zone);
        let length = self.length(event, first, start)?;
        if length <= Duration::zero() {
            return Ok(());
        }
        let Some(rule) = event.get("RRULE") else {
            return self.keep(start, length);
        };
        for occurrence in self.occurrences(event, rule, first, start, length)? {
            if moved.is_some_and(|m| m.contains(&occurrence)) {
                continue;
            }
            match first {
                // All day: from local midnight to local midnight, whatever
                // the clocks do in between.
                When::Date(_) => {
                    let day = occurrence.with_timezone(&self.zone).date_naive();
                    let days = length.num_days().max(1);
                    let last = day
                        .checked_add_signed(Duration::days(days))
                        .ok_or_else(|| ImportError::new("an event ends after the year 9999"))?;
                    let end = to_utc(self.zone, last.and_time(NaiveTime::MIN));
                    self.keep(occurrence, end - occurrence)?;
                }
                _ => self.keep(occurrence, length)?,
            }
        }
        Ok(())
    }

    /// How long the event lasts: DTEND − DTSTART, or DURATION, or a day
    /// for an all-day event with neither (RFC 5545 §3.6.1); at most
    /// [`MAX_BLOCK_DAYS`].
    fn length(&self, event: &RawEvent, first: When, start: DateTime<Utc>) -> Result<Duration> {
        let length = if let Some(end) = event.get("DTEND") {
            when(end, self.zone)?.start(self.zone) - start
        } else if let Some(length) = event.get("DURATION") {
            duration(&length.value).ok_or_else(|| {
                ImportError::new(format!(
                    "an event's DURATION cannot be read or is over {MAX_BLOCK_DAYS} days: {}",
                    shorten(&length.value)
                ))
            })?
        } else {
            match first {
                When::Date(_) => Duration::days(1),
                _ => Duration::zero(),
            }
        };
        if length > Duration::days(MAX_BLOCK_DAYS) {
            return Err(ImportError::new(format!(
                "an event lasts more than {MAX_BLOCK_DAYS} days"
            )));
        }
        Ok(length)
    }

    /// The starts of a repeating event that may overlap the window, EXDATEs
    /// left out and RDATEs added.
    fn occurrences(
        &mut self,
        event: &RawEvent,
        rule: &Property,
        first: When,
        start: DateTime<Utc>,
        length: Duration,
    ) -> Result<Vec<DateTime<Utc>>> {
        let unusable = |why: String| {
            ImportError::new(format!(
                "the repeat rule of the event starting {} cannot be used: {}",
                start.format("%Y-%m-%d %H:%M UTC"),
                shorten(&why)
            ))
        };
        check_rule_bounds(&rule.value).map_err(unusable)?;
        let zone = first.zone(self.zone);
        let tz = rrule::Tz::Tz(zone);
        let parsed: rrule::RRule<rrule::Unvalidated> = until_in_utc(&rule.value, zone)
            .parse()
            .map_err(|e: rrule::RRuleError| unusable(e.to_string()))?;
        let mut set = match parsed.build(start.with_timezone(&tz)) {
            Ok(set) => set.limit(),
            // A series that ended before it began has no occurrence.
            Err(rrule::RRuleError::ValidationError(rrule::ValidationError::UntilBeforeStart {
                ..
            })) => return Ok(Vec::new()),
            Err(e) => return Err(unusable(e.to_string())),
        };
        // Excluded dates (VALUE=DATE) take out every occurrence on that
        // local day; excluded times, the occurrence at that instant.
        let mut excluded_days: HashSet<NaiveDate> = HashSet::new();
        for exdate in event.all("EXDATE") {
            for value in exdate.value.split(',') {
                match when_of(value.trim(), exdate, self.zone)? {
                    When::Date(day) => {
                        excluded_days.insert(day);
                    }
                    other => set = set.exdate(other.start(self.zone).with_timezone(&tz)),
                }
            }
        }
        for rdate in event.all("RDATE") {
            for value in rdate.value.split(',') {
                // A PERIOD (`start/end`) repeats the event's own length.
                let value = value.split('/').next().unwrap_or_default();
                let at = when_of(value.trim(), rdate, self.zone)?.start(self.zone);
                set = set.rdate(at.with_timezone(&tz));
            }
        }
        let earliest = self
            .window
            .start
            .checked_sub_signed(length)
            .unwrap_or(self.window.start);
        let mut found = Vec::new();
        for (seen, occurrence) in (&set).into_iter().enumerate() {
            self.budget = self.budget.checked_sub(1).ok_or_else(|| {
                ImportError::new(format!(
                    "the repeating events add up to more than {MAX_OCCURRENCES} occurrences"
                ))
            })?;
            if seen % CLOCK_EVERY == CLOCK_EVERY - 1 {
                self.clock.check()?;
            }
            let at = occurrence.with_timezone(&Utc);
            if at >= self.window.end {
                break;
            }
            let day = occurrence.with_timezone(&zone).date_naive();
            if at > earliest && !excluded_days.contains(&day) {
                found.push(at);
            }
        }
        Ok(found)
    }

    /// The busy periods of one FREEBUSY line (`start/end` or
    /// `start/duration`, comma-separated), unless FBTYPE=FREE.
    fn free_busy(&mut self, property: &Property) -> Result<()> {
        if property
            .param("FBTYPE")
            .is_some_and(|kind| kind.eq_ignore_ascii_case("FREE"))
        {
            return Ok(());
        }
        for period in property.value.split(',') {
            let unreadable = || {
                ImportError::new(format!(
                    "a FREEBUSY period cannot be read: {}",
                    shorten(period)
                ))
            };
            let (from, to) = period.trim().split_once('/').ok_or_else(unreadable)?;
            let start = when_of(from, property, self.zone)?.start(self.zone);
            let length = match duration(to) {
                Some(length) => length,
                None => when_of(to, property, self.zone)?.start(self.zone) - start,
            };
            if length > Duration::days(MAX_BLOCK_DAYS) {
                return Err(unreadable());
            }
            self.keep(start, length)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// 1 December 2026 to 1 March 2027 (90 days).
    fn window() -> Interval {
        Interval::new(utc("2026-12-01T00:00:00Z"), utc("2027-03-01T00:00:00Z")).unwrap()
    }

    fn calendar(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n{body}END:VCALENDAR\r\n")
    }

    fn event(lines: &str) -> String {
        format!("BEGIN:VEVENT\r\nUID:e@test\r\n{lines}END:VEVENT\r\n")
    }

    fn blocks(text: &str) -> Vec<(String, String)> {
        busy_blocks(text, window(), Paris)
            .unwrap()
            .iter()
            .map(|b| (b.start.to_rfc3339(), b.end.to_rfc3339()))
            .collect()
    }

    fn refusal(text: &str) -> String {
        busy_blocks(text, window(), Paris).unwrap_err().0
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (utc(a).to_rfc3339(), utc(b).to_rfc3339())
    }

    #[test]
    fn a_utc_event_is_one_block() {
        let text = calendar(&event(
            "DTSTART:20261204T090000Z\r\nDTEND:20261204T100000Z\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [pair("2026-12-04T09:00:00Z", "2026-12-04T10:00:00Z")]
        );
    }

    #[test]
    fn a_tzid_time_is_read_in_that_zone() {
        let text = calendar(&event(
            "DTSTART;TZID=America/New_York:20261204T090000\r\nDURATION:PT30M\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [pair("2026-12-04T14:00:00Z", "2026-12-04T14:30:00Z")]
        );
    }

    #[test]
    fn outlook_windows_zone_names_and_vendor_prefixes_are_understood() {
        let outlook = calendar(&event(
            "DTSTART;TZID=\"Romance Standard Time\":20261204T090000\r\nDTEND;TZID=\"Romance Standard Time\":20261204T100000\r\n",
        ));
        let mozilla = calendar(&event(
            "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Paris:20261204T090000\r\nDTEND;TZID=/mozilla.org/20050126_1/Europe/Paris:20261204T100000\r\n",
        ));
        let expected = [pair("2026-12-04T08:00:00Z", "2026-12-04T09:00:00Z")];
        assert_eq!(blocks(&outlook), expected);
        assert_eq!(blocks(&mozilla), expected);
    }

    #[test]
    fn floating_times_and_all_day_dates_are_read_in_the_owners_zone() {
        let floating = calendar(&event(
            "DTSTART:20261204T090000\r\nDTEND:20261204T093000\r\n",
        ));
        assert_eq!(
            blocks(&floating),
            [pair("2026-12-04T08:00:00Z", "2026-12-04T08:30:00Z")]
        );
        let all_day = calendar(&event("DTSTART;VALUE=DATE:20261225\r\n"));
        assert_eq!(
            blocks(&all_day),
            [pair("2026-12-24T23:00:00Z", "2026-12-25T23:00:00Z")]
        );
    }

    #[test]
    fn an_all_day_rule_may_end_on_a_date() {
        let text = calendar(&event(
            "DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\nRRULE:FREQ=WEEKLY;UNTIL=20261215\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [
                pair("2026-11-30T23:00:00Z", "2026-12-01T23:00:00Z"),
                pair("2026-12-07T23:00:00Z", "2026-12-08T23:00:00Z"),
                pair("2026-12-14T23:00:00Z", "2026-12-15T23:00:00Z"),
            ]
        );
    }

    #[test]
    fn free_and_cancelled_events_take_no_time() {
        let text = calendar(&format!(
            "{}{}",
            event("DTSTART:20261204T090000Z\r\nDTEND:20261204T100000Z\r\nTRANSP:TRANSPARENT\r\n"),
            event("DTSTART:20261205T090000Z\r\nDTEND:20261205T100000Z\r\nSTATUS:CANCELLED\r\n"),
        ));
        assert!(blocks(&text).is_empty());
    }

    #[test]
    fn a_weekly_rule_is_expanded_over_the_window_only() {
        // Every Monday 09:00 Paris since September, until 21 December.
        let text = calendar(&event(
            "DTSTART;TZID=Europe/Paris:20260907T090000\r\nDTEND;TZID=Europe/Paris:20260907T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261221T080000Z\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [
                pair("2026-12-07T08:00:00Z", "2026-12-07T09:00:00Z"),
                pair("2026-12-14T08:00:00Z", "2026-12-14T09:00:00Z"),
                pair("2026-12-21T08:00:00Z", "2026-12-21T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_repeating_event_keeps_its_wall_clock_time_across_summer_time() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let text = calendar(&event(
            "DTSTART;TZID=Europe/Paris:20270222T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\n",
        ));
        let found = busy_blocks(
            &text,
            Interval::new(utc("2027-03-20T00:00:00Z"), utc("2027-04-10T00:00:00Z")).unwrap(),
            Paris,
        )
        .unwrap();
        let starts: Vec<String> = found.iter().map(|b| b.start.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                utc("2027-03-22T08:00:00Z").to_rfc3339(),
                utc("2027-03-29T07:00:00Z").to_rfc3339()
            ]
        );
    }

    #[test]
    fn excluded_and_moved_instances_are_where_the_diary_says() {
        let text = calendar(&format!(
            "{}{}",
            event(
                "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nRRULE:FREQ=DAILY;COUNT=4\r\nEXDATE:20261202T090000Z\r\n",
            ),
            event(
                "RECURRENCE-ID:20261203T090000Z\r\nDTSTART:20261203T150000Z\r\nDTEND:20261203T160000Z\r\n",
            ),
        ));
        assert_eq!(
            blocks(&text),
            [
                pair("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"),
                pair("2026-12-03T15:00:00Z", "2026-12-03T16:00:00Z"),
                pair("2026-12-04T09:00:00Z", "2026-12-04T10:00:00Z"),
            ]
        );
    }

    #[test]
    fn free_busy_periods_count_unless_free() {
        let text = calendar(
            "BEGIN:VFREEBUSY\r\nFREEBUSY:20261204T090000Z/20261204T100000Z,20261204T140000Z/PT30M\r\nFREEBUSY;FBTYPE=FREE:20261205T090000Z/PT8H\r\nEND:VFREEBUSY\r\n",
        );
        assert_eq!(
            blocks(&text),
            [
                pair("2026-12-04T09:00:00Z", "2026-12-04T10:00:00Z"),
                pair("2026-12-04T14:00:00Z", "2026-12-04T14:30:00Z"),
            ]
        );
    }

    #[test]
    fn blocks_are_kept_whole_as_the_diary_has_them_and_duplicates_once() {
        // Stored as given (an import again finds the same blocks), even
        // when they overlap each other or begin before the window.
        let text = calendar(&format!(
            "{}{}{}{}",
            event("DTSTART:20261204T090000Z\r\nDTEND:20261204T110000Z\r\n"),
            event("DTSTART:20261204T100000Z\r\nDTEND:20261204T120000Z\r\n"),
            event("DTSTART:20261204T100000Z\r\nDTEND:20261204T120000Z\r\n"),
            event("DTSTART:20261130T220000Z\r\nDTEND:20261201T020000Z\r\n"),
        ));
        assert_eq!(
            blocks(&text),
            [
                pair("2026-11-30T22:00:00Z", "2026-12-01T02:00:00Z"),
                pair("2026-12-04T09:00:00Z", "2026-12-04T11:00:00Z"),
                pair("2026-12-04T10:00:00Z", "2026-12-04T12:00:00Z"),
            ]
        );
    }

    #[test]
    fn folded_lines_and_alarms_are_read_as_the_standard_says() {
        let text = calendar(&event(
            "DTSTART:20261204T09\r\n 0000Z\r\nDTEND:20261204T100000Z\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nDTSTART:20001204T090000Z\r\nEND:VALARM\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [pair("2026-12-04T09:00:00Z", "2026-12-04T10:00:00Z")]
        );
    }

    #[test]
    fn what_is_not_a_calendar_is_refused_with_a_reason() {
        assert!(refusal("hello").contains("not an iCalendar line"));
        assert!(refusal("BEGIN:VEVENT\r\nEND:VEVENT\r\n").contains("BEGIN:VCALENDAR"));
        assert!(refusal("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n").contains("never closed"));
        assert!(refusal("").contains("no VCALENDAR"));
        assert!(refusal(&calendar("END:VEVENT\r\n")).contains("closes nothing"));
        assert!(refusal(&calendar(&event("DTEND:20261204T100000Z\r\n"))).contains("no DTSTART"));
        assert!(refusal(&calendar(&event("DTSTART:2026-12-04\r\n"))).contains("cannot be read"));
        assert!(
            refusal(&calendar(&event(
                "DTSTART;TZID=Mars/Olympus:20261204T090000\r\n"
            )))
            .contains("Mars/Olympus")
        );
        assert!(
            refusal(&calendar(&event(
                "DTSTART:20261204T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=SOMETIMES\r\n"
            )))
            .contains("repeat rule")
        );
    }

    #[test]
    fn a_calendar_over_a_mebibyte_is_refused_before_it_is_read() {
        let huge = "X".repeat(MAX_CALENDAR_BYTES + 1);
        assert!(refusal(&huge).contains("larger than 1 MiB"));
    }

    #[test]
    fn a_rule_from_long_ago_cannot_make_unbounded_work() {
        // Every hour since 1700: more occurrences before the window than the
        // budget, stopped by the count or, on a slow machine, the clock.
        let text = calendar(&event(
            "DTSTART:17000101T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=HOURLY\r\n",
        ));
        let refused = refusal(&text);
        assert!(
            refused.contains("more than 2000000 occurrences") || refused.contains("too long"),
            "{refused}"
        );
    }

    #[test]
    fn rules_the_engine_would_expand_without_bound_are_refused_up_front() {
        for rule in [
            "FREQ=MINUTELY",
            "FREQ=SECONDLY",
            "FREQ=YEARLY;BYSECOND=0,1,2",
            "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12;BYMINUTE=0,5,10,15",
        ] {
            let text = calendar(&event(&format!(
                "DTSTART:20261204T090000Z\r\nDURATION:PT1M\r\nRRULE:{rule}\r\n"
            )));
            assert!(refusal(&text).contains("repeat rule"), "{rule}");
        }
    }

    #[test]
    fn a_series_that_ends_before_it_begins_has_no_occurrence() {
        let text = calendar(&event(
            "DTSTART:20261204T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;UNTIL=20261101T000000Z\r\n",
        ));
        assert!(blocks(&text).is_empty());
    }

    #[test]
    fn an_excluded_date_takes_out_that_days_occurrence_of_a_timed_series() {
        let text = calendar(&event(
            "DTSTART:20261201T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;VALUE=DATE:20261202\r\n",
        ));
        assert_eq!(
            blocks(&text),
            [
                pair("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"),
                pair("2026-12-03T09:00:00Z", "2026-12-03T10:00:00Z"),
            ]
        );
    }

    #[test]
    fn repeating_all_day_events_run_midnight_to_midnight_across_clock_changes() {
        // Every Saturday in Paris; 28 March 2027 is the spring change.
        let text = calendar(&event(
            "DTSTART;VALUE=DATE:20270320\r\nDTEND;VALUE=DATE:20270322\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\n",
        ));
        let found = busy_blocks(
            &text,
            Interval::new(utc("2027-03-01T00:00:00Z"), utc("2027-04-01T00:00:00Z")).unwrap(),
            Paris,
        )
        .unwrap();
        let found: Vec<(String, String)> = found
            .iter()
            .map(|b| (b.start.to_rfc3339(), b.end.to_rfc3339()))
            .collect();
        assert_eq!(
            found,
            [
                pair("2027-03-19T23:00:00Z", "2027-03-21T23:00:00Z"),
                pair("2027-03-26T23:00:00Z", "2027-03-28T22:00:00Z"),
            ]
        );
    }

    #[test]
    fn absurd_lengths_and_zone_names_are_refused_not_panicked_on() {
        let long = calendar(&event(
            "DTSTART:20261204T090000Z\r\nDURATION:P1000000WP1000000W\r\n",
        ));
        assert!(refusal(&long).contains("DURATION"));
        let year = calendar(&event(
            "DTSTART:20261204T090000Z\r\nDTEND:20281204T090000Z\r\n",
        ));
        assert!(refusal(&year).contains("more than 366 days"));
        let end_of_time = calendar(&event("DTSTART:99991231T230000Z\r\nDURATION:P300D\r\n"));
        assert!(blocks(&end_of_time).is_empty(), "far outside the window");
        let slashes = "/".repeat(100_000);
        let zone = calendar(&event(&format!(
            "DTSTART;TZID={slashes}:20261204T090000\r\nDURATION:PT1H\r\n"
        )));
        assert!(refusal(&zone).contains("not known"));
        let uid = calendar(&format!(
            "BEGIN:VEVENT\r\nUID:{}\r\nDTSTART:20261204T090000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n",
            "u".repeat(2000)
        ));
        assert!(refusal(&uid).contains("UID"));
    }

    #[test]
    fn rules_no_date_can_meet_are_stopped_by_the_clock() {
        // Each searches the rule engine's whole loop limit; past the time
        // bound (here none at all) the rest are not expanded.
        let impossible = event(
            "DTSTART:19000101T000000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n",
        );
        let text = calendar(&impossible.repeat(3));
        let refused = busy_blocks_within(&text, window(), Paris, std::time::Duration::ZERO);
        assert!(refused.unwrap_err().0.contains("take too long"));
        assert_eq!(
            busy_blocks_within(
                &calendar(&impossible),
                window(),
                Paris,
                std::time::Duration::ZERO
            ),
            Ok(Vec::new()),
            "one rule is always expanded"
        );
    }

    #[test]
    fn too_many_blocks_are_refused_not_cut() {
        let text = calendar(&event(
            "DTSTART:20261201T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=HOURLY\r\n",
        ));
        assert!(refusal(&text).contains("more than 2000 busy blocks"));
    }

    #[test]
    fn durations_follow_rfc_5545() {
        assert_eq!(duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(duration("P1W"), Some(Duration::weeks(1)));
        assert_eq!(duration("P1DT2H"), Some(Duration::hours(26)));
        assert_eq!(duration("-PT1H"), None);
        assert_eq!(duration("P"), None);
        assert_eq!(duration("PT1D"), None);
        assert_eq!(duration("P99999999999999999999D"), None);
        assert_eq!(duration("P1D1D"), None, "each unit once");
        assert_eq!(duration("PT1H1D"), None, "days before the time");
        assert_eq!(duration("P1H"), None, "hours after T");
        assert_eq!(duration("P400D"), None, "at most a year");
    }

    #[test]
    fn quoted_parameters_may_hold_colons_and_semicolons() {
        let line = content_line("ATTENDEE;CN=\"Doe; Jane: CEO\";ROLE=CHAIR:mailto:j@x").unwrap();
        assert_eq!(line.param("CN"), Some("Doe; Jane: CEO"));
        assert_eq!(line.param("ROLE"), Some("CHAIR"));
        assert_eq!(line.value, "mailto:j@x");
    }
}
