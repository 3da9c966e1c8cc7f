//! Assistants who manage an executive's mentoring agenda: what a delegate
//! can do (list the principal's ACTIVE pairings, read their common slots,
//! book, move and cancel sessions, manage the principal's unavailability),
//! what they never see (notes, feedback, goals, skills), and that a revoked
//! or absent delegation opens nothing.

use chrono::{Duration, DurationRound, Utc};
use entity::enums::{EmployeeStatus, PairingStatus, ProgrammeStatus, SessionStatus};
use entity::{audit_log, employee, goal, session_feedback};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
    insert_supervised_mentor,
};

const GRANT: &str = "mutation($d: UUID!, $p: UUID) { grantDelegation(delegateId: $d, principalId: $p) { id principal { displayName skills { level } } delegate { displayName } } }";
const REVOKE: &str = "mutation($id: UUID!) { revokeDelegation(id: $id) }";
const MINE: &str = "{ myDelegations { id principal { displayName } delegate { displayName } } }";
const PAIRINGS_OF: &str = "query($p: UUID!) { pairingsOf(principalId: $p) { id status score reasons { kind } mentorName menteeNames goals { description } sessions { edges { node { id privateNotes agenda feedback { comment } pairing { goals { description } } } } } nextCommonSlots(durationMinutes: 30) { startsAt } } }";
const SCHEDULE: &str = "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id status pairing { goals { description } } } }";
const RESCHEDULE: &str = "mutation($id: UUID!, $at: DateTime!) { rescheduleSession(id: $id, startsAt: $at) { status startsAt } }";
const CANCEL: &str = "mutation($id: UUID!) { cancelSession(id: $id) { status } }";
const NOTES: &str = "mutation($id: UUID!) { setSessionNotes(id: $id, notes: \"mine\") { id } }";
const ADD_GOAL: &str =
    "mutation($p: UUID!) { addGoal(pairingId: $p, description: \"Learn SEO\") { id } }";
const AWAY: &str = "mutation($s: DateTime!, $e: DateTime!, $b: UUID) { addUnavailability(startsAt: $s, endsAt: $e, reason: \"board\", onBehalfOf: $b) { id } }";
const BACK: &str =
    "mutation($id: UUID!, $b: UUID) { removeUnavailability(id: $id, onBehalfOf: $b) { id } }";

/// Eve (an executive, mentee) is paired with Mia; Ada is Eve's assistant;
/// Ned is another executive who delegated nothing; Bob is Ada's colleague.
struct World {
    app: TestApp,
    pairing: Uuid,
    ended: Uuid,
    eve: Uuid,
    ada: Uuid,
    bob: Uuid,
    ned: Uuid,
    eve_token: String,
    ada_token: String,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let db = &app.db;
    let mia = insert_employee(db, Person::new("Mia Mentor", 2)).await;
    let eve = insert_employee(db, Person::new("Eve Executive", 9)).await;
    let ada = insert_employee(db, Person::new("Ada Assistant", 3)).await;
    let bob = insert_employee(db, Person::new("Bob Colleague", 3)).await;
    let ned = insert_employee(db, Person::new("Ned Executive", 8)).await;
    let sam = insert_employee(db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(db, "Tandems", ProgrammeStatus::Active).await;
    insert_supervised_mentor(db, programme, mia, sam).await;
    let pairing = insert_pairing(db, programme, mia, &[eve], PairingStatus::Active).await;
    insert_pairing(db, programme, mia, &[ned], PairingStatus::Active).await;
    let ended = insert_pairing(db, programme, mia, &[eve], PairingStatus::Completed).await;
    insert_session(
        db,
        ended,
        Utc::now() - Duration::days(60),
        SessionStatus::Held,
        None,
    )
    .await;
    let held = insert_session(
        db,
        pairing,
        Utc::now() - Duration::days(2),
        SessionStatus::Held,
        Some("Eve's private notes"),
    )
    .await;
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(held),
        author_id: Set(eve),
        rating: Set(4),
        recommend: Set(Some(9)),
        comment: Set(Some("Eve's candid comment".into())),
        submitted_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    goal::ActiveModel {
        id: Set(Uuid::now_v7()),
        pairing_id: Set(pairing),
        skill_id: Set(None),
        description: Set("Eve's goal".into()),
        status: Set(entity::enums::GoalStatus::Open),
        due_on: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    World {
        eve_token: app.token(Some("eve.executive@corp.example"), &[]).await,
        ada_token: app.token(Some("ada.assistant@corp.example"), &[]).await,
        app,
        pairing,
        ended,
        eve,
        ada,
        bob,
        ned,
    }
}

fn at(hours_from_now: i64) -> String {
    (Utc::now().duration_trunc(Duration::hours(1)).unwrap() + Duration::hours(hours_from_now))
        .to_rfc3339()
}

fn booking(pairing: Uuid, principal: Uuid, hours_from_now: i64) -> Value {
    json!({ "input": { "pairingId": pairing, "startsAt": at(hours_from_now), "durationMinutes": 60, "mode": "VIDEO", "onBehalfOf": principal } })
}

async fn grant(w: &World) -> Value {
    w.app
        .query_ok(&w.eve_token, GRANT, json!({ "d": w.ada }))
        .await["grantDelegation"]
        .clone()
}

/// The audit entries of `action`, oldest first, as (details).
async fn audited(w: &World, action: &str) -> Vec<Value> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .order_by_asc(audit_log::Column::Id)
        .all(&w.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.details)
        .collect()
}

async fn a_delegate_manages_the_agenda_and_sees_nothing_said(backend: Backend) {
    let w = world(backend).await;
    let granted = grant(&w).await;
    assert_eq!(granted["principal"]["displayName"], "Eve Executive");
    assert_eq!(granted["delegate"]["displayName"], "Ada Assistant");
    for token in [&w.eve_token, &w.ada_token] {
        let mine = w.app.query_ok(token, MINE, json!({})).await;
        assert_eq!(mine["myDelegations"].as_array().unwrap().len(), 1, "{mine}");
    }
    let seen = w
        .app
        .query_ok(&w.ada_token, PAIRINGS_OF, json!({ "p": w.eve }))
        .await;
    let pairings = seen["pairingsOf"].as_array().unwrap();
    assert_eq!(pairings.len(), 1, "the ACTIVE pairing only: {seen}");
    let pairing = &pairings[0];
    assert_eq!(pairing["id"], w.pairing.to_string());
    assert_eq!(pairing["menteeNames"], json!(["Eve Executive"]));
    assert_eq!(
        pairing["mentorName"], "Mia Mentor",
        "whom the executive meets"
    );
    assert_eq!(pairing["score"], Value::Null);
    assert_eq!(pairing["reasons"], json!([]));
    assert_eq!(pairing["goals"], json!([]), "no goals");
    let session = &pairing["sessions"]["edges"][0]["node"];
    assert_eq!(session["privateNotes"], Value::Null, "no notes");
    assert_eq!(session["feedback"], json!([]), "no feedback");
    assert_eq!(
        session["pairing"]["goals"],
        json!([]),
        "not by another path either"
    );
    assert!(
        pairing["nextCommonSlots"].is_array(),
        "common slots are read"
    );
    let text = seen.to_string();
    for secret in ["Eve's private notes", "Eve's candid comment", "Eve's goal"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    let booked = w
        .app
        .query_ok(&w.ada_token, SCHEDULE, booking(w.pairing, w.eve, 48))
        .await;
    assert_eq!(booked["scheduleSession"]["status"], "SCHEDULED");
    assert_eq!(booked["scheduleSession"]["pairing"]["goals"], json!([]));
    let id = booked["scheduleSession"]["id"].clone();
    let moved = w
        .app
        .query_ok(&w.ada_token, RESCHEDULE, json!({ "id": id, "at": at(50) }))
        .await;
    assert_eq!(moved["rescheduleSession"]["status"], "SCHEDULED");
    assert_eq!(
        w.app
            .query_ok(&w.ada_token, CANCEL, json!({ "id": id }))
            .await["cancelSession"]["status"],
        "CANCELLED"
    );
    let away = json!({ "s": at(72), "e": at(75), "b": w.eve });
    let added = w.app.query_ok(&w.ada_token, AWAY, away).await;
    let removal = json!({ "id": added["addUnavailability"]["id"], "b": w.eve });
    w.app.query_ok(&w.ada_token, BACK, removal).await;
    for action in [
        "session.schedule",
        "session.reschedule",
        "session.cancel",
        "unavailability.add",
        "unavailability.remove",
    ] {
        let entries = audited(&w, action).await;
        assert_eq!(entries.len(), 1, "{action}");
        assert_eq!(entries[0]["principal"], w.eve.to_string(), "{action}");
        assert_eq!(entries[0]["delegate"], w.ada.to_string(), "{action}");
    }

    let held = &pairing["sessions"]["edges"][0]["node"]["id"];
    let (_, body) = w
        .app
        .graphql(&w.ada_token, NOTES, json!({ "id": held }))
        .await;
    assert!(
        body["errors"][0]["extensions"]["code"].is_string(),
        "no notes: {body}"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, ADD_GOAL, json!({ "p": w.pairing }))
            .await,
        "NOT_FOUND",
        "no goals"
    );
}

async fn nothing_opens_without_a_live_delegation(backend: Backend) {
    let w = world(backend).await;
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, PAIRINGS_OF, json!({ "p": w.eve }))
            .await,
        "NOT_FOUND",
        "not yet granted"
    );
    let granted = grant(&w).await;
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, SCHEDULE, booking(w.pairing, w.ned, 30))
            .await,
        "NOT_FOUND",
        "Ned delegated nothing"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, SCHEDULE, booking(w.ended, w.eve, 30))
            .await,
        "NOT_FOUND",
        "the principal's ended pairing is not the delegate's to know"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, PAIRINGS_OF, json!({ "p": w.ned }))
            .await,
        "NOT_FOUND"
    );
    // Not transitive: Ada passes it on to Bob, who gets nothing of Eve's.
    let ada_to_bob = json!({ "d": w.bob });
    w.app.query_ok(&w.ada_token, GRANT, ada_to_bob).await;
    let bob_token = w.app.token(Some("bob.colleague@corp.example"), &[]).await;
    assert_eq!(
        w.app
            .query_error_code(&bob_token, PAIRINGS_OF, json!({ "p": w.eve }))
            .await,
        "NOT_FOUND",
        "not transitive"
    );
    let revoked = w
        .app
        .query_ok(&w.eve_token, REVOKE, json!({ "id": granted["id"] }))
        .await;
    assert_eq!(revoked["revokeDelegation"], true);
    for (query, variables) in [
        (PAIRINGS_OF, json!({ "p": w.eve })),
        (SCHEDULE, booking(w.pairing, w.eve, 30)),
    ] {
        assert_eq!(
            w.app.query_error_code(&w.ada_token, query, variables).await,
            "NOT_FOUND",
            "revoked: stops at once"
        );
    }
    assert_eq!(audited(&w, "delegation.revoke").await.len(), 1);
}

async fn delegations_are_granted_to_active_others_only(backend: Backend) {
    let w = world(backend).await;
    for (delegate, why) in [(w.eve, "yourself")] {
        let (_, body) = w
            .app
            .graphql(&w.eve_token, GRANT, json!({ "d": delegate }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{why}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "delegateId",
            "{body}"
        );
    }
    employee::ActiveModel {
        id: Set(w.bob),
        status: Set(EmployeeStatus::Terminated),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    let (_, body) = w
        .app
        .graphql(&w.eve_token, GRANT, json!({ "d": w.bob }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "delegateId",
        "a leaver: {body}"
    );
    let ned_for_eve = json!({ "d": w.ned, "p": w.eve });
    assert_eq!(
        w.app
            .query_error_code(&w.ada_token, GRANT, ned_for_eve)
            .await,
        "FORBIDDEN",
        "only admins grant on someone's behalf"
    );
    let admin = w.app.token(None, &["admin"]).await;
    assert_eq!(
        w.app
            .query_error_code(&admin, GRANT, json!({ "d": w.eve, "p": w.eve }))
            .await,
        "BAD_USER_INPUT",
        "to the principal themself"
    );
    let data = w
        .app
        .query_ok(&admin, GRANT, json!({ "d": w.ada, "p": w.eve }))
        .await;
    assert_eq!(
        data["grantDelegation"]["principal"]["displayName"],
        "Eve Executive"
    );
    assert_eq!(audited(&w, "delegation.grant").await.len(), 1);
    let again = w
        .app
        .query_ok(&w.eve_token, GRANT, json!({ "d": w.ada }))
        .await;
    assert_eq!(
        again["grantDelegation"]["id"], data["grantDelegation"]["id"],
        "granting a live delegation again answers it"
    );
    assert_eq!(
        again["grantDelegation"]["principal"]["skills"],
        json!([]),
        "Eve sees her own (empty) profile"
    );
    // Naming someone one's delegate needs no consent: it opens nothing of theirs.
    let profile = "mutation($d: UUID!) { grantDelegation(delegateId: $d) { delegate { displayName seniorityLevel generation department { name } skills { level } } } }";
    let named = w
        .app
        .query_ok(&w.eve_token, profile, json!({ "d": w.ned }))
        .await;
    assert_eq!(
        named["grantDelegation"]["delegate"],
        json!({ "displayName": "Ned Executive", "seniorityLevel": null, "generation": "UNKNOWN", "department": null, "skills": [] })
    );
    let lookup = "query($id: UUID!) { employee(id: $id) { id } }";
    assert_eq!(
        w.app
            .query_error_code(&w.eve_token, lookup, json!({ "id": w.ned }))
            .await,
        "NOT_FOUND",
        "a delegate is not in the principal's scope"
    );
}

both!(
    a_delegate_manages_the_agenda_and_sees_nothing_said,
    nothing_opens_without_a_live_delegation,
    delegations_are_granted_to_active_others_only,
);
