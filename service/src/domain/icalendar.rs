//! An RFC 5545 (iCalendar) writer: pure functions, no database, no GraphQL.
//!
//! Two levels. [`Lines`] writes content lines: it escapes TEXT values
//! (`\\`, `;`, `,`, line breaks), quotes parameter values (RFC 6868 for the
//! characters a quoted value cannot hold), ends every line with CRLF and
//! folds lines longer than 75 octets without splitting a UTF-8 character.
//! [`Calendar`] and [`Event`] use it to write a VCALENDAR of VEVENTs, as
//! the personal feed serves it and as invitations (METHOD REQUEST/CANCEL)
//! will carry it.
//!
//! Times are written in UTC (`19980119T070000Z`, RFC 5545 §3.3.5 form 2),
//! which every client reads the same way, unless an event names a zone
//! ([`Event::zone`]): then DTSTART and DTEND are local times with a `TZID`
//! parameter (form 3) and the calendar carries a `VTIMEZONE` for that zone,
//! its observances taken from the tz database over the events' span
//! ([`observances`]), so a client without that database still places the
//! event at the same instant, and shows it in the organiser's zone.
//!
//! Values are written as given; the service's own bounds (years 1900–2200,
//! [`super::time`]) keep every instant within the four-digit years the
//! format allows.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// Longest content line, in octets, before it is folded (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// What a calendar object asks of its receiver (RFC 5546), for invitations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// An invitation, or an update of one (a higher SEQUENCE).
    Request,
    /// The event is cancelled.
    Cancel,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

/// The STATUS of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventStatus {
    /// It takes place.
    Confirmed,
    /// It was called off (the entry stays, struck through by most clients).
    Cancelled,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// An organizer or attendee: an email address and, optionally, a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// The address (written as a `mailto:` URI).
    pub email: String,
    /// The common name (`CN`).
    pub name: Option<String>,
}

/// One VEVENT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Stable across every version of the event (`<id>@tandem`).
    pub uid: String,
    /// DTSTAMP: when this version was made (without METHOD, RFC 5545 wants
    /// the time the event last changed, so an unchanged event reads the same).
    pub stamp: DateTime<Utc>,
    /// DTSTART.
    pub start: DateTime<Utc>,
    /// DTEND (after `start`).
    pub end: DateTime<Utc>,
    /// The zone DTSTART and DTEND are written in (the organiser's); None
    /// or UTC: in UTC (as the feed writes them).
    pub zone: Option<Tz>,
    /// SEQUENCE: one more at each significant change (a new time).
    pub sequence: u32,
    /// STATUS.
    pub status: EventStatus,
    /// SUMMARY: the title calendars show.
    pub summary: String,
    /// LAST-MODIFIED.
    pub last_modified: DateTime<Utc>,
    /// ORGANIZER, if any.
    pub organizer: Option<Party>,
    /// ATTENDEE lines, in order.
    pub attendees: Vec<Party>,
}

/// A VCALENDAR object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    /// PRODID, e.g. `-//Tandem//Mentoring sessions//EN`.
    pub prodid: String,
    /// METHOD; None for a published calendar (a subscribed feed).
    pub method: Option<Method>,
    /// NAME (RFC 7986) and `X-WR-CALNAME`, the title a subscription gets.
    pub name: Option<String>,
    /// REFRESH-INTERVAL (RFC 7986) and `X-PUBLISHED-TTL`, in minutes: how
    /// often subscribers should poll.
    pub refresh_minutes: Option<u32>,
    /// The events, in the order written.
    pub events: Vec<Event>,
}

impl Calendar {
    /// The calendar as an iCalendar text (CRLF line ends, folded).
    pub fn render(&self) -> String {
        let mut lines = Lines::with_capacity(256 + self.events.len() * 512);
        lines.begin("VCALENDAR");
        lines.text("PRODID", &self.prodid);
        lines.property("VERSION", &[], "2.0");
        lines.property("CALSCALE", &[], "GREGORIAN");
        if let Some(method) = self.method {
            lines.property("METHOD", &[], method.as_str());
        }
        if let Some(name) = &self.name {
            lines.text("NAME", name);
            lines.text("X-WR-CALNAME", name);
        }
        if let Some(minutes) = self.refresh_minutes {
            let duration = format!("PT{minutes}M");
            lines.property("REFRESH-INTERVAL", &[("VALUE", "DURATION")], &duration);
            lines.property("X-PUBLISHED-TTL", &[], &duration);
        }
        for (zone, (from, to)) in self.zone_spans() {
            write_zone(&mut lines, zone, from, to);
        }
        for event in &self.events {
            write_event(&mut lines, event);
        }
        lines.end("VCALENDAR");
        lines.finish()
    }
}

/// From the earliest start to the latest end of some events.
type Span = (DateTime<Utc>, DateTime<Utc>);

impl Calendar {
    /// Each zone the events are written in, with the earliest start and the
    /// latest end among its events: what its VTIMEZONE must cover.
    fn zone_spans(&self) -> Vec<(Tz, Span)> {
        let mut spans: Vec<(Tz, Span)> = Vec::new();
        for event in &self.events {
            let Some(zone) = local_zone(event) else {
                continue;
            };
            match spans.iter_mut().find(|(z, _)| *z == zone) {
                Some((_, (from, to))) => {
                    *from = (*from).min(event.start);
                    *to = (*to).max(event.end);
                }
                None => spans.push((zone, (event.start, event.end))),
            }
        }
        spans
    }
}

/// The zone `event` is written in, unless it is UTC by another name (no
/// offset and no change over the event: `GMT`, `Etc/UTC` …).
fn local_zone(event: &Event) -> Option<Tz> {
    event.zone.filter(|zone| {
        !observances(*zone, event.start, event.end)
            .iter()
            .all(|o| o.offset_to == 0 && o.offset_from == 0)
    })
}

fn write_event(lines: &mut Lines, event: &Event) {
    lines.begin("VEVENT");
    lines.text("UID", &event.uid);
    lines.utc("DTSTAMP", event.stamp);
    match local_zone(event) {
        Some(zone) => {
            let local = |instant: DateTime<Utc>| {
                instant
                    .with_timezone(&zone)
                    .format("%Y%m%dT%H%M%S")
                    .to_string()
            };
            lines.property("DTSTART", &[("TZID", zone.name())], &local(event.start));
            lines.property("DTEND", &[("TZID", zone.name())], &local(event.end));
        }
        None => {
            lines.utc("DTSTART", event.start);
            lines.utc("DTEND", event.end);
        }
    }
    lines.property("SEQUENCE", &[], &event.sequence.to_string());
    lines.property("STATUS", &[], event.status.as_str());
    lines.text("SUMMARY", &event.summary);
    lines.utc("LAST-MODIFIED", event.last_modified);
    if let Some(organizer) = &event.organizer {
        lines.party("ORGANIZER", organizer);
    }
    for attendee in &event.attendees {
        lines.party("ATTENDEE", attendee);
    }
    lines.end("VEVENT");
}

/// One observance of a VTIMEZONE: from its onset, local time is UTC plus
/// `offset_to` seconds (until the next observance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observance {
    /// DAYLIGHT (summer time) rather than STANDARD.
    pub daylight: bool,
    /// DTSTART: the onset, in the local time that was in force before it.
    pub onset: NaiveDateTime,
    /// TZOFFSETFROM, in seconds.
    pub offset_from: i32,
    /// TZOFFSETTO, in seconds.
    pub offset_to: i32,
    /// TZNAME, e.g. `CEST`.
    pub name: String,
}

/// Longest look back for the observance in force at the start of a span;
/// a zone without a change in that time keeps one observance since 1970.
const LOOK_BACK_DAYS: i64 = 400;

/// The observances of `zone` that cover `from`..`to`: the one in force at
/// `from` and each change up to `to`. Changes are found by probing the tz
/// database day by day (no zone changes twice in a day), then narrowed to
/// the second.
pub fn observances(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Observance> {
    let day = Duration::days(1);
    let mut probe = from - Duration::days(LOOK_BACK_DAYS);
    let mut changes = Vec::new();
    while probe < to {
        let next = (probe + day).min(to);
        if offset_at(zone, probe) != offset_at(zone, next) {
            changes.push(change_between(zone, probe, next));
        }
        probe = next;
    }
    // The last change at or before `from` begins the observance in force
    // then; without one, that observance is dated from 1970.
    let first_kept = changes.iter().rposition(|at| *at <= from);
    let mut kept: Vec<Observance> = Vec::with_capacity(changes.len() + 1);
    if first_kept.is_none() {
        let mut since_epoch = observance_at(zone, from);
        since_epoch.offset_from = since_epoch.offset_to;
        since_epoch.onset = DateTime::UNIX_EPOCH.naive_utc();
        kept.push(since_epoch);
    }
    kept.extend(
        changes
            .iter()
            .skip(first_kept.unwrap_or(0))
            .map(|at| observance_at(zone, *at)),
    );
    kept
}

/// Seconds east of UTC in `zone` at `instant`.
fn offset_at(zone: Tz, instant: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The first second after `before` at which the offset is that of `after`
/// (the two differ).
fn change_between(zone: Tz, mut before: DateTime<Utc>, mut after: DateTime<Utc>) -> DateTime<Utc> {
    let target = offset_at(zone, after);
    while after - before > Duration::seconds(1) {
        let middle = before + (after - before) / 2;
        if offset_at(zone, middle) == target {
            after = middle;
        } else {
            before = middle;
        }
    }
    after
}

/// The observance that begins at `onset` (a change of offset).
fn observance_at(zone: Tz, onset: DateTime<Utc>) -> Observance {
    let offset = zone.offset_from_utc_datetime(&onset.naive_utc());
    let offset_to = offset.fix().local_minus_utc();
    let offset_from = offset_at(zone, onset - Duration::seconds(1));
    Observance {
        // Summer time; a negative saving (Dublin's winter) stays STANDARD.
        daylight: offset.dst_offset() > Duration::zero(),
        onset: onset.naive_utc() + Duration::seconds(i64::from(offset_from)),
        offset_from,
        offset_to,
        name: offset
            .abbreviation()
            .map_or_else(|| offset_text(offset_to), str::to_owned),
    }
}

/// `+0100` (a UTC offset value, RFC 5545 §3.3.14).
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    let text = format!("{sign}{:02}{:02}", minutes / 60, minutes % 60);
    match seconds.unsigned_abs() % 60 {
        0 => text,
        rest => format!("{text}{rest:02}"),
    }
}

/// A VTIMEZONE for `zone` covering `from`..`to`.
fn write_zone(lines: &mut Lines, zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) {
    lines.begin("VTIMEZONE");
    lines.text("TZID", zone.name());
    for observance in observances(zone, from, to) {
        let component = if observance.daylight {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        lines.begin(component);
        let onset = observance.onset.format("%Y%m%dT%H%M%S").to_string();
        lines.property("DTSTART", &[], &onset);
        lines.property("TZOFFSETFROM", &[], &offset_text(observance.offset_from));
        lines.property("TZOFFSETTO", &[], &offset_text(observance.offset_to));
        lines.text("TZNAME", &observance.name);
        lines.end(component);
    }
    lines.end("VTIMEZONE");
}

/// Content lines being written: each ends with CRLF and is folded at
/// [`MAX_LINE_OCTETS`] octets.
#[derive(Debug, Default)]
pub struct Lines {
    out: String,
}

impl Lines {
    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
        }
    }

    /// `BEGIN:<component>`.
    pub fn begin(&mut self, component: &str) {
        self.property("BEGIN", &[], component);
    }

    /// `END:<component>`.
    pub fn end(&mut self, component: &str) {
        self.property("END", &[], component);
    }

    /// A property whose value is TEXT: escaped here.
    pub fn text(&mut self, name: &str, value: &str) {
        self.property(name, &[], &escape_text(value));
    }

    /// A property holding an instant, in UTC.
    pub fn utc(&mut self, name: &str, instant: DateTime<Utc>) {
        self.property(name, &[], &utc_stamp(instant));
    }

    /// An ORGANIZER or ATTENDEE line.
    pub fn party(&mut self, name: &str, party: &Party) {
        let address = format!("mailto:{}", without_controls(party.email.trim()));
        match &party.name {
            Some(cn) => self.property(name, &[("CN", cn)], &address),
            None => self.property(name, &[], &address),
        }
    }

    /// `name;param=value…:value`, with `value` already in its type's
    /// syntax (use [`Lines::text`] for TEXT); parameter values are quoted
    /// where they must be.
    pub fn property(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        let mut line = String::with_capacity(name.len() + value.len() + 16);
        line.push_str(name);
        for (param, param_value) in params {
            line.push(';');
            line.push_str(param);
            line.push('=');
            line.push_str(&quote_param(param_value));
        }
        line.push(':');
        line.push_str(value);
        fold_into(&mut self.out, &line);
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `19980119T070000Z`.
pub fn utc_stamp(instant: DateTime<Utc>) -> String {
    instant.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped,
/// each line break (CRLF, LF or CR) as `\n`; other control characters but
/// tab, which TEXT cannot hold, are dropped.
pub fn escape_text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                escaped.push_str("\\n");
            }
            c if c.is_control() && c != '\t' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A parameter value: quoted when it holds `:`, `;` or `,` (RFC 5545
/// §3.2). No value can hold `"` or a line break: RFC 6868 writes them `^'`
/// and `^n` (and `^` as `^^`); other control characters are dropped.
fn quote_param(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '^' => encoded.push_str("^^"),
            '"' => encoded.push_str("^'"),
            '\n' => encoded.push_str("^n"),
            c if c.is_control() && c != '\t' => {}
            c => encoded.push(c),
        }
    }
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

fn without_controls(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// Appends `line` folded: at most 75 octets per physical line (the leading
/// space of a continuation counts), each ending with CRLF, never cutting a
/// UTF-8 character in two (a fold may come earlier for that).
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        limit = MAX_LINE_OCTETS - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, 0).unwrap()
    }

    fn event(summary: &str) -> Event {
        Event {
            uid: "0193a1c2-0000-7000-8000-000000000001@tandem".into(),
            stamp: at(8, 0),
            start: at(9, 0),
            end: at(10, 0),
            sequence: 0,
            status: EventStatus::Confirmed,
            summary: summary.into(),
            last_modified: at(8, 0),
            organizer: None,
            attendees: Vec::new(),
            zone: None,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn an_event_in_a_zone_is_written_in_local_time_with_its_tzid() {
        let mut winter = event("Mentoring");
        winter.zone = Some(chrono_tz::Europe::Paris);
        let text = calendar(Some(Method::Request), vec![winter]).render();
        let lines = unfold(&text);
        assert!(lines.contains(&"DTSTART;TZID=Europe/Paris:20261204T100000".to_owned()));
        assert!(lines.contains(&"DTEND;TZID=Europe/Paris:20261204T110000".to_owned()));
        assert!(lines.contains(&"BEGIN:VTIMEZONE".to_owned()));
        assert!(lines.contains(&"TZID:Europe/Paris".to_owned()));
    }

    #[test]
    fn a_utc_zone_keeps_utc_times_and_adds_no_vtimezone() {
        for zone in [Tz::UTC, Tz::Etc__UTC, Tz::GMT, Tz::Etc__Greenwich] {
            let mut plain = event("Mentoring");
            plain.zone = Some(zone);
            let text = calendar(None, vec![plain]).render();
            assert!(text.contains("DTSTART:20261204T090000Z"), "{zone}");
            assert!(!text.contains("VTIMEZONE"), "{zone}");
        }
    }

    #[test]
    fn the_observance_in_force_and_each_change_in_the_span_are_given() {
        // Paris, December to April: winter time since late October, summer
        // time from 29 March 2026 at 01:00 UTC (02:00 local becomes 03:00).
        let found = observances(
            chrono_tz::Europe::Paris,
            utc("2025-12-04T09:00:00Z"),
            utc("2026-04-10T09:00:00Z"),
        );
        let onsets: Vec<String> = found
            .iter()
            .map(|o| o.onset.format("%Y%m%dT%H%M%S").to_string())
            .collect();
        assert_eq!(onsets, ["20251026T030000", "20260329T020000"]);
        assert!(!found[0].daylight && found[1].daylight);
        assert_eq!((found[0].offset_from, found[0].offset_to), (7200, 3600));
        assert_eq!((found[1].offset_from, found[1].offset_to), (3600, 7200));
        assert_eq!(
            (found[0].name.as_str(), found[1].name.as_str()),
            ("CET", "CEST")
        );
    }

    #[test]
    fn a_zone_that_never_changes_has_one_observance_since_1970() {
        let found = observances(
            chrono_tz::Asia::Kolkata,
            utc("2026-12-04T09:00:00Z"),
            utc("2026-12-04T10:00:00Z"),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].offset_to, 19800);
        assert_eq!(found[0].offset_from, 19800);
        assert_eq!(found[0].onset.format("%Y").to_string(), "1970");
    }

    #[test]
    fn offsets_are_written_with_sign_hours_and_minutes() {
        assert_eq!(offset_text(3600), "+0100");
        assert_eq!(offset_text(-12600), "-0330");
        assert_eq!(offset_text(0), "+0000");
        assert_eq!(offset_text(-37), "-000037");
    }

    fn calendar(method: Option<Method>, events: Vec<Event>) -> Calendar {
        Calendar {
            prodid: "-//Tandem//Mentoring sessions//EN".into(),
            method,
            name: None,
            refresh_minutes: None,
            events,
        }
    }

    /// The logical lines of an iCalendar text (folds undone).
    fn unfold(text: &str) -> Vec<String> {
        text.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_calendar_has_its_required_properties_and_one_event() {
        let text = calendar(None, vec![event("Intro")]).render();
        assert_eq!(
            unfold(&text),
            [
                "BEGIN:VCALENDAR",
                "PRODID:-//Tandem//Mentoring sessions//EN",
                "VERSION:2.0",
                "CALSCALE:GREGORIAN",
                "BEGIN:VEVENT",
                "UID:0193a1c2-0000-7000-8000-000000000001@tandem",
                "DTSTAMP:20261204T080000Z",
                "DTSTART:20261204T090000Z",
                "DTEND:20261204T100000Z",
                "SEQUENCE:0",
                "STATUS:CONFIRMED",
                "SUMMARY:Intro",
                "LAST-MODIFIED:20261204T080000Z",
                "END:VEVENT",
                "END:VCALENDAR",
            ]
        );
    }

    #[test]
    fn every_line_ends_with_crlf_and_no_bare_line_feed_is_left() {
        let text = calendar(None, vec![event("two\nlines"), event("b")]).render();
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    }

    #[test]
    fn the_method_is_written_only_when_there_is_one() {
        let published = calendar(None, vec![]).render();
        assert!(!published.contains("METHOD"));
        let request = calendar(Some(Method::Request), vec![]).render();
        assert!(request.contains("\r\nMETHOD:REQUEST\r\n"));
        let cancel = calendar(Some(Method::Cancel), vec![]).render();
        assert!(cancel.contains("\r\nMETHOD:CANCEL\r\n"));
    }

    #[test]
    fn a_cancelled_event_keeps_its_uid_and_says_cancelled() {
        let mut cancelled = event("Intro");
        cancelled.status = EventStatus::Cancelled;
        cancelled.sequence = 2;
        let text = calendar(None, vec![cancelled]).render();
        assert!(text.contains("\r\nSTATUS:CANCELLED\r\n"));
        assert!(text.contains("\r\nSEQUENCE:2\r\n"));
        assert!(text.contains("\r\nUID:0193a1c2-0000-7000-8000-000000000001@tandem\r\n"));
    }

    #[test]
    fn a_feed_names_itself_and_says_how_often_to_poll() {
        let mut feed = calendar(None, vec![]);
        feed.name = Some("Tandem, mentoring".into());
        feed.refresh_minutes = Some(60);
        let lines = unfold(&feed.render());
        assert!(lines.contains(&"NAME:Tandem\\, mentoring".to_owned()));
        assert!(lines.contains(&"X-WR-CALNAME:Tandem\\, mentoring".to_owned()));
        assert!(lines.contains(&"REFRESH-INTERVAL;VALUE=DURATION:PT60M".to_owned()));
        assert!(lines.contains(&"X-PUBLISHED-TTL:PT60M".to_owned()));
    }

    #[test]
    fn text_escapes_backslash_semicolon_comma_and_line_breaks() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ng"
        );
        assert_eq!(escape_text("colon: stays"), "colon: stays");
    }

    #[test]
    fn control_characters_but_tab_are_dropped_from_text() {
        assert_eq!(escape_text("a\u{0}b\u{1b}c\td\u{7f}"), "abc\td");
    }

    #[test]
    fn organizer_and_attendees_carry_quoted_names() {
        let mut invitation = event("Intro");
        invitation.organizer = Some(Party {
            email: "mia@corp.example".into(),
            name: Some("Mia \"the\" Mentor, HR".into()),
        });
        invitation.attendees = vec![
            Party {
                email: "max@corp.example".into(),
                name: None,
            },
            Party {
                email: "zoe@corp.example".into(),
                name: Some("Zoë".into()),
            },
        ];
        let lines = unfold(&calendar(Some(Method::Request), vec![invitation]).render());
        assert!(lines.contains(
            &"ORGANIZER;CN=\"Mia ^'the^' Mentor, HR\":mailto:mia@corp.example".to_owned()
        ));
        assert!(lines.contains(&"ATTENDEE:mailto:max@corp.example".to_owned()));
        assert!(lines.contains(&"ATTENDEE;CN=Zoë:mailto:zoe@corp.example".to_owned()));
    }

    #[test]
    fn times_are_written_in_utc_whatever_their_origin() {
        let paris = chrono::FixedOffset::east_opt(3600).unwrap();
        let local = paris.with_ymd_and_hms(2026, 7, 1, 9, 30, 5).unwrap();
        assert_eq!(utc_stamp(local.with_timezone(&Utc)), "20260701T083005Z");
    }

    #[test]
    fn a_line_of_75_octets_is_not_folded_and_one_of_76_is() {
        let mut out = String::new();
        let exact = format!("SUMMARY:{}", "a".repeat(75 - 8));
        fold_into(&mut out, &exact);
        assert_eq!(out, format!("{exact}\r\n"));
        let mut out = String::new();
        let longer = format!("{exact}b");
        fold_into(&mut out, &longer);
        assert_eq!(out, format!("{exact}\r\n b\r\n"));
    }

    #[test]
    fn a_long_summary_is_folded_into_lines_of_at_most_75_octets() {
        let summary = "Digital strategy, SEO and online visibility; ".repeat(6);
        let text = calendar(None, vec![event(&summary)]).render();
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
        }
        let expected = format!("SUMMARY:{}", escape_text(&summary));
        assert!(unfold(&text).contains(&expected));
    }

    #[test]
    fn a_multibyte_character_at_the_fold_is_moved_whole_to_the_next_line() {
        // 74 octets of ASCII, then "é" (2 octets) would straddle octet 75.
        let line = format!("SUMMARY:{}é and more", "x".repeat(74 - 8));
        let mut out = String::new();
        fold_into(&mut out, &line);
        let physical: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(physical[0].len(), 74, "folded before the character");
        assert!(physical[1].starts_with(" é"));
        // A four-octet character (emoji) at every position near the limit.
        for pad in 60..80 {
            let line = format!("{}🙂🙂🙂 {}", "y".repeat(pad), "z".repeat(100));
            let mut out = String::new();
            fold_into(&mut out, &line);
            for physical in out.split("\r\n") {
                assert!(physical.len() <= 75);
            }
            assert_eq!(out.replace("\r\n ", "").trim_end(), line);
        }
    }

    proptest! {
        #[test]
        fn folding_keeps_every_line_short_and_unfolding_gives_the_line_back(
            value in "\\PC{0,400}"
        ) {
            let mut out = String::new();
            let line = format!("SUMMARY:{}", escape_text(&value));
            fold_into(&mut out, &line);
            prop_assert!(out.ends_with("\r\n"));
            for physical in out.trim_end_matches("\r\n").split("\r\n") {
                prop_assert!(physical.len() <= 75);
                prop_assert!(!physical.is_empty());
            }
            prop_assert_eq!(out.trim_end_matches("\r\n").replace("\r\n ", ""), line);
        }
    }
}
