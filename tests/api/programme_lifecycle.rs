//! `createProgramme` and `transitionProgramme`: the programme team's
//! lifecycle, its rules, and the audit trail.

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ProgrammeStatus, SessionMode, SessionStatus};
use entity::{audit_log, mentoring_session, pairing};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme};

const CREATE: &str = "mutation($input: CreateProgrammeInput!) { createProgramme(input: $input) { id name status format maxMenteesPerMentor sessionCadenceDays targetSessions requiresMentorTraining startsOn endsOn sponsor { displayName } } }";
const TRANSITION: &str = "mutation($id: UUID!, $to: ProgrammeStatus!) { transitionProgramme(id: $id, to: $to) { status } }";

async fn admins_create_draft_programmes_with_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ceo = insert_employee(&app.db, Person::new("Carla Ceo", 9)).await;
    let admin = app.token(None, &["admin"]).await;
    let input = json!({ "name": "ExCo tandems", "purpose": "Digital literacy for the ExCo", "format": "GROUP", "sponsorId": ceo, "startsOn": "2027-01-04", "endsOn": "2027-06-30" });
    let data = app
        .query_ok(&admin, CREATE, json!({ "input": input }))
        .await;
    let created = &data["createProgramme"];
    assert_eq!(created["status"], "DRAFT");
    assert_eq!(created["maxMenteesPerMentor"], 3);
    assert_eq!(created["sessionCadenceDays"], 14);
    assert_eq!(created["targetSessions"], 6);
    assert_eq!(created["requiresMentorTraining"], true);
    assert_eq!(created["startsOn"], "2027-01-04");
    assert_eq!(created["sponsor"]["displayName"], "Carla Ceo");
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "programme.create");
    assert_eq!(audit[0].actor, "svc-account");
    assert!(!audit[0].request_id.is_empty());
}

async fn invalid_input_names_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(None, &["admin"]).await;
    let cases = [
        (
            json!({ "name": " ", "purpose": "p", "format": "GROUP" }),
            "name",
        ),
        (
            json!({ "name": "n", "purpose": "p", "format": "ONE_TO_ONE", "maxMenteesPerMentor": 3 }),
            "maxMenteesPerMentor",
        ),
        (
            json!({ "name": "n", "purpose": "p", "format": "GROUP", "targetSessions": 0 }),
            "targetSessions",
        ),
        (
            json!({ "name": "n", "purpose": "p", "format": "GROUP", "startsOn": "2027-02-01", "endsOn": "2027-01-01" }),
            "endsOn",
        ),
        (
            json!({ "name": "n", "purpose": "p", "format": "GROUP", "sponsorId": Uuid::now_v7() }),
            "sponsorId",
        ),
    ];
    for (input, field) in cases {
        let (_, body) = app.graphql(&admin, CREATE, json!({ "input": input })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let (_, body) = app.graphql(&admin, CREATE, json!({ "input": { "name": "n", "purpose": "p", "format": "GROUP", "startsOn": "01/02/2027" } })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

async fn only_admins_create_and_transition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Eve Employee", 3)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Enrolling).await;
    let input = json!({ "input": { "name": "n", "purpose": "p", "format": "GROUP" } });
    for token in [
        app.token(Some("eve.employee@corp.example"), &[]).await,
        app.token(None, &["analyst"]).await,
        app.token(None, &["hris"]).await,
    ] {
        assert_eq!(
            app.query_error_code(&token, CREATE, input.clone()).await,
            "FORBIDDEN"
        );
        let code = app
            .query_error_code(
                &token,
                TRANSITION,
                json!({ "id": programme, "to": "MATCHING" }),
            )
            .await;
        assert_eq!(code, "FORBIDDEN");
    }
    let admin = app.token(None, &["admin"]).await;
    let code = app
        .query_error_code(
            &admin,
            TRANSITION,
            json!({ "id": Uuid::now_v7(), "to": "MATCHING" }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn the_lifecycle_runs_in_order_and_refuses_illegal_moves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ceo = insert_employee(&app.db, Person::new("Carla Ceo", 9)).await;
    let admin = app.token(None, &["admin"]).await;
    let create = |sponsor: Value| json!({ "input": { "name": "Tandems", "purpose": "Learn", "format": "ONE_TO_ONE", "sponsorId": sponsor } });
    let data = app.query_ok(&admin, CREATE, create(Value::Null)).await;
    let unsponsored = data["createProgramme"]["id"].clone();
    let (_, body) = app
        .graphql(
            &admin,
            TRANSITION,
            json!({ "id": unsponsored, "to": "ENROLLING" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sponsor"),
        "{body}"
    );
    let data = app.query_ok(&admin, CREATE, create(json!(ceo))).await;
    let id = data["createProgramme"]["id"].clone();
    let (_, body) = app
        .graphql(&admin, TRANSITION, json!({ "id": id, "to": "ACTIVE" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DRAFT"),
        "names the current state: {body}"
    );
    for to in [
        "ENROLLING",
        "MATCHING",
        "ACTIVE",
        "ENROLLING",
        "MATCHING",
        "ACTIVE",
        "CLOSED",
    ] {
        let data = app
            .query_ok(&admin, TRANSITION, json!({ "id": id, "to": to }))
            .await;
        assert_eq!(data["transitionProgramme"]["status"], to);
    }
    let (_, body) = app
        .graphql(&admin, TRANSITION, json!({ "id": id, "to": "ACTIVE" }))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("CLOSED"),
        "{body}"
    );
    let id: Uuid = id.as_str().unwrap().parse().unwrap();
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(id))
        .filter(audit_log::Column::Action.eq("programme.transition"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        audit.len(),
        7,
        "one record per move, none for refused moves"
    );
}

async fn closing_completes_pairings_and_cancels_future_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mentor = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let mentee = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let active = insert_pairing(&app.db, programme, mentor, &[mentee], PairingStatus::Active).await;
    let declined = insert_pairing(
        &app.db,
        programme,
        mentor,
        &[mentee],
        PairingStatus::Declined,
    )
    .await;
    let now = Utc::now();
    let session =
        |starts: chrono::DateTime<Utc>, status: SessionStatus| mentoring_session::ActiveModel {
            id: Set(Uuid::now_v7()),
            pairing_id: Set(active),
            starts_at: Set(starts),
            ends_at: Set(starts + Duration::hours(1)),
            mode: Set(SessionMode::Video),
            status: Set(status),
            agenda: Set(None),
            private_notes: Set(None),
            cancel_reason: Set(None),
            sequence: Set(0),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
    let held = session(now - Duration::days(7), SessionStatus::Held)
        .insert(&app.db)
        .await
        .unwrap()
        .id;
    let future = session(now + Duration::days(7), SessionStatus::Scheduled)
        .insert(&app.db)
        .await
        .unwrap()
        .id;
    let admin = app.token(None, &["admin"]).await;
    app.query_ok(
        &admin,
        TRANSITION,
        json!({ "id": programme, "to": "CLOSED" }),
    )
    .await;
    let pairing_status = |id| pairing::Entity::find_by_id(id).one(&app.db);
    assert_eq!(
        pairing_status(active).await.unwrap().unwrap().status,
        PairingStatus::Completed
    );
    assert_eq!(
        pairing_status(declined).await.unwrap().unwrap().status,
        PairingStatus::Declined
    );
    let session_status = |id| mentoring_session::Entity::find_by_id(id).one(&app.db);
    assert_eq!(
        session_status(held).await.unwrap().unwrap().status,
        SessionStatus::Held
    );
    assert_eq!(
        session_status(future).await.unwrap().unwrap().status,
        SessionStatus::Cancelled
    );
}

both!(
    admins_create_draft_programmes_with_defaults,
    invalid_input_names_the_field,
    only_admins_create_and_transition,
    the_lifecycle_runs_in_order_and_refuses_illegal_moves,
    closing_completes_pairings_and_cancels_future_sessions,
);
