//! The personal iCalendar feed: `rotateCalendarFeed` hands out a secret URL,
//! `GET /calendar/<token>.ics` serves the caller's sessions to calendar
//! clients. Bodies are read with a real iCalendar parser (Python's
//! `icalendar`, as `.ci/run` installs it), not with string matching alone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use entity::enums::{EmployeeStatus, PairingStatus, ProgrammeStatus, SessionStatus};
use entity::{employee, mentoring_session, session_feedback};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
};

const ROTATE: &str = "mutation { rotateCalendarFeed }";
const RESCHEDULE: &str = "mutation($id: UUID!, $at: DateTime!) { rescheduleSession(id: $id, startsAt: $at) { id startsAt } }";
const CANCEL: &str =
    "mutation($id: UUID!) { cancelSession(id: $id, reason: \"CANCEL-REASON-SECRET\") { status } }";
const BASE: &str = "https://tandem.example.com";

/// Words that must never reach a feed: what is said in sessions, and the
/// other pairing's people.
const SECRETS: [&str; 5] = [
    "PRIVATE-NOTE-SECRET",
    "AGENDA-SECRET",
    "FEEDBACK-SECRET",
    "CANCEL-REASON-SECRET",
    "Olga Outsider",
];

/// Mia mentors Max and Zoë in "Digital Leaders"; Ned mentors Olga in
/// another pairing. Max's sessions are spread around the feed's window.
struct World {
    app: TestApp,
    /// The hour every session time counts from.
    anchor: DateTime<Utc>,
    max: String,
    mia: String,
    max_id: Uuid,
    /// In two days, SCHEDULED, with private notes and an agenda.
    upcoming: Uuid,
    /// Ten days ago, HELD, with feedback.
    held: Uuid,
    /// In five days, CANCELLED.
    cancelled: Uuid,
    /// Three days ago, NO_SHOW.
    no_show: Uuid,
    /// In a week, SCHEDULED (cancelled through the API by a test).
    next_week: Uuid,
    /// Forty days ago and two hundred days ahead: outside the window.
    outside: [Uuid; 2],
    /// Ned and Olga's session, at the same time as `upcoming`.
    theirs: Uuid,
}

impl World {
    /// The anchor hour, `days` days later (or earlier).
    fn day(&self, days: i64) -> DateTime<Utc> {
        self.anchor + Duration::days(days)
    }
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn_with(backend, &[("PUBLIC_BASE_URL", &format!("{BASE}/"))]).await;
    let db = &app.db;
    let anchor = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    let day = |days: i64| anchor + Duration::days(days);
    let mia = insert_employee(db, Person::new("Mia Mentor", 2)).await;
    let max_id = insert_employee(db, Person::new("Max Mentee", 7)).await;
    let zoe = insert_employee(db, Person::new("Zoë Ωmega", 6)).await;
    let ned = insert_employee(db, Person::new("Ned Other", 3)).await;
    let olga = insert_employee(db, Person::new("Olga Outsider", 8)).await;
    let programme = insert_programme(db, "Digital Leaders; 2027", ProgrammeStatus::Active).await;
    let pairing = insert_pairing(db, programme, mia, &[max_id, zoe], PairingStatus::Active).await;
    let other = insert_pairing(db, programme, ned, &[olga], PairingStatus::Active).await;
    let upcoming = insert_session(
        db,
        pairing,
        day(2),
        SessionStatus::Scheduled,
        Some("PRIVATE-NOTE-SECRET"),
    )
    .await;
    mentoring_session::ActiveModel {
        id: Set(upcoming),
        agenda: Set(Some("AGENDA-SECRET".into())),
        ..Default::default()
    }
    .update(db)
    .await
    .unwrap();
    let held = insert_session(db, pairing, day(-10), SessionStatus::Held, None).await;
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(held),
        author_id: Set(max_id),
        rating: Set(5),
        recommend: Set(Some(9)),
        comment: Set(Some("FEEDBACK-SECRET".into())),
        submitted_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    let cancelled = insert_session(db, pairing, day(5), SessionStatus::Cancelled, None).await;
    let no_show = insert_session(db, pairing, day(-3), SessionStatus::NoShow, None).await;
    let next_week = insert_session(db, pairing, day(7), SessionStatus::Scheduled, None).await;
    let outside = [
        insert_session(db, pairing, day(-40), SessionStatus::Held, None).await,
        insert_session(db, pairing, day(200), SessionStatus::Scheduled, None).await,
    ];
    let theirs = insert_session(
        db,
        other,
        day(2),
        SessionStatus::Scheduled,
        Some("PRIVATE-NOTE-SECRET"),
    )
    .await;
    World {
        max: app.token(Some(&Person::email("Max Mentee")), &[]).await,
        mia: app.token(Some(&Person::email("Mia Mentor")), &[]).await,
        app,
        anchor,
        max_id,
        upcoming,
        held,
        cancelled,
        no_show,
        next_week,
        outside,
        theirs,
    }
}

/// Rotates the caller's feed; answers the URL's path (the test server is
/// not at `PUBLIC_BASE_URL`), after checking the URL's shape.
async fn rotate(app: &TestApp, token: &str) -> String {
    let url = app.query_ok(token, ROTATE, json!({})).await["rotateCalendarFeed"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = url
        .strip_prefix(BASE)
        .expect("the URL starts with PUBLIC_BASE_URL");
    let secret = path
        .strip_prefix("/calendar/")
        .and_then(|rest| rest.strip_suffix(".ics"))
        .unwrap_or_else(|| panic!("/calendar/<token>.ics: {url}"));
    assert_eq!(secret.len(), 43, "256 bits in unpadded base64url: {secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{secret}"
    );
    path.to_owned()
}

/// `GET` a feed path without any credential but the path.
async fn fetch(app: &TestApp, path: &str, if_none_match: Option<&str>) -> reqwest::Response {
    let mut request = app.client().get(format!("{}{path}", app.address));
    if let Some(tag) = if_none_match {
        request = request.header(IF_NONE_MATCH, tag);
    }
    request.send().await.unwrap()
}

/// One VEVENT as the parser read it.
#[derive(Debug, Clone)]
struct Parsed {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    sequence: i64,
    status: String,
    summary: String,
}

/// The feed's events by UID, read by Python's `icalendar` (which must find
/// no error in any component), after checking the calendar's own lines.
fn parse(body: &str) -> BTreeMap<String, Parsed> {
    const SCRIPT: &str = r#"
import json, sys
try:
    import icalendar
except ImportError:
    sys.exit("the feed tests need Python's icalendar: python3 -m pip install icalendar")
calendar = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
errors = [[c.name, str(c.errors)] for c in calendar.walk() if getattr(c, "errors", None)]
events = [{
    "uid": str(e["UID"]),
    "start": e.decoded("DTSTART").isoformat(),
    "end": e.decoded("DTEND").isoformat(),
    "stamp": e.decoded("DTSTAMP").isoformat(),
    "sequence": int(e.get("SEQUENCE", -1)),
    "status": str(e.get("STATUS", "")),
    "summary": str(e.get("SUMMARY", "")),
} for e in calendar.walk("VEVENT")]
print(json.dumps({
    "name": calendar.name,
    "version": str(calendar.get("VERSION")),
    "prodid": str(calendar.get("PRODID")),
    "calscale": str(calendar.get("CALSCALE")),
    "method": calendar.get("METHOD"),
    "errors": errors,
    "events": events,
}))
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.ics");
    std::fs::write(&file, body).unwrap();
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the parser refused the feed: {}\n{body}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["name"], "VCALENDAR");
    assert_eq!(read["version"], "2.0");
    assert_eq!(read["calscale"], "GREGORIAN");
    assert!(read["prodid"].as_str().unwrap().contains("Tandem"));
    assert_eq!(
        read["method"],
        Value::Null,
        "a published feed has no METHOD"
    );
    assert_eq!(read["errors"], json!([]), "{body}");
    let instant = |v: &Value| {
        DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["uid"].as_str().unwrap().to_owned(),
                Parsed {
                    start: instant(&e["start"]),
                    end: instant(&e["end"]),
                    sequence: e["sequence"].as_i64().unwrap(),
                    status: e["status"].as_str().unwrap().to_owned(),
                    summary: e["summary"].as_str().unwrap().to_owned(),
                },
            )
        })
        .collect()
}

fn uid(session: Uuid) -> String {
    format!("{session}@tandem")
}

/// A 200 feed: its headers checked, answers (ETag, body).
async fn feed_ok(app: &TestApp, path: &str) -> (String, String) {
    let response = fetch(app, path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(CONTENT_TYPE), "text/calendar; charset=utf-8");
    assert_eq!(header(CACHE_CONTROL), "private, max-age=300");
    let etag = header(ETAG);
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong ETag: {etag}"
    );
    (etag, response.text().await.unwrap())
}

async fn the_feed_lists_the_callers_sessions_in_its_window(backend: Backend) {
    let w = world(backend).await;
    let path = rotate(&w.app, &w.max).await;
    let (_, body) = feed_ok(&w.app, &path).await;
    assert!(body.contains("\r\n"), "CRLF line ends");
    let events = parse(&body);
    let expected: BTreeSet<String> = [w.upcoming, w.held, w.cancelled, w.no_show, w.next_week]
        .into_iter()
        .map(uid)
        .collect();
    assert_eq!(
        events.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "30 days back to 180 ahead, Max's pairing only"
    );
    for outside in w.outside.into_iter().chain([w.theirs]) {
        assert!(!body.contains(&outside.to_string()), "{outside} is not in");
    }
    let upcoming = &events[&uid(w.upcoming)];
    assert_eq!(upcoming.start, w.day(2));
    assert_eq!(upcoming.end, w.day(2) + Duration::hours(1));
    assert_eq!(upcoming.sequence, 0);
    assert_eq!(upcoming.status, "CONFIRMED");
    assert_eq!(
        upcoming.summary, "Digital Leaders; 2027: mentoring session with Mia Mentor and Zoë Ωmega",
        "the programme and the other participants, escaped and read back"
    );
    assert_eq!(events[&uid(w.held)].status, "CONFIRMED");
    assert_eq!(events[&uid(w.held)].start, w.day(-10));
    assert_eq!(events[&uid(w.cancelled)].status, "CANCELLED");
    assert_eq!(events[&uid(w.no_show)].status, "CANCELLED");
    for secret in SECRETS {
        assert!(!body.contains(secret), "{secret} leaked:\n{body}");
    }

    // The mentor's feed holds the same sessions, naming both mentees.
    let mia_path = rotate(&w.app, &w.mia).await;
    assert_ne!(mia_path, path);
    let (_, mia_body) = feed_ok(&w.app, &mia_path).await;
    let mia_events = parse(&mia_body);
    assert_eq!(
        mia_events.keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(
        mia_events[&uid(w.upcoming)].summary,
        "Digital Leaders; 2027: mentoring session with Max Mentee and Zoë Ωmega"
    );
}

async fn a_rescheduled_session_keeps_its_uid_and_the_feed_its_cache_rules(backend: Backend) {
    let w = world(backend).await;
    let path = rotate(&w.app, &w.max).await;
    let (etag, body) = feed_ok(&w.app, &path).await;

    let unchanged = fetch(&w.app, &path, Some(&etag)).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()[ETAG], etag.as_str());
    assert_eq!(unchanged.headers()[CACHE_CONTROL], "private, max-age=300");
    assert!(unchanged.text().await.unwrap().is_empty());
    let (again, same) = feed_ok(&w.app, &path).await;
    assert_eq!(
        (&again, &same),
        (&etag, &body),
        "an unchanged feed reads the same"
    );

    let moved_to = w.day(3);
    w.app
        .query_ok(
            &w.max,
            RESCHEDULE,
            json!({ "id": w.upcoming, "at": moved_to.to_rfc3339() }),
        )
        .await;
    let (moved_etag, moved_body) = feed_ok(&w.app, &path).await;
    assert_ne!(moved_etag, etag, "the ETag follows the body");
    let moved = &parse(&moved_body)[&uid(w.upcoming)];
    assert_eq!(moved.start, moved_to, "same UID, new DTSTART");
    assert_eq!(moved.end, moved_to + Duration::hours(1));
    assert_eq!(moved.sequence, 1);
    assert_eq!(moved.status, "CONFIRMED");
    let stale = fetch(&w.app, &path, Some(&etag)).await;
    assert_eq!(
        stale.status(),
        StatusCode::OK,
        "an old ETag gets the new body"
    );

    w.app
        .query_ok(&w.mia, CANCEL, json!({ "id": w.next_week }))
        .await;
    let (_, cancelled_body) = feed_ok(&w.app, &path).await;
    assert_eq!(
        parse(&cancelled_body)[&uid(w.next_week)].status,
        "CANCELLED"
    );
    for secret in SECRETS {
        assert!(!cancelled_body.contains(secret), "{secret} leaked");
    }
}

async fn rotation_kills_the_previous_url(backend: Backend) {
    let w = world(backend).await;
    let first = rotate(&w.app, &w.max).await;
    feed_ok(&w.app, &first).await;
    let second = rotate(&w.app, &w.max).await;
    assert_ne!(first, second);
    assert_eq!(
        fetch(&w.app, &first, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, body) = feed_ok(&w.app, &second).await;
    assert!(parse(&body).contains_key(&uid(w.upcoming)));
}

async fn a_feed_url_that_opens_nothing_answers_404(backend: Backend) {
    let w = world(backend).await;
    let path = rotate(&w.app, &w.max).await;
    let secret = &path["/calendar/".len()..path.len() - ".ics".len()];
    let malformed = [
        format!("/calendar/{}.ics", &secret[..42]),
        format!("/calendar/{secret}A.ics"),
        format!("/calendar/{}+.ics", &secret[..42]),
        format!("/calendar/{}%2F.ics", &secret[..42]),
        format!("/calendar/{}=.ics", &secret[..42]),
        "/calendar/x.ics".to_owned(),
    ];
    for bad in &malformed {
        let before = w.app.statements();
        let response = fetch(&w.app, bad, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(w.app.statements(), before, "no query for {bad}");
    }
    // Well formed, but nobody's: one letter changed.
    let last = secret.chars().last().unwrap();
    let other = if last == 'A' { 'B' } else { 'A' };
    let unknown = format!("/calendar/{}{other}.ics", &secret[..42]);
    let before = w.app.statements();
    assert_eq!(
        fetch(&w.app, &unknown, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        w.app.statements() > before,
        "a well-formed token is looked up (the count above would see a query)"
    );
    assert_eq!(
        fetch(&w.app, &format!("/calendar/{secret}.ical"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    feed_ok(&w.app, &path).await;

    // A leaver's feed is closed with them.
    employee::ActiveModel {
        id: Set(w.max_id),
        status: Set(EmployeeStatus::Terminated),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    let response = fetch(&w.app, &path, None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        employee::Entity::find_by_id(w.max_id)
            .one(&w.app.db)
            .await
            .unwrap()
            .is_some()
    );
}

async fn only_an_employee_gets_a_feed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(None, &["admin"]).await;
    assert_eq!(
        app.query_error_code(&admin, ROTATE, json!({})).await,
        "FORBIDDEN"
    );
    let analyst = app.token(None, &["analyst"]).await;
    assert_eq!(
        app.query_error_code(&analyst, ROTATE, json!({})).await,
        "FORBIDDEN"
    );
    let (status, _) = app.graphql("not-a-token", ROTATE, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

both!(
    the_feed_lists_the_callers_sessions_in_its_window,
    a_rescheduled_session_keeps_its_uid_and_the_feed_its_cache_rules,
    rotation_kills_the_previous_url,
    a_feed_url_that_opens_nothing_answers_404,
    only_an_employee_gets_a_feed,
);
