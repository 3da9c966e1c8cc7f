//! The authorization matrix of docs/design.md, one row per (caller, operation),
//! for every field that exists. Later issues add their rows here.

use entity::enums::{PairingStatus, ProgrammeStatus, SessionStatus};
use entity::{delegation, programme, session_feedback};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
    insert_supervised_mentor,
};

/// What a row expects.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// Data, no error.
    Ok,
    /// Data at this JSON pointer is null, no error.
    Null(&'static str),
    /// Data at this JSON pointer is a value (not null), no error.
    Has(&'static str),
    /// An error with this code.
    Code(&'static str),
    /// The array at this JSON pointer has this many items, no error.
    Count(&'static str, usize),
}
use Outcome::*;

struct World {
    pairing: Uuid,
    proposed: Uuid,
    former: Uuid,
    mentor: Uuid,
    mentee: Uuid,
    stranger: Uuid,
    open: Uuid,
    draft: Uuid,
}

/// A mentor paired with a mentee (whose manager is the stranger's peer),
/// a supervisor of the mentor, a stranger, an open and a draft programme.
async fn world(app: &TestApp) -> World {
    let mentor = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let mentee = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let stranger = insert_employee(&app.db, Person::new("Sue Stranger", 4)).await;
    let supervisor = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let open = insert_programme(&app.db, "Open programme", ProgrammeStatus::Active).await;
    programme::ActiveModel {
        id: Set(open),
        sponsor_id: Set(Some(mentee)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let draft = insert_programme(&app.db, "Draft programme", ProgrammeStatus::Draft).await;
    let pairing = insert_pairing(&app.db, open, mentor, &[mentee], PairingStatus::Active).await;
    insert_supervised_mentor(&app.db, open, mentor, supervisor).await;
    let now = chrono::Utc::now();
    insert_session(
        &app.db,
        pairing,
        now,
        SessionStatus::Scheduled,
        Some("private"),
    )
    .await;
    // A held session the mentee rated: feedback is its author's and admins'.
    let held = insert_session(
        &app.db,
        pairing,
        now - chrono::Duration::days(7),
        SessionStatus::Held,
        None,
    )
    .await;
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(held),
        author_id: Set(mentee),
        rating: Set(2),
        recommend: Set(Some(3)),
        comment: Set(Some("not useful".into())),
        submitted_at: Set(now),
    }
    .insert(&app.db)
    .await
    .unwrap();
    // A proposal the mentor is part of, not yet accepted, and a mentee the
    // mentor was paired with before.
    let pat = insert_employee(&app.db, Person::new("Pat Proposed", 6)).await;
    let proposed = insert_pairing(&app.db, open, mentor, &[pat], PairingStatus::Proposed).await;
    let former = insert_employee(&app.db, Person::new("Fay Former", 6)).await;
    insert_pairing(&app.db, open, mentor, &[former], PairingStatus::Completed).await;
    // Ada manages the mentee's (an executive's) mentoring agenda.
    let ada = insert_employee(&app.db, Person::new("Ada Assistant", 3)).await;
    delegation::ActiveModel {
        id: Set(Uuid::now_v7()),
        principal_id: Set(mentee),
        delegate_id: Set(ada),
        granted_by: Set(None),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    World {
        pairing,
        proposed,
        former,
        mentor,
        mentee,
        stranger,
        open,
        draft,
    }
}

/// The callers of the matrix: (name, email, roles).
const CALLERS: &[(&str, Option<&str>, &[&str])] = &[
    ("employee", Some("sue.stranger@corp.example"), &[]),
    ("participant", Some("mia.mentor@corp.example"), &[]),
    ("supervisor", Some("sam.supervisor@corp.example"), &[]),
    ("admin", None, &["admin"]),
    ("analyst", None, &["analyst"]),
    ("hris", None, &["hris"]),
    ("delegate", Some("ada.assistant@corp.example"), &[]),
];

fn operations(w: &World) -> Vec<(&'static str, String, Value)> {
    let employee = "query($id: UUID!) { employee(id: $id) { id displayName } }";
    let programme = "query($id: UUID!) { programme(id: $id) { name status } }";
    vec![
        ("me", "{ me { id } }".into(), json!({})),
        ("skills", "{ skills { slug } }".into(), json!({})),
        (
            "programmes",
            "{ programmes { edges { node { name } } } }".into(),
            json!({}),
        ),
        ("open programme", programme.into(), json!({ "id": w.open })),
        (
            "draft programme",
            programme.into(),
            json!({ "id": w.draft }),
        ),
        (
            "sponsor",
            "query($id: UUID!) { programme(id: $id) { sponsor { id } } }".into(),
            json!({ "id": w.open }),
        ),
        (
            "employees",
            "{ employees { edges { node { id } } } }".into(),
            json!({}),
        ),
        ("the mentor", employee.into(), json!({ "id": w.mentor })),
        ("the mentee", employee.into(), json!({ "id": w.mentee })),
        ("a stranger", employee.into(), json!({ "id": w.stranger })),
        ("pairing", "query($id: UUID!) { pairing(id: $id) { id } }".into(), json!({ "id": w.pairing })),
        (
            "private notes",
            "query($id: UUID!) { pairing(id: $id) { sessions { edges { node { privateNotes } } } } }".into(),
            json!({ "id": w.pairing }),
        ),
        (
            "enrolments",
            "query($id: UUID!) { programme(id: $id) { enrolments { edges { node { id } } } } }".into(),
            json!({ "id": w.open }),
        ),
        (
            "mentor's availability",
            "query($id: UUID!) { availability(employeeId: $id, from: \"2027-01-04T00:00:00Z\", to: \"2027-01-11T00:00:00Z\") { startsAt } }".into(),
            json!({ "id": w.mentor }),
        ),
        (
            "mentees' contact details",
            "query($id: UUID!) { pairing(id: $id) { menteeNames mentees { email externalId seniorityLevel timezone } } }".into(),
            json!({ "id": w.pairing }),
        ),
        (
            "mentees' names",
            "query($id: UUID!) { pairing(id: $id) { menteeNames } }".into(),
            json!({ "id": w.pairing }),
        ),
        (
            "feedback of a session",
            "query($id: UUID!) { pairing(id: $id) { sessions { edges { node { feedback { rating author { id } comment } } } } } }".into(),
            json!({ "id": w.pairing }),
        ),
        (
            "common free slots",
            "query($id: UUID!) { pairing(id: $id) { nextCommonSlots(durationMinutes: 30) { startsAt } } }".into(),
            json!({ "id": w.pairing }),
        ),
        (
            "a proposed pairing",
            "query($id: UUID!) { pairing(id: $id) { score reasons { kind } mentees { id } } }".into(),
            json!({ "id": w.proposed }),
        ),
        (
            "proposals among my pairings",
            "{ myPairings(status: PROPOSED) { id } }".into(),
            json!({}),
        ),
        (
            "a former partner's availability",
            "query($id: UUID!) { availability(employeeId: $id, from: \"2027-01-04T00:00:00Z\", to: \"2027-01-11T00:00:00Z\") { startsAt } }".into(),
            json!({ "id": w.former }),
        ),
        (
            "metrics of a draft",
            "query($id: UUID!) { programmeMetrics(programmeId: $id) { __typename } }".into(),
            json!({ "id": w.draft }),
        ),
        (
            "createProgramme",
            "mutation { createProgramme(input: { name: \"n\", purpose: \"p\", format: GROUP }) { id } }".into(),
            json!({}),
        ),
        (
            "syncEmployees (dry run)",
            "mutation { syncEmployees(input: { mode: UPSERT, source: \"test\", dryRun: true, employees: [] }) { state } }".into(),
            json!({}),
        ),
        (
            "hrisSyncRun",
            "query($id: UUID!) { hrisSyncRun(id: $id) { state } }".into(),
            json!({ "id": Uuid::nil() }),
        ),
        (
            "pairings of the mentee (delegated)",
            "query($id: UUID!) { pairingsOf(principalId: $id) { id } }".into(),
            json!({ "id": w.mentee }),
        ),
        (
            "my notifications",
            "{ myNotifications { edges { node { id } } } }".into(),
            json!({}),
        ),
        (
            "a programme's deliveries",
            "query($id: UUID!) { programmeNotifications(programmeId: $id) { edges { node { id } } } programmeDeliverySummary(programmeId: $id) { sent } }".into(),
            json!({ "id": w.open }),
        ),
    ]
}

/// The expected outcome of each operation (columns in `operations` order)
/// for each caller (rows in `CALLERS` order).
fn expected() -> Vec<[Outcome; 28]> {
    const F: Outcome = Code("FORBIDDEN");
    const N: Outcome = Code("NOT_FOUND");
    const NO_ME: Outcome = Null("/me");
    const NO_SPONSOR: Outcome = Null("/programme/sponsor");
    const NOTES: Outcome = Has("/pairing/sessions/edges/0/node/privateNotes");
    const NO_NOTES: Outcome = Null("/pairing/sessions/edges/0/node/privateNotes");
    const NO_RUN: Outcome = Null("/hrisSyncRun");
    const CONTACTS: Outcome = Has("/pairing/mentees/0/email");
    const NO_MENTEES: Outcome = Count("/pairing/mentees", 0);
    const NAMES: Outcome = Count("/pairing/menteeNames", 1);
    const ALL_FEEDBACK: Outcome = Count("/pairing/sessions/edges/1/node/feedback", 1);
    const NO_FEEDBACK: Outcome = Count("/pairing/sessions/edges/1/node/feedback", 0);
    const NO_PROPOSALS: Outcome = Count("/myPairings", 0);
    const DELEGATED: Outcome = Count("/pairingsOf", 1);
    const MINE: Outcome = Count("/myNotifications/edges", 0);
    vec![
        // me, skills, programmes, open, draft, sponsor, employees, mentor, mentee, stranger,
        // pairing, private notes, enrolments, mentor's availability,
        // mentees' contact details, mentees' names, feedback, common slots,
        // a proposed pairing, proposals among my pairings, a former partner's
        // availability, metrics of a draft,
        // createProgramme, syncEmployees, hrisSyncRun, pairings of the mentee (delegated),
        // my notifications, a programme's deliveries
        [
            Ok,
            Ok,
            Ok,
            Ok,
            N,
            Ok,
            Ok,
            N,
            N,
            Ok,
            N,
            N,
            Ok,
            N,
            N,
            N,
            N,
            N,
            N,
            NO_PROPOSALS,
            N,
            F,
            F,
            F,
            F,
            N,
            MINE,
            F,
        ], // employee (is the stranger)
        [
            Ok,
            Ok,
            Ok,
            Ok,
            N,
            Ok,
            Ok,
            Ok,
            Ok,
            N,
            Ok,
            NOTES,
            Ok,
            Ok,
            CONTACTS,
            NAMES,
            NO_FEEDBACK,
            Ok,
            N,
            NO_PROPOSALS,
            N,
            F,
            F,
            F,
            F,
            N,
            MINE,
            F,
        ], // participant (the mentor: the feedback is the mentee's)
        [
            Ok,
            Ok,
            Ok,
            Ok,
            N,
            Ok,
            Ok,
            Ok,
            N,
            N,
            Ok,
            NO_NOTES,
            Ok,
            N,
            NO_MENTEES,
            NAMES,
            NO_FEEDBACK,
            F,
            N,
            NO_PROPOSALS,
            N,
            F,
            F,
            F,
            F,
            N,
            MINE,
            F,
        ], // supervisor of the mentor
        [
            NO_ME,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
            NO_NOTES,
            Ok,
            Ok,
            CONTACTS,
            NAMES,
            ALL_FEEDBACK,
            Ok,
            Ok,
            NO_PROPOSALS,
            Ok,
            Ok,
            Ok,
            F,
            NO_RUN,
            N,
            MINE,
            Ok,
        ], // admin
        [
            NO_ME, Ok, Ok, Ok, N, NO_SPONSOR, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, N, F, F,
            F, F, F, F,
        ], // analyst
        [
            NO_ME, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, Ok, NO_RUN, F,
            F, F,
        ], // hris
        [
            Ok,
            Ok,
            Ok,
            Ok,
            N,
            Ok,
            Ok,
            N,
            N,
            N,
            N,
            N,
            Ok,
            N,
            N,
            N,
            N,
            N,
            N,
            NO_PROPOSALS,
            N,
            F,
            F,
            F,
            F,
            DELEGATED,
            MINE,
            F,
        ], // delegate of the mentee: the principal's ACTIVE pairings, nothing of their content
    ]
}

async fn every_cell_of_the_matrix_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = world(&app).await;
    let operations = operations(&w);
    assert_eq!(
        operations.len(),
        expected()[0].len(),
        "one column per operation"
    );
    let mut failures = Vec::new();
    for ((caller, email, roles), row) in CALLERS.iter().zip(expected()) {
        let token = app.token(*email, roles).await;
        for ((operation, query, variables), outcome) in operations.iter().zip(row) {
            let (_, body) = app.graphql(&token, query, variables.clone()).await;
            let code = body["errors"][0]["extensions"]["code"].as_str();
            let holds = match outcome {
                Ok => code.is_none() && body["data"].is_object(),
                Null(pointer) => {
                    code.is_none() && body["data"].pointer(pointer) == Some(&Value::Null)
                }
                Has(pointer) => {
                    code.is_none() && body["data"].pointer(pointer).is_some_and(|v| !v.is_null())
                }
                Code(expected) => code == Some(expected),
                Count(pointer, n) => {
                    code.is_none()
                        && body["data"]
                            .pointer(pointer)
                            .and_then(Value::as_array)
                            .map(Vec::len)
                            == Some(n)
                }
            };
            if !holds {
                failures.push(format!(
                    "{caller} × {operation}: expected {outcome:?}, got {body}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn employees_list_only_their_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    world(&app).await;
    let names = |data: Value| -> Vec<String> {
        data["employees"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = "{ employees { edges { node { displayName } } } }";
    let cases: [(Option<&str>, &[&str], &[&str]); 4] = [
        (Some("sue.stranger@corp.example"), &[], &["Sue Stranger"]),
        (
            Some("mia.mentor@corp.example"),
            &[],
            // Fay's pairing ended but is known; Pat's is only a proposal.
            &["Fay Former", "Max Mentee", "Mia Mentor"],
        ),
        (
            Some("sam.supervisor@corp.example"),
            &[],
            &["Mia Mentor", "Sam Supervisor"],
        ),
        (
            None,
            &["admin"],
            &[
                "Ada Assistant",
                "Fay Former",
                "Max Mentee",
                "Mia Mentor",
                "Pat Proposed",
                "Sam Supervisor",
                "Sue Stranger",
            ],
        ),
    ];
    for (email, roles, expected) in cases {
        let data = app
            .query_ok(&app.token(email, roles).await, list, json!({}))
            .await;
        assert_eq!(names(data), expected, "{email:?} {roles:?}");
    }
}

both!(
    every_cell_of_the_matrix_holds,
    employees_list_only_their_scope
);
