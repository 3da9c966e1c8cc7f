//! Pairings by hand, their decisions and ends, who sees them, and goals.

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus};
use entity::{audit_log, mentoring_session, pairing, programme};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};

const CREATE: &str = "mutation($p: UUID!, $m: UUID!, $ms: [UUID!]!) { createPairing(programmeId: $p, mentorId: $m, menteeIds: $ms) { id status score reasons { kind } mentor { displayName } mentees { displayName } programme { name } } }";
const DECIDE: &str =
    "mutation($id: UUID!, $a: Boolean!) { decidePairing(id: $id, accept: $a) { status } }";
const END: &str = "mutation($id: UUID!, $r: String!, $c: Boolean!) { endPairing(id: $id, reason: $r, completed: $c) { status } }";

/// Eve (8) manages Dan (4) who manages Mia (2, the mentor, supervised by
/// Sam). Max (7) and Ned (6) are seniors elsewhere; Zed (1) is junior.
struct World {
    app: TestApp,
    programme: Uuid,
    mia: Uuid,
    max: Uuid,
    ned: Uuid,
    dan: Uuid,
    eve: Uuid,
    zed: Uuid,
    sam: Uuid,
    admin: String,
}

async fn world(backend: Backend, status: ProgrammeStatus) -> World {
    let app = TestApp::spawn(backend).await;
    let db = &app.db;
    let eve = insert_employee(db, Person::new("Eve Exec", 8)).await;
    let mut dan = Person::new("Dan Manager", 4);
    dan.manager = Some(eve);
    let dan = insert_employee(db, dan).await;
    let mut mia = Person::new("Mia Mentor", 2);
    mia.manager = Some(dan);
    let mia = insert_employee(db, mia).await;
    let max = insert_employee(db, Person::new("Max Mentee", 7)).await;
    let ned = insert_employee(db, Person::new("Ned Senior", 6)).await;
    let zed = insert_employee(db, Person::new("Zed Intern", 1)).await;
    let sam = insert_employee(db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(db, "Tandems", status).await;
    insert_approved(db, programme, mia, ParticipantRole::Mentor, 2, Some(sam)).await;
    for mentee in [max, ned, dan, eve, zed] {
        insert_approved(db, programme, mentee, ParticipantRole::Mentee, 1, None).await;
    }
    let admin = app.token(None, &["admin"]).await;
    World {
        app,
        programme,
        mia,
        max,
        ned,
        dan,
        eve,
        zed,
        sam,
        admin,
    }
}

async fn code_of(w: &World, mentor: Uuid, mentees: &[Uuid]) -> (String, String) {
    let (_, body) = w
        .app
        .graphql(
            &w.admin,
            CREATE,
            json!({ "p": w.programme, "m": mentor, "ms": mentees }),
        )
        .await;
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        error["extensions"]["field"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

async fn admins_pair_a_mentor_with_mentees(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Matching).await;
    let data = w
        .app
        .query_ok(
            &w.admin,
            CREATE,
            json!({ "p": w.programme, "m": w.mia, "ms": [w.max, w.ned] }),
        )
        .await;
    let pairing = &data["createPairing"];
    assert_eq!(pairing["status"], "ACTIVE");
    assert_eq!(pairing["score"], Value::Null, "made by hand");
    assert_eq!(pairing["reasons"], json!([]));
    assert_eq!(pairing["mentor"]["displayName"], "Mia Mentor");
    let mut mentees: Vec<&str> = pairing["mentees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["displayName"].as_str().unwrap())
        .collect();
    mentees.sort();
    assert_eq!(mentees, ["Max Mentee", "Ned Senior"]);
    let id: Uuid = pairing["id"].as_str().unwrap().parse().unwrap();
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(id))
        .all(&w.app.db)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "pairing.create");
}

async fn the_reverse_mentoring_rules_hold(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Active).await;
    assert_eq!(
        code_of(&w, w.mia, &[w.zed]).await.0,
        "CONFLICT",
        "mentee junior to the mentor"
    );
    assert_eq!(
        code_of(&w, w.mia, &[w.dan]).await.0,
        "CONFLICT",
        "the mentor's manager"
    );
    assert_eq!(
        code_of(&w, w.mia, &[w.eve]).await.0,
        "CONFLICT",
        "the manager's manager"
    );
    assert_eq!(
        code_of(&w, w.mia, &[]).await,
        ("BAD_USER_INPUT".into(), "menteeIds".into())
    );
    assert_eq!(
        code_of(&w, w.mia, &[w.mia]).await,
        ("BAD_USER_INPUT".into(), "menteeIds".into())
    );
    let stranger = insert_employee(&w.app.db, Person::new("Una Unenrolled", 9)).await;
    assert_eq!(
        code_of(&w, w.mia, &[stranger]).await.0,
        "CONFLICT",
        "no approved enrolment"
    );
    assert_eq!(
        code_of(&w, w.max, &[w.ned]).await.0,
        "CONFLICT",
        "not an approved mentor"
    );
    let employee = w.app.token(Some("mia.mentor@corp.example"), &[]).await;
    let vars = json!({ "p": w.programme, "m": w.mia, "ms": [w.max] });
    assert_eq!(
        w.app.query_error_code(&employee, CREATE, vars).await,
        "FORBIDDEN"
    );
}

async fn capacity_and_single_places_are_respected(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Matching).await;
    let other = insert_employee(&w.app.db, Person::new("Olga Other", 3)).await;
    insert_approved(
        &w.app.db,
        w.programme,
        other,
        ParticipantRole::Mentor,
        3,
        Some(w.sam),
    )
    .await;
    w.app
        .query_ok(
            &w.admin,
            CREATE,
            json!({ "p": w.programme, "m": w.mia, "ms": [w.max] }),
        )
        .await;
    assert_eq!(
        code_of(&w, other, &[w.max]).await.0,
        "CONFLICT",
        "Max already has a live pairing"
    );
    w.app
        .query_ok(
            &w.admin,
            CREATE,
            json!({ "p": w.programme, "m": w.mia, "ms": [w.ned] }),
        )
        .await;
    let extra = insert_employee(&w.app.db, Person::new("Xavier Exec", 9)).await;
    insert_approved(
        &w.app.db,
        w.programme,
        extra,
        ParticipantRole::Mentee,
        1,
        None,
    )
    .await;
    assert_eq!(
        code_of(&w, w.mia, &[extra]).await.0,
        "CONFLICT",
        "Mia's capacity is 2"
    );
}

async fn untrained_mentors_and_the_format_are_enforced(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Matching).await;
    let rookie = insert_employee(&w.app.db, Person::new("Rita Rookie", 2)).await;
    insert_approved(
        &w.app.db,
        w.programme,
        rookie,
        ParticipantRole::Mentor,
        2,
        None,
    )
    .await;
    assert_eq!(
        code_of(&w, rookie, &[w.max]).await.0,
        "CONFLICT",
        "no training, no supervisor"
    );
    programme::ActiveModel {
        id: Set(w.programme),
        requires_mentor_training: Set(false),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    assert_eq!(
        code_of(&w, rookie, &[w.max]).await.0,
        "none",
        "training not required"
    );
    let one_to_one = insert_programme(&w.app.db, "Duo", ProgrammeStatus::Matching).await;
    programme::ActiveModel {
        id: Set(one_to_one),
        format: Set(entity::enums::ProgrammeFormat::OneToOne),
        max_mentees_per_mentor: Set(1),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    let (_, body) = w
        .app
        .graphql(
            &w.admin,
            CREATE,
            json!({ "p": one_to_one, "m": w.mia, "ms": [w.max, w.ned] }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "menteeIds",
        "{body}"
    );
    let enrolling = insert_programme(&w.app.db, "Later", ProgrammeStatus::Enrolling).await;
    let (_, body) = w
        .app
        .graphql(
            &w.admin,
            CREATE,
            json!({ "p": enrolling, "m": w.mia, "ms": [w.max] }),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ENROLLING"),
        "{body}"
    );
}

async fn proposals_are_decided_once_and_pairings_end_with_a_reason(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Active).await;
    let proposed = insert_pairing(
        &w.app.db,
        w.programme,
        w.mia,
        &[w.max],
        PairingStatus::Proposed,
    )
    .await;
    let declined = insert_pairing(
        &w.app.db,
        w.programme,
        w.mia,
        &[w.ned],
        PairingStatus::Proposed,
    )
    .await;
    let data = w
        .app
        .query_ok(&w.admin, DECIDE, json!({ "id": proposed, "a": true }))
        .await;
    assert_eq!(data["decidePairing"]["status"], "ACTIVE");
    let (_, body) = w
        .app
        .graphql(&w.admin, DECIDE, json!({ "id": proposed, "a": false }))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ACTIVE"),
        "{body}"
    );
    let data = w
        .app
        .query_ok(&w.admin, DECIDE, json!({ "id": declined, "a": false }))
        .await;
    assert_eq!(data["decidePairing"]["status"], "DECLINED");
    let now = Utc::now();
    let future = insert_session(
        &w.app.db,
        proposed,
        now + Duration::days(2),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let (_, body) = w
        .app
        .graphql(
            &w.admin,
            END,
            json!({ "id": proposed, "r": "  ", "c": true }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "reason", "{body}");
    let data = w
        .app
        .query_ok(
            &w.admin,
            END,
            json!({ "id": proposed, "r": "Goals reached", "c": true }),
        )
        .await;
    assert_eq!(data["endPairing"]["status"], "COMPLETED");
    let session = mentoring_session::Entity::find_by_id(future)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, SessionStatus::Cancelled);
    let code = w
        .app
        .query_error_code(
            &w.admin,
            END,
            json!({ "id": proposed, "r": "again", "c": false }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}

async fn pairings_are_seen_by_participants_supervisors_and_admins(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Active).await;
    let id = insert_pairing(
        &w.app.db,
        w.programme,
        w.mia,
        &[w.max],
        PairingStatus::Active,
    )
    .await;
    let query = "query($id: UUID!) { pairing(id: $id) { mentor { displayName } mentees { displayName } menteeNames } }";
    for email in ["mia.mentor@corp.example", "max.mentee@corp.example"] {
        let token = w.app.token(Some(email), &[]).await;
        let data = w.app.query_ok(&token, query, json!({ "id": id })).await;
        assert_eq!(
            data["pairing"]["mentees"][0]["displayName"], "Max Mentee",
            "{email}"
        );
    }
    // The mentor's supervisor knows who the mentees are, nothing more.
    let sam = w.app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let data = w.app.query_ok(&sam, query, json!({ "id": id })).await;
    assert_eq!(data["pairing"]["mentor"]["displayName"], "Mia Mentor");
    assert_eq!(data["pairing"]["mentees"], json!([]));
    assert_eq!(data["pairing"]["menteeNames"], json!(["Max Mentee"]));
    // Nor why the matcher paired them: the reasons quote the mentees.
    pairing::ActiveModel {
        id: Set(id),
        score: Set(Some(0.8)),
        reasons: Set(
            json!([{ "kind": "SKILL_COVERAGE", "detail": "Max wants SEO", "weight": 0.4 }]),
        ),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    let why = "query($id: UUID!) { pairing(id: $id) { score reasons { detail } } }";
    let data = w.app.query_ok(&sam, why, json!({ "id": id })).await;
    assert_eq!(data["pairing"], json!({ "score": null, "reasons": [] }));
    let max = w.app.token(Some("max.mentee@corp.example"), &[]).await;
    let data = w.app.query_ok(&max, why, json!({ "id": id })).await;
    assert_eq!(data["pairing"]["reasons"][0]["detail"], "Max wants SEO");
    let data = w.app.query_ok(&w.admin, why, json!({ "id": id })).await;
    assert_eq!(data["pairing"]["score"], 0.8);
    w.app.query_ok(&w.admin, query, json!({ "id": id })).await;
    let ned = w.app.token(Some("ned.senior@corp.example"), &[]).await;
    assert_eq!(
        w.app
            .query_error_code(&ned, query, json!({ "id": id }))
            .await,
        "NOT_FOUND"
    );
    let analyst = w.app.token(None, &["analyst"]).await;
    assert_eq!(
        w.app
            .query_error_code(&analyst, query, json!({ "id": id }))
            .await,
        "FORBIDDEN"
    );
    let mine = "query($s: PairingStatus) { myPairings(status: $s) { id } }";
    let max = w.app.token(Some("max.mentee@corp.example"), &[]).await;
    assert_eq!(
        w.app.query_ok(&max, mine, json!({})).await["myPairings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        w.app
            .query_ok(&max, mine, json!({ "s": "COMPLETED" }))
            .await["myPairings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let list = "query($p: UUID!) { programme(id: $p) { pairings { edges { node { id } } } } }";
    let count = |data: Value| {
        data["programme"]["pairings"]["edges"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        count(
            w.app
                .query_ok(&w.admin, list, json!({ "p": w.programme }))
                .await
        ),
        1
    );
    assert_eq!(
        count(
            w.app
                .query_ok(&ned, list, json!({ "p": w.programme }))
                .await
        ),
        0
    );
}

async fn participants_set_goals(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Active).await;
    let id = insert_pairing(
        &w.app.db,
        w.programme,
        w.mia,
        &[w.max],
        PairingStatus::Active,
    )
    .await;
    let add = "mutation($p: UUID!, $d: String!, $s: UUID) { addGoal(pairingId: $p, description: $d, skillId: $s, dueOn: \"2027-03-01\") { id status dueOn skill { slug } } }";
    let max = w.app.token(Some("max.mentee@corp.example"), &[]).await;
    let skills = w
        .app
        .query_ok(&max, "{ skills { id slug } }", json!({}))
        .await;
    let seo = skills["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "seo")
        .unwrap()["id"]
        .clone();
    let data = w
        .app
        .query_ok(
            &max,
            add,
            json!({ "p": id, "d": "Rank our team page", "s": seo }),
        )
        .await;
    assert_eq!(data["addGoal"]["status"], "OPEN");
    assert_eq!(data["addGoal"]["skill"]["slug"], "seo");
    let goal = data["addGoal"]["id"].clone();
    let (_, body) = w
        .app
        .graphql(&max, add, json!({ "p": id, "d": "", "s": Value::Null }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "description");
    let ned = w.app.token(Some("ned.senior@corp.example"), &[]).await;
    assert_eq!(
        w.app
            .query_error_code(&ned, add, json!({ "p": id, "d": "x", "s": Value::Null }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        w.app
            .query_error_code(
                &w.admin,
                add,
                json!({ "p": id, "d": "x", "s": Value::Null })
            )
            .await,
        "NOT_FOUND"
    );
    let set = "mutation($id: UUID!) { setGoalStatus(id: $id, status: ACHIEVED) { status } }";
    let mia = w.app.token(Some("mia.mentor@corp.example"), &[]).await;
    assert_eq!(
        w.app.query_ok(&mia, set, json!({ "id": goal })).await["setGoalStatus"]["status"],
        "ACHIEVED"
    );
    assert_eq!(
        w.app
            .query_error_code(&ned, set, json!({ "id": goal }))
            .await,
        "NOT_FOUND"
    );
    let goals = w
        .app
        .query_ok(
            &max,
            "query($id: UUID!) { pairing(id: $id) { goals { description status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(goals["pairing"]["goals"][0]["status"], "ACHIEVED");
}

const PAUSE: &str = "mutation($id: UUID!, $r: String) { pausePairing(id: $id, reason: $r) { status pausedAt pauseReason } }";
const RESUME: &str =
    "mutation($id: UUID!) { resumePairing(id: $id) { status pausedAt pauseReason } }";
const BOOK: &str =
    "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { status } }";

async fn participants_pause_and_resume_a_pairing(backend: Backend) {
    let w = world(backend, ProgrammeStatus::Active).await;
    let pairing = insert_pairing(
        &w.app.db,
        w.programme,
        w.mia,
        &[w.max],
        PairingStatus::Active,
    )
    .await;
    let now = Utc::now();
    let future = insert_session(
        &w.app.db,
        pairing,
        now + Duration::days(3),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let past = insert_session(
        &w.app.db,
        pairing,
        now - Duration::days(3),
        SessionStatus::Held,
        None,
    )
    .await;
    let max = w.app.token(Some("max.mentee@corp.example"), &[]).await;
    let mia = w.app.token(Some("mia.mentor@corp.example"), &[]).await;
    let sam = w.app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let ned = w.app.token(Some("ned.senior@corp.example"), &[]).await;
    assert_eq!(
        w.app
            .query_error_code(&ned, PAUSE, json!({ "id": pairing }))
            .await,
        "NOT_FOUND",
        "not a participant"
    );
    let paused = w
        .app
        .query_ok(
            &max,
            PAUSE,
            json!({ "id": pairing, "r": "  Travelling until March " }),
        )
        .await;
    assert_eq!(paused["pausePairing"]["status"], "PAUSED");
    assert_eq!(
        paused["pausePairing"]["pauseReason"],
        "Travelling until March"
    );
    assert!(paused["pausePairing"]["pausedAt"].is_string());
    let status_of = |id: Uuid| {
        let db = w.app.db.clone();
        async move {
            mentoring_session::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .status
        }
    };
    assert_eq!(
        status_of(future).await,
        SessionStatus::Cancelled,
        "its future is cancelled"
    );
    assert_eq!(
        status_of(past).await,
        SessionStatus::Held,
        "its history is kept"
    );
    let booking = json!({ "input": { "pairingId": pairing, "startsAt": (now + Duration::days(5)).to_rfc3339(), "durationMinutes": 60, "mode": "VIDEO" } });
    assert_eq!(
        w.app.query_error_code(&mia, BOOK, booking.clone()).await,
        "CONFLICT",
        "a paused pairing takes no new session"
    );
    let (_, body) = w.app.graphql(&mia, PAUSE, json!({ "id": pairing })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PAUSED"),
        "{body}"
    );
    let seen = w
        .app
        .query_ok(
            &sam,
            "query($id: UUID!) { pairing(id: $id) { status pauseReason } }",
            json!({ "id": pairing }),
        )
        .await;
    assert_eq!(
        seen["pairing"]["status"], "PAUSED",
        "the supervisor sees the state"
    );
    assert_eq!(
        seen["pairing"]["pauseReason"],
        Value::Null,
        "not the participant's words"
    );
    let resumed = w
        .app
        .query_ok(&w.admin, RESUME, json!({ "id": pairing }))
        .await;
    assert_eq!(
        resumed["resumePairing"],
        json!({ "status": "ACTIVE", "pausedAt": null, "pauseReason": null })
    );
    assert_eq!(
        w.app.query_ok(&mia, BOOK, booking).await["scheduleSession"]["status"],
        "SCHEDULED"
    );
    assert_eq!(
        w.app
            .query_error_code(&mia, RESUME, json!({ "id": pairing }))
            .await,
        "CONFLICT",
        "only a PAUSED pairing resumes"
    );
    let long = "x".repeat(1001);
    let (_, body) = w
        .app
        .graphql(&mia, PAUSE, json!({ "id": pairing, "r": long }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "reason", "{body}");
    let actions: Vec<String> = audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(pairing))
        .all(&w.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, ["pairing.pause", "pairing.resume"]);
}

both!(
    admins_pair_a_mentor_with_mentees,
    the_reverse_mentoring_rules_hold,
    capacity_and_single_places_are_respected,
    untrained_mentors_and_the_format_are_enforced,
    proposals_are_decided_once_and_pairings_end_with_a_reason,
    pairings_are_seen_by_participants_supervisors_and_admins,
    participants_set_goals,
    participants_pause_and_resume_a_pairing,
);
