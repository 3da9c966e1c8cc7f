//! `Pairing.health`, `lastSessionAt`, `nextSession` and
//! `pairingsNeedingAttention`: one rule against the programme's cadence
//! (14 days here), read in batches.

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus};
use entity::{pairing, session_feedback};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};

const HEALTH: &str =
    "query($id: UUID!) { pairing(id: $id) { health lastSessionAt nextSession { id } } }";
const ATTENTION: &str = "query($p: UUID!, $first: Int, $after: String) { pairingsNeedingAttention(programmeId: $p, first: $first, after: $after) { edges { node { id health } } pageInfo { hasNextPage endCursor } } }";

/// An ACTIVE pairing of `mentor` with a new mentee, in that state since `days_ago`.
async fn pairing_since(
    app: &TestApp,
    programme: Uuid,
    mentor: Uuid,
    name: &str,
    days_ago: i64,
    status: PairingStatus,
) -> Uuid {
    let mentee = insert_employee(&app.db, Person::new(name, 8)).await;
    let id = insert_pairing(&app.db, programme, mentor, &[mentee], status).await;
    pairing::ActiveModel {
        id: Set(id),
        updated_at: Set(Utc::now() - Duration::days(days_ago)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    id
}

async fn health_follows_the_cadence_and_needs_attention_lists_the_quiet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db = &app.db;
    let mia = insert_employee(db, Person::new("Mia Mentor", 2)).await;
    let olga = insert_employee(db, Person::new("Olga Other", 2)).await;
    let sam = insert_employee(db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(db, "Tandems", ProgrammeStatus::Active).await;
    insert_approved(db, programme, mia, ParticipantRole::Mentor, 3, Some(sam)).await;
    insert_approved(db, programme, olga, ParticipantRole::Mentor, 3, None).await;
    let now = Utc::now();
    let new = pairing_since(&app, programme, mia, "New Pair", 1, PairingStatus::Active).await;
    let met = pairing_since(
        &app,
        programme,
        mia,
        "Met Lately",
        60,
        PairingStatus::Active,
    )
    .await;
    insert_session(db, met, now - Duration::days(5), SessionStatus::Held, None).await;
    let quiet = pairing_since(
        &app,
        programme,
        mia,
        "Quiet Pair",
        60,
        PairingStatus::Active,
    )
    .await;
    insert_session(
        db,
        quiet,
        now - Duration::days(20),
        SessionStatus::Held,
        None,
    )
    .await;
    let silent = pairing_since(
        &app,
        programme,
        olga,
        "Silent Pair",
        60,
        PairingStatus::Active,
    )
    .await;
    let unhappy = pairing_since(
        &app,
        programme,
        mia,
        "Unhappy Pair",
        60,
        PairingStatus::Active,
    )
    .await;
    let rated = insert_session(
        db,
        unhappy,
        now - Duration::days(3),
        SessionStatus::Held,
        None,
    )
    .await;
    let booked = pairing_since(
        &app,
        programme,
        olga,
        "Booked Pair",
        60,
        PairingStatus::Active,
    )
    .await;
    let next = insert_session(
        db,
        booked,
        now + Duration::days(3),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    insert_session(
        db,
        booked,
        now + Duration::days(9),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let paused = pairing_since(
        &app,
        programme,
        mia,
        "Paused Pair",
        60,
        PairingStatus::Paused,
    )
    .await;
    let mentee_of_unhappy = insert_employee(db, Person::new("Rater Person", 8)).await;
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(rated),
        author_id: Set(mentee_of_unhappy),
        rating: Set(1),
        recommend: Set(None),
        comment: Set(None),
        submitted_at: Set(now - Duration::days(2)),
    }
    .insert(db)
    .await
    .unwrap();

    let admin = app.token(None, &["admin"]).await;
    let health_of = |id: Uuid| {
        let (app, admin) = (&app, admin.clone());
        async move { app.query_ok(&admin, HEALTH, json!({ "id": id })).await["pairing"].clone() }
    };
    let cases = [
        (new, "TOO_EARLY"),
        (met, "ON_TRACK"),
        (quiet, "NEEDS_CHECK_IN"),
        (silent, "AT_RISK"),
        (unhappy, "AT_RISK"),
        (booked, "ON_TRACK"),
        (paused, "ON_TRACK"),
    ];
    for (id, expected) in cases {
        assert_eq!(health_of(id).await["health"], expected, "{id}");
    }
    let mia_token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let as_participant = app
        .query_ok(&mia_token, HEALTH, json!({ "id": unhappy }))
        .await;
    assert_eq!(
        as_participant["pairing"]["health"], "ON_TRACK",
        "a rating is feedback: participants see the cadence only"
    );
    let sam_token = app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let as_supervisor = app
        .query_ok(&sam_token, HEALTH, json!({ "id": unhappy }))
        .await;
    assert_eq!(
        as_supervisor["pairing"]["health"], "AT_RISK",
        "the supervisor is told"
    );
    let met_health = health_of(met).await;
    let last: chrono::DateTime<Utc> = met_health["lastSessionAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (last - (now - Duration::days(5))).num_seconds().abs() < 2,
        "{met_health}"
    );
    assert_eq!(met_health["nextSession"], Value::Null);
    assert_eq!(
        health_of(booked).await["nextSession"]["id"],
        next.to_string(),
        "the soonest"
    );
    assert_eq!(health_of(new).await["lastSessionAt"], Value::Null);

    let ids = |data: &Value| -> Vec<String> {
        data["pairingsNeedingAttention"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut flagged = vec![quiet.to_string(), silent.to_string(), unhappy.to_string()];
    flagged.sort();
    let all = app
        .query_ok(&admin, ATTENTION, json!({ "p": programme }))
        .await;
    assert_eq!(ids(&all), flagged, "{all}");
    let first = app
        .query_ok(&admin, ATTENTION, json!({ "p": programme, "first": 2 }))
        .await;
    assert_eq!(ids(&first), flagged[..2]);
    assert_eq!(
        first["pairingsNeedingAttention"]["pageInfo"]["hasNextPage"],
        true
    );
    let cursor = first["pairingsNeedingAttention"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .query_ok(
            &admin,
            ATTENTION,
            json!({ "p": programme, "first": 2, "after": cursor }),
        )
        .await;
    assert_eq!(ids(&rest), flagged[2..]);

    let supervisor = app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let theirs = app
        .query_ok(&supervisor, ATTENTION, json!({ "p": programme }))
        .await;
    let mut mias = vec![quiet.to_string(), unhappy.to_string()];
    mias.sort();
    assert_eq!(ids(&theirs), mias, "Sam supervises Mia, not Olga");
    let stranger = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let none = app
        .query_ok(&stranger, ATTENTION, json!({ "p": programme }))
        .await;
    assert_eq!(
        ids(&none),
        Vec::<String>::new(),
        "a mentor supervises nobody"
    );
    let analyst = app.token(None, &["analyst"]).await;
    assert_eq!(
        app.query_error_code(&analyst, ATTENTION, json!({ "p": programme }))
            .await,
        "FORBIDDEN"
    );
}

both!(health_follows_the_cadence_and_needs_attention_lists_the_quiet);
