//! Personal data (issue #20): notes sealed at rest, the audit log, the
//! right of access (`myData`) and the right to erasure (`eraseEmployee`).

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus};
use entity::{employee, mentoring_session, session_feedback};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use tandem::domain::seal::Keyring;
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "k2:HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

const NOTES: &str =
    "mutation($id: UUID!, $n: String!) { setSessionNotes(id: $id, notes: $n) { privateNotes } }";
const FEEDBACK: &str = "mutation($i: FeedbackInput!) { submitFeedback(input: $i) { id comment } }";
const READ: &str = "query($p: UUID!) { pairing(id: $p) { sessions { edges { node { id privateNotes feedback { comment author { displayName } } } } } } }";
const MY_DATA: &str = "{ myData }";
const ERASE: &str = "mutation($id: UUID!, $c: String!) { eraseEmployee(id: $id, confirm: $c) }";
const AUDIT: &str = "query($a: String, $t: UUID, $who: UUID, $first: Int, $after: String) { auditLog(action: $a, targetId: $t, actorId: $who, first: $first, after: $after) { edges { cursor node { action targetType targetId actor { displayName } requestId } } pageInfo { hasNextPage endCursor } } }";
const METRICS: &str = "query($p: UUID!) { programmeMetrics(programmeId: $p) { mentors mentees activePairings completedPairings endedEarlyPairings sessionsHeld sessionsCancelled averageRating nps role: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed } department: breakdown(dimension: DEPARTMENT) { key participants suppressed } } }";
const SYNC: &str = "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { failed errors { externalId field message } } }";

const MIA: &str = "mia.mentor@corp.example";
const MAX: &str = "max.mentee@corp.example";

/// Mia mentors Max in "Digital 2027"; one session was held ten days ago.
struct World {
    app: TestApp,
    programme: Uuid,
    pairing: Uuid,
    session: Uuid,
    mia: Uuid,
    max: Uuid,
    mia_token: String,
    max_token: String,
}

async fn world(backend: Backend, settings: &[(&str, &str)]) -> World {
    let app = TestApp::spawn_with(backend, settings).await;
    let db = &app.db;
    let mia = insert_employee(db, Person::new("Mia Mentor", 2)).await;
    let max = insert_employee(db, Person::new("Max Mentee", 8)).await;
    let programme = insert_programme(db, "Digital 2027", ProgrammeStatus::Active).await;
    insert_approved(db, programme, mia, ParticipantRole::Mentor, 3, None).await;
    insert_approved(db, programme, max, ParticipantRole::Mentee, 1, None).await;
    let pairing = insert_pairing(db, programme, mia, &[max], PairingStatus::Active).await;
    let held = Utc::now() - Duration::days(10);
    let session = insert_session(db, pairing, held, SessionStatus::Held, None).await;
    let mia_token = app.token(Some(MIA), &[]).await;
    let max_token = app.token(Some(MAX), &[]).await;
    World {
        app,
        programme,
        pairing,
        session,
        mia,
        max,
        mia_token,
        max_token,
    }
}

impl World {
    /// Mia writes notes; each writes feedback.
    async fn talk(&self) {
        self.app
            .query_ok(
                &self.mia_token,
                NOTES,
                json!({ "id": self.session, "n": "PRIVATE-NOTE-SECRET about Max" }),
            )
            .await;
        for (token, comment) in [
            (&self.mia_token, "MIA-FEEDBACK-SECRET"),
            (&self.max_token, "MAX-FEEDBACK-SECRET"),
        ] {
            self.app
                .query_ok(
                    token,
                    FEEDBACK,
                    json!({ "i": { "sessionId": self.session, "rating": 4, "comment": comment } }),
                )
                .await;
        }
    }

    /// The HRIS says Max has left the company.
    async fn max_leaves(&self) {
        let hris = self.app.token(None, &["hris"]).await;
        let left = self
            .app
            .query_ok(
                &hris,
                SYNC,
                json!({ "input": { "mode": "UPSERT", "source": "workday", "employees": [
                    { "externalId": "X-Max-Mentee", "email": MAX, "displayName": "Max Mentee", "status": "TERMINATED" }
                ] } }),
            )
            .await;
        assert_eq!(left["syncEmployees"]["failed"], 0, "{left}");
    }

    async fn stored_notes(&self) -> Option<String> {
        mentoring_session::Entity::find_by_id(self.session)
            .one(&self.app.db)
            .await
            .unwrap()
            .unwrap()
            .private_notes
    }

    async fn stored_comments(&self) -> Vec<(Uuid, String)> {
        session_feedback::Entity::find()
            .filter(session_feedback::Column::SessionId.eq(self.session))
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|f| Some((f.id, f.comment?)))
            .collect()
    }
}

async fn notes_are_sealed_in_the_database_and_read_by_the_pair(backend: Backend) {
    let w = world(backend, &[("NOTES_ENCRYPTION_KEYS", K1)]).await;
    w.talk().await;

    // The database holds no plaintext.
    let notes = w.stored_notes().await.unwrap();
    assert!(notes.starts_with("sealed:v1:k1:"), "{notes}");
    assert!(!notes.contains("SECRET"));
    let comments = w.stored_comments().await;
    assert_eq!(comments.len(), 2);
    for (_, comment) in &comments {
        assert!(comment.starts_with("sealed:v1:k1:") && !comment.contains("SECRET"));
    }

    // The pair reads them through the API.
    let data = w
        .app
        .query_ok(&w.max_token, READ, json!({ "p": w.pairing }))
        .await;
    let node = &data["pairing"]["sessions"]["edges"][0]["node"];
    assert_eq!(node["privateNotes"], "PRIVATE-NOTE-SECRET about Max");
    assert_eq!(
        node["feedback"],
        json!([{ "comment": "MAX-FEEDBACK-SECRET", "author": { "displayName": "Max Mentee" } }]),
        "Max reads his own feedback only"
    );

    // Rotation to k2 (k1 kept to open): every value is now under k2, and
    // k2 alone opens them all.
    let both = Keyring::parse(&format!("{K2},{K1}")).unwrap();
    let rotated = tandem::domain::sealed_notes::rotate(&w.app.db, &both, 1)
        .await
        .unwrap();
    assert_eq!(
        (rotated.notes, rotated.comments, rotated.unreadable),
        (1, 2, 0)
    );
    let k2 = Keyring::parse(K2).unwrap();
    let notes = w.stored_notes().await.unwrap();
    assert_eq!(
        k2.open(&notes, &tandem::domain::seal::notes_context(w.session))
            .unwrap(),
        "PRIVATE-NOTE-SECRET about Max"
    );
    let mut opened: Vec<String> = w
        .stored_comments()
        .await
        .iter()
        .map(|(id, c)| {
            k2.open(c, &tandem::domain::seal::comment_context(*id))
                .unwrap()
        })
        .collect();
    opened.sort();
    assert_eq!(opened, ["MAX-FEEDBACK-SECRET", "MIA-FEEDBACK-SECRET"]);
    let again = tandem::domain::sealed_notes::rotate(&w.app.db, &both, 10)
        .await
        .unwrap();
    assert_eq!((again.notes, again.comments), (0, 0), "nothing left to do");

    // Under a key the service does not hold, a note reads as null, no 500.
    let (status, body) = w
        .app
        .graphql(&w.mia_token, READ, json!({ "p": w.pairing }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["pairing"]["sessions"]["edges"][0]["node"]["privateNotes"],
        Value::Null
    );
}

async fn my_data_holds_the_callers_data_and_nobody_elses(backend: Backend) {
    let w = world(backend, &[("NOTES_ENCRYPTION_KEYS", K1)]).await;
    w.talk().await;
    let data = w.app.query_ok(&w.max_token, MY_DATA, json!({})).await["myData"].clone();
    assert_eq!(data["format"], "tandem.personal-data/1");
    assert_eq!(data["profile"]["email"], MAX);
    assert_eq!(data["profile"]["displayName"], "Max Mentee");
    assert_eq!(data["enrolments"][0]["role"], "MENTEE");
    assert!(data["enrolments"][0]["consentedAt"].is_string());
    assert_eq!(data["pairings"][0]["id"], json!(w.pairing));
    assert_eq!(data["pairings"][0]["role"], "MENTEE");
    assert_eq!(
        data["sessions"][0]["privateNotes"], "PRIVATE-NOTE-SECRET about Max",
        "the notes of his own pairing"
    );
    assert_eq!(
        data["feedbackWritten"],
        json!([{ "sessionId": w.session, "rating": 4, "recommend": null, "comment": "MAX-FEEDBACK-SECRET", "submittedAt": data["feedbackWritten"][0]["submittedAt"] }])
    );
    let text = data.to_string();
    assert!(
        !text.contains("MIA-FEEDBACK-SECRET"),
        "what Mia wrote about the session is hers"
    );
    assert!(!text.contains("sealed:v1"), "nothing sealed leaks");

    // A service account has no personal data.
    let admin = w.app.token(None, &["admin"]).await;
    assert_eq!(
        w.app.query_error_code(&admin, MY_DATA, json!({})).await,
        "FORBIDDEN"
    );
}

async fn erasure_leaves_nobody_to_find_and_every_figure_as_it_was(backend: Backend) {
    let w = world(
        backend,
        &[("MIN_GROUP_SIZE", "2"), ("NOTES_ENCRYPTION_KEYS", K1)],
    )
    .await;
    w.talk().await;
    let admin = w.app.token(None, &["admin"]).await;
    // Max has left the company (erasing someone still taking part would
    // end their pairing and enrolment first, which changes figures by
    // itself; the erasure must not).
    w.max_leaves().await;
    let analyst = w.app.token(None, &["analyst"]).await;
    let hris = w.app.token(None, &["hris"]).await;
    let before = w
        .app
        .query_ok(&analyst, METRICS, json!({ "p": w.programme }))
        .await;
    let max_key = "X-Max-Mentee";

    // A wrong confirmation changes nothing.
    let (_, body) = w
        .app
        .graphql(&admin, ERASE, json!({ "id": w.max, "c": "X-Mia-Mentor" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "confirm");
    let still = employee::Entity::find_by_id(w.max)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((still.email.as_str(), still.erased_at), (MAX, None));

    // Only admins erase.
    assert_eq!(
        w.app
            .query_error_code(&w.mia_token, ERASE, json!({ "id": w.max, "c": max_key }))
            .await,
        "FORBIDDEN"
    );

    let erased = w
        .app
        .query_ok(&admin, ERASE, json!({ "id": w.max, "c": max_key }))
        .await;
    assert_eq!(erased["eraseEmployee"], true);

    // Nobody can find him.
    let mia_search = w
        .app
        .query_ok(
            &admin,
            "query($s: String) { employees(search: $s) { edges { node { id } } } }",
            json!({ "s": "max" }),
        )
        .await;
    assert_eq!(mia_search["employees"]["edges"], json!([]));
    assert_eq!(
        w.app
            .query_error_code(
                &admin,
                "query($id: UUID!) { employee(id: $id) { id } }",
                json!({ "id": w.max })
            )
            .await,
        "NOT_FOUND"
    );
    let scim = w
        .app
        .client()
        .request(
            Method::GET,
            format!(
                "{}/scim/v2/Users?filter=externalId%20eq%20%22{max_key}%22",
                w.app.address
            ),
        )
        .bearer_auth(&hris)
        .send()
        .await
        .unwrap();
    let scim: Value = serde_json::from_str(&scim.text().await.unwrap()).unwrap();
    assert_eq!(scim["totalResults"], 0, "{scim}");
    let row = employee::Entity::find_by_id(w.max)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.erased_at.is_some());
    for personal in [&row.email, &row.display_name, &row.external_id] {
        assert!(
            !personal.contains("Max") && !personal.contains("max"),
            "{personal}"
        );
    }
    assert_eq!(w.stored_notes().await, None, "the pair's notes are gone");
    let k1 = Keyring::parse(K1).unwrap();
    assert_eq!(
        w.stored_comments()
            .await
            .into_iter()
            .map(|(id, c)| k1
                .open(&c, &tandem::domain::seal::comment_context(id))
                .unwrap())
            .collect::<Vec<_>>(),
        ["MIA-FEEDBACK-SECRET"],
        "his comment is gone, Mia's stays"
    );

    // The figures are the same.
    let after = w
        .app
        .query_ok(&analyst, METRICS, json!({ "p": w.programme }))
        .await;
    assert_eq!(after, before);
    assert_eq!(
        before["programmeMetrics"]["sessionsHeld"], 1,
        "a figure Max counts in: {before}"
    );

    // Twice: CONFLICT. The HRIS cannot bring him back.
    assert_eq!(
        w.app
            .query_error_code(&admin, ERASE, json!({ "id": w.max, "c": max_key }))
            .await,
        "CONFLICT"
    );
    let push = w
        .app
        .query_ok(
            &hris,
            SYNC,
            json!({ "input": { "mode": "UPSERT", "source": "workday", "employees": [
                { "externalId": max_key, "email": MAX, "displayName": "Max Mentee" }
            ] } }),
        )
        .await;
    assert_eq!(push["syncEmployees"]["failed"], 1);
    let error = &push["syncEmployees"]["errors"][0];
    assert_eq!(error["field"], "externalId");
    assert!(
        error["message"].as_str().unwrap().starts_with("erased on "),
        "{error}"
    );
    let scim_user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": max_key,
        "userName": MAX,
        "active": true,
        "emails": [{ "primary": true, "type": "work", "value": MAX }],
    });
    let response = w
        .app
        .client()
        .post(format!("{}/scim/v2/Users", w.app.address))
        .bearer_auth(&hris)
        .header("content-type", "application/scim+json")
        .body(scim_user.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let scim_error: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        scim_error["detail"]
            .as_str()
            .unwrap()
            .contains("erased on "),
        "SCIM answers the same: {scim_error}"
    );
    let rehired = w
        .app
        .query_ok(
            &hris,
            SYNC,
            json!({ "input": { "mode": "UPSERT", "source": "workday", "employees": [
                { "externalId": "X-Max-Mentee-2", "email": MAX, "displayName": "Max Mentee" }
            ] } }),
        )
        .await;
    assert_eq!(rehired["syncEmployees"]["failed"], 0, "{rehired}");

    // The erasure is in the audit log, for admins.
    let log = w
        .app
        .query_ok(&admin, AUDIT, json!({ "a": "employee.erase" }))
        .await;
    let edges = log["auditLog"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["targetId"], json!(w.max));
    assert_eq!(edges[0]["node"]["targetType"], "employee");
}

async fn the_audit_log_is_for_admins_newest_first_and_filtered(backend: Backend) {
    let w = world(backend, &[]).await;
    let admin = w.app.token(None, &["admin"]).await;
    // Mia's actions as a person: three calendar feed rotations (audited).
    for _ in 0..3 {
        w.app
            .query_ok(&w.mia_token, "mutation { rotateCalendarFeed }", json!({}))
            .await;
    }
    let first = w
        .app
        .query_ok(&admin, AUDIT, json!({ "who": w.mia, "first": 2 }))
        .await;
    let page = &first["auditLog"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 2);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        page["edges"][0]["node"]["actor"]["displayName"],
        "Mia Mentor"
    );
    let rest = w
        .app
        .query_ok(
            &admin,
            AUDIT,
            json!({ "who": w.mia, "first": 2, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(rest["auditLog"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(rest["auditLog"]["pageInfo"]["hasNextPage"], false);
    let cursors: Vec<&Value> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["auditLog"]["edges"].as_array().unwrap())
        .map(|e| &e["cursor"])
        .collect();
    assert_eq!(cursors.len(), 3);
    let nobody = w.app.query_ok(&admin, AUDIT, json!({ "who": w.max })).await;
    assert_eq!(nobody["auditLog"]["edges"], json!([]));

    for roles in [&[][..], &["analyst"][..], &["hris"][..]] {
        let token = match roles {
            [] => w.max_token.clone(),
            _ => w.app.token(None, roles).await,
        };
        assert_eq!(
            w.app.query_error_code(&token, AUDIT, json!({})).await,
            "FORBIDDEN",
            "{roles:?}"
        );
    }
    let (_, body) = w
        .app
        .graphql(&admin, AUDIT, json!({ "a": "x".repeat(101) }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "action");
}

/// A note sealed under a key id nobody configured stays in the database
/// as it is and reads as null (never a 500, never the ciphertext).
async fn a_note_under_an_unknown_key_reads_as_null(backend: Backend) {
    let w = world(backend, &[("NOTES_ENCRYPTION_KEYS", K1)]).await;
    let foreign = Keyring::parse(K2)
        .unwrap()
        .seal("ELSEWHERE", &tandem::domain::seal::notes_context(w.session))
        .unwrap();
    let mut change: mentoring_session::ActiveModel =
        mentoring_session::Entity::find_by_id(w.session)
            .one(&w.app.db)
            .await
            .unwrap()
            .unwrap()
            .into();
    change.private_notes = Set(Some(foreign));
    change.update(&w.app.db).await.unwrap();
    let data = w
        .app
        .query_ok(&w.mia_token, READ, json!({ "p": w.pairing }))
        .await;
    assert_eq!(
        data["pairing"]["sessions"]["edges"][0]["node"]["privateNotes"],
        Value::Null
    );
}

/// Notes and comments go a year after the pairing ended, not before; a
/// leaver goes two years after leaving, not before; the figures stay; each
/// pass is recorded.
async fn retention_erases_at_its_limits_and_keeps_every_figure(backend: Backend) {
    use tandem::domain::retention::{self, RetentionSettings};
    let w = world(
        backend,
        &[("MIN_GROUP_SIZE", "2"), ("NOTES_ENCRYPTION_KEYS", K1)],
    )
    .await;
    w.talk().await;
    let admin = w.app.token(None, &["admin"]).await;
    let analyst = w.app.token(None, &["analyst"]).await;
    w.app
        .query_ok(
            &admin,
            "mutation($id: UUID!) { endPairing(id: $id, reason: \"done\", completed: true) { status } }",
            json!({ "id": w.pairing }),
        )
        .await;
    w.max_leaves().await;
    let ended = Utc::now();
    let before = w
        .app
        .query_ok(&analyst, METRICS, json!({ "p": w.programme }))
        .await;
    let settings = RetentionSettings::default();
    let pass = |days: i64| retention::run(&w.app.db, settings, ended + Duration::days(days));

    let early = pass(364).await.unwrap();
    assert_eq!(
        (
            early.notes_erased,
            early.comments_erased,
            early.people_erased
        ),
        (0, 0, 0)
    );
    assert!(w.stored_notes().await.is_some());

    let year = pass(366).await.unwrap();
    assert_eq!(
        (year.notes_erased, year.comments_erased, year.people_erased),
        (1, 2, 0)
    );
    assert_eq!(w.stored_notes().await, None);
    assert!(w.stored_comments().await.is_empty());
    let max = employee::Entity::find_by_id(w.max)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(max.email, MAX, "a leaver is kept two years");

    let later = pass(729).await.unwrap();
    assert_eq!(later.people_erased, 0);
    let two_years = pass(731).await.unwrap();
    assert_eq!(two_years.people_erased, 1, "Max, not Mia who stays");
    let max = employee::Entity::find_by_id(w.max)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(max.erased_at.is_some() && !max.email.contains("max"));
    let mia = employee::Entity::find_by_id(w.mia)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mia.email.as_str(), mia.erased_at), (MIA, None));
    let again = pass(800).await.unwrap();
    assert_eq!(
        (
            again.notes_erased,
            again.comments_erased,
            again.people_erased
        ),
        (0, 0, 0)
    );

    let after = w
        .app
        .query_ok(&analyst, METRICS, json!({ "p": w.programme }))
        .await;
    assert_eq!(after, before);
    let runs = entity::retention_run::Entity::find()
        .all(&w.app.db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 5, "each pass recorded");
}

/// Without keys, a start over a database holding sealed values refuses
/// (it could not read them) and says which setting is missing — on SQLite
/// too, when the key file is not there; a note that merely looks sealed,
/// written without keys, does not count.
async fn a_start_without_keys_refuses_once_sealed_values_exist(backend: Backend) {
    if matches!(backend, Backend::Postgres(_)) {
        // PostgreSQL without keys stores plain text: a participant cannot
        // make the next start refuse by writing a note that looks sealed.
        let plain = world(backend.clone(), &[]).await;
        plain
            .app
            .query_ok(
                &plain.mia_token,
                NOTES,
                json!({ "id": plain.session, "n": "sealed:v1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
            )
            .await;
        let keyring = tandem::startup::notes_keyring(&plain.app.config, &plain.app.db)
            .await
            .unwrap();
        assert!(!keyring.seals());
        let data = plain
            .app
            .query_ok(&plain.max_token, READ, json!({ "p": plain.pairing }))
            .await;
        assert_eq!(
            data["pairing"]["sessions"]["edges"][0]["node"]["privateNotes"],
            "sealed:v1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
    }

    let w = world(backend, &[("NOTES_ENCRYPTION_KEYS", K1)]).await;
    w.talk().await;
    let mut config = w.app.config.clone();
    config.privacy.notes_keys = None;
    let refused = tandem::startup::notes_keyring(&config, &w.app.db)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("NOTES_ENCRYPTION_KEYS is required"),
        "{refused}"
    );
}

both!(
    a_start_without_keys_refuses_once_sealed_values_exist,
    retention_erases_at_its_limits_and_keeps_every_figure,
    notes_are_sealed_in_the_database_and_read_by_the_pair,
    my_data_holds_the_callers_data_and_nobody_elses,
    erasure_leaves_nobody_to_find_and_every_figure_as_it_was,
    the_audit_log_is_for_admins_newest_first_and_filtered,
    a_note_under_an_unknown_key_reads_as_null,
);
