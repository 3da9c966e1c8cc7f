//! `importUnavailability`: an executive's diary, exported from Outlook or
//! Google Calendar, uploaded as a GraphQL multipart request and stored as
//! unavailabilities — by the executive or by their assistant.

use entity::enums::ProgrammeStatus;
use entity::{audit_log, unavailability};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_programme};

const IMPORT: &str = "mutation($c: Upload!, $f: DateTime, $r: String, $o: UUID) { importUnavailability(calendar: $c, from: $f, reason: $r, onBehalfOf: $o) { imported { id startsAt endsAt reason } alreadyThere from to } }";
const SET: &str = "mutation($tz: String!, $s: [WeeklySlotInput!]!) { setWeeklyAvailability(timezone: $tz, slots: $s) { weekday } }";
const FREE: &str = "query($e: UUID, $f: DateTime!, $t: DateTime!) { availability(employeeId: $e, from: $f, to: $t) { startsAt endsAt } }";
const GRANT: &str = "mutation($d: UUID!) { grantDelegation(delegateId: $d) { id } }";

/// The import window starts on Monday 4 January 2027.
const FROM: &str = "2027-01-04T00:00:00Z";

/// An Outlook export: a weekly board meeting in "Romance Standard Time"
/// (Paris) with one week excluded, a two-day offsite, focus time marked
/// free, and a cancelled lunch. Titles are confidential.
const OUTLOOK: &str = "BEGIN:VCALENDAR\r
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r
VERSION:2.0\r
METHOD:PUBLISH\r
BEGIN:VTIMEZONE\r
TZID:Romance Standard Time\r
BEGIN:STANDARD\r
DTSTART:16011028T030000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010325T020000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:board-weekly\r
SUMMARY:Board meeting (confidential)\r
DTSTART;TZID=\"Romance Standard Time\":20261207T090000\r
DTEND;TZID=\"Romance Standard Time\":20261207T110000\r
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r
EXDATE;TZID=\"Romance Standard Time\":20261221T090000\r
BEGIN:VALARM\r
TRIGGER:-PT15M\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:offsite\r
SUMMARY:Strategy offsite\r
DTSTART;VALUE=DATE:20270114\r
DTEND;VALUE=DATE:20270116\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:focus\r
SUMMARY:Focus time\r
TRANSP:TRANSPARENT\r
DTSTART:20270105T130000Z\r
DTEND:20270105T150000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:lunch\r
SUMMARY:Lunch with the CFO\r
STATUS:CANCELLED\r
DTSTART:20270106T110000Z\r
DTEND:20270106T120000Z\r
END:VEVENT\r
END:VCALENDAR\r
";

/// What the export holds in the window, in UTC: two board meetings (09:00
/// Paris is 08:00 UTC in winter; 4 and 11 January — 21 December was
/// excluded and the rest fall before the window) and the offsite (from
/// midnight in Paris, Max's zone).
fn expected_blocks() -> Value {
    json!([
        ["2027-01-04T08:00:00+00:00", "2027-01-04T10:00:00+00:00"],
        ["2027-01-11T08:00:00+00:00", "2027-01-11T10:00:00+00:00"],
        ["2027-01-13T23:00:00+00:00", "2027-01-15T23:00:00+00:00"],
    ])
}

fn blocks_of(import: &Value) -> Value {
    Value::Array(
        import["imported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| json!([u["startsAt"], u["endsAt"]]))
            .collect(),
    )
}

struct Diary {
    app: TestApp,
    max: Uuid,
    max_token: String,
}

/// Max, a senior leader in Paris, free on weekdays 09:00–18:00 local.
async fn diary(backend: Backend) -> Diary {
    let app = TestApp::spawn(backend).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 8)).await;
    insert_programme(&app.db, "Digital 2027", ProgrammeStatus::Active).await;
    let max_token = app.token(Some("max.mentee@corp.example"), &[]).await;
    let weekdays: Vec<Value> = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
        .iter()
        .map(|day| json!({ "weekday": day, "start": "09:00", "end": "18:00" }))
        .collect();
    app.query_ok(
        &max_token,
        SET,
        json!({ "tz": "Europe/Paris", "s": weekdays }),
    )
    .await;
    Diary {
        app,
        max,
        max_token,
    }
}

impl Diary {
    /// `token` uploads the Outlook export with these variables (`c` is the file).
    async fn import(&self, token: &str, variables: Value) -> (StatusCode, Value) {
        self.app
            .upload(token, IMPORT, variables, "c", OUTLOOK.as_bytes())
            .await
    }
}

async fn stored(app: &TestApp, employee: Uuid) -> u64 {
    unavailability::Entity::find()
        .filter(unavailability::Column::EmployeeId.eq(employee))
        .count(&app.db)
        .await
        .unwrap()
}

async fn an_outlook_export_becomes_unavailability_and_free_time_follows(backend: Backend) {
    let d = diary(backend).await;
    let (status, body) = d
        .import(&d.max_token, json!({ "c": null, "f": FROM }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let import = &body["data"]["importUnavailability"];
    assert_eq!(blocks_of(import), expected_blocks());
    assert_eq!(import["from"], "2027-01-04T00:00:00+00:00");
    assert_eq!(import["to"], "2027-04-06T00:00:00+00:00", "92 days");
    assert_eq!(import["alreadyThere"], 0);
    let text = body.to_string();
    for title in ["Board meeting", "Strategy offsite", "CFO"] {
        assert!(!text.contains(title), "titles are never kept: {text}");
    }
    assert_eq!(
        import["imported"][0]["reason"], "Imported from a calendar",
        "{import}"
    );

    // Monday 4 January: free 09:00–18:00 Paris (08:00–17:00 UTC) but for
    // the board meeting; the offsite takes all of Thursday 14th.
    let monday = d
        .app
        .query_ok(
            &d.max_token,
            FREE,
            json!({ "f": FROM, "t": "2027-01-05T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        monday["availability"],
        json!([{ "startsAt": "2027-01-04T10:00:00+00:00", "endsAt": "2027-01-04T17:00:00+00:00" }])
    );
    let offsite = d
        .app
        .query_ok(
            &d.max_token,
            FREE,
            json!({ "f": "2027-01-14T00:00:00Z", "t": "2027-01-15T00:00:00Z" }),
        )
        .await;
    assert_eq!(offsite["availability"], json!([]));

    // The same export again adds nothing.
    let (_, again) = d
        .import(
            &d.max_token,
            json!({ "c": null, "f": FROM, "r": "Diary sync" }),
        )
        .await;
    let again = &again["data"]["importUnavailability"];
    assert_eq!(again["imported"], json!([]), "{again}");
    assert_eq!(again["alreadyThere"], 3);
    assert_eq!(stored(&d.app, d.max).await, 3);
}

async fn an_assistant_imports_for_their_executive_and_is_audited(backend: Backend) {
    let d = diary(backend).await;
    let eve = insert_employee(&d.app.db, Person::new("Eve Assistant", 4)).await;
    insert_employee(&d.app.db, Person::new("Sue Stranger", 4)).await;
    let eve_token = d.app.token(Some("eve.assistant@corp.example"), &[]).await;
    let sue_token = d.app.token(Some("sue.stranger@corp.example"), &[]).await;

    // Without a delegation, the executive does not exist for Sue.
    let (_, refused) = d
        .import(&sue_token, json!({ "c": null, "f": FROM, "o": d.max }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(stored(&d.app, d.max).await, 0);

    d.app
        .query_ok(&d.max_token, GRANT, json!({ "d": eve }))
        .await;
    let (_, body) = d
        .import(&eve_token, json!({ "c": null, "f": FROM, "o": d.max }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        blocks_of(&body["data"]["importUnavailability"]),
        expected_blocks()
    );
    assert_eq!(stored(&d.app, d.max).await, 3, "in Max's diary");
    assert_eq!(stored(&d.app, eve).await, 0, "not in Eve's");
    let entry = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("unavailability.import"))
        .one(&d.app.db)
        .await
        .unwrap()
        .expect("the delegated import is audited");
    assert_eq!(entry.target_id, Some(d.max));
    assert_eq!(entry.details["principal"], json!(d.max));
    assert_eq!(entry.details["delegate"], json!(eve));
    assert_eq!(entry.details["change"]["imported"], 3);
}

async fn a_bad_calendar_is_refused_on_its_field_and_stores_nothing(backend: Backend) {
    let d = diary(backend).await;
    let wrap = |body: &str| {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n").into_bytes()
    };
    let mut over_a_mebibyte = wrap("");
    over_a_mebibyte.splice(
        0..0,
        std::iter::repeat_n(b"X-PAD:padding\r\n".iter().copied(), 70_000).flatten(),
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "prose",
            b"Dear assistant, here is my diary".to_vec(),
            "not an iCalendar line",
        ),
        ("not UTF-8", vec![0xff, 0xfe, 0x42], "UTF-8"),
        ("over 1 MiB", over_a_mebibyte, "1 MiB"),
        (
            "unknown zone",
            wrap(
                "BEGIN:VEVENT\r\nDTSTART;TZID=Mars/Olympus:20270105T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n",
            ),
            "Mars/Olympus",
        ),
        (
            "unreadable rule",
            wrap(
                "BEGIN:VEVENT\r\nDTSTART:20270105T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=FORTNIGHTLY\r\nEND:VEVENT\r\n",
            ),
            "repeat rule",
        ),
        (
            "unclosed",
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270105T090000Z\r\n".to_vec(),
            "never closed",
        ),
    ];
    for (case, file, says) in cases {
        let (status, body) = d
            .app
            .upload(
                &d.max_token,
                IMPORT,
                json!({ "c": null, "f": FROM }),
                "c",
                &file,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{case}: {body}");
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{case}: {body}"
        );
        assert_eq!(error["extensions"]["field"], "calendar", "{case}: {body}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{case}: {body}"
        );
    }

    let (_, long_reason) = d
        .import(
            &d.max_token,
            json!({ "c": null, "f": FROM, "r": "x".repeat(501) }),
        )
        .await;
    assert_eq!(long_reason["errors"][0]["extensions"]["field"], "reason");

    // A body past the upload limit is cut off before it is read.
    let huge = vec![b'X'; 5 * 1024 * 1024];
    let (status, body) = d
        .app
        .upload(&d.max_token, IMPORT, json!({ "c": null }), "c", &huge)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // One file per request: a second file part is refused before anything runs.
    let operations = json!({ "query": IMPORT, "variables": { "c": null } }).to_string();
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.c\"],\"1\":[\"variables.c\"]}}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.ics\"\r\n\r\n{OUTLOOK}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"1\"; filename=\"b.ics\"\r\n\r\n{OUTLOOK}\r\n--b--\r\n"
    );
    let response = d
        .app
        .client()
        .post(format!("{}/graphql", d.app.address))
        .bearer_auth(&d.max_token)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A calendar pasted as a JSON string is no upload.
    let code = d
        .app
        .query_error_code(&d.max_token, IMPORT, json!({ "c": "BEGIN:VCALENDAR" }))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");

    // No token: nothing of the upload is read.
    let (status, _) = d
        .app
        .upload("", IMPORT, json!({ "c": null }), "c", OUTLOOK.as_bytes())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(stored(&d.app, d.max).await, 0);
}

both!(
    an_outlook_export_becomes_unavailability_and_free_time_follows,
    an_assistant_imports_for_their_executive_and_is_audited,
    a_bad_calendar_is_refused_on_its_field_and_stores_nothing,
);
