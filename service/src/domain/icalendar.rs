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
//! which every client reads the same way. Local times in the attendee's zone
//! would add a `VTIMEZONE` component (one more writer over [`Lines::begin`]
//! and [`Lines::property`]) and a `TZID` parameter on DTSTART/DTEND: nothing
//! here needs to change for it.
//!
//! Values are written as given; the service's own bounds (years 1900–2200,
//! [`super::time`]) keep every instant within the four-digit years the
//! format allows.

use chrono::{DateTime, Utc};

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
        for event in &self.events {
            write_event(&mut lines, event);
        }
        lines.end("VCALENDAR");
        lines.finish()
    }
}

fn write_event(lines: &mut Lines, event: &Event) {
    lines.begin("VEVENT");
    lines.text("UID", &event.uid);
    lines.utc("DTSTAMP", event.stamp);
    lines.utc("DTSTART", event.start);
    lines.utc("DTEND", event.end);
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
    use chrono::TimeZone as _;
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
        }
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
