//! Sessions: scheduling without double booking, holding, cancelling,
//! private notes, and feedback.

use chrono::{Duration, DurationRound, Utc};
use entity::enums::{PairingStatus, ProgrammeStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme,
    insert_supervised_mentor,
};

const SCHEDULE: &str = "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id status startsAt endsAt mode topics { slug } agenda } }";
const HELD: &str = "mutation($id: UUID!) { markSessionHeld(id: $id) { status } }";
const CANCEL: &str = "mutation($id: UUID!) { cancelSession(id: $id, reason: \"sick\") { status } }";
const NOTES: &str =
    "mutation($id: UUID!, $n: String!) { setSessionNotes(id: $id, notes: $n) { privateNotes } }";
const FEEDBACK: &str = "mutation($input: FeedbackInput!) { submitFeedback(input: $input) { rating recommend comment author { displayName } } }";
const READ: &str = "query($p: UUID!) { pairing(id: $p) { sessions { edges { node { id privateNotes feedback { rating comment } } } } } }";

/// Mia mentors Max; Ned mentors Max's peer Kim in another pairing with Max
/// too (so Max can be double-booked); Sam supervises Mia.
struct World {
    app: TestApp,
    pairing: Uuid,
    other_pairing: Uuid,
    mia: String,
    max: String,
    ned: String,
    sam: String,
    admin: String,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let mia_id = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let max_id = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let ned_id = insert_employee(&app.db, Person::new("Ned Other", 3)).await;
    let sam_id = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let pairing =
        insert_pairing(&app.db, programme, mia_id, &[max_id], PairingStatus::Active).await;
    let other_pairing =
        insert_pairing(&app.db, programme, ned_id, &[max_id], PairingStatus::Active).await;
    insert_supervised_mentor(&app.db, programme, mia_id, sam_id).await;
    World {
        mia: app.token(Some("mia.mentor@corp.example"), &[]).await,
        max: app.token(Some("max.mentee@corp.example"), &[]).await,
        ned: app.token(Some("ned.other@corp.example"), &[]).await,
        sam: app.token(Some("sam.supervisor@corp.example"), &[]).await,
        admin: app.token(None, &["admin"]).await,
        app,
        pairing,
        other_pairing,
    }
}

fn at(hours_from_now: i64) -> String {
    (Utc::now().duration_trunc(Duration::hours(1)).unwrap() + Duration::hours(hours_from_now))
        .to_rfc3339()
}

fn input(pairing: Uuid, starts_at: &str, minutes: i32) -> Value {
    json!({ "input": { "pairingId": pairing, "startsAt": starts_at, "durationMinutes": minutes, "mode": "VIDEO" } })
}

async fn schedule(w: &World, token: &str, pairing: Uuid, starts_at: &str, minutes: i32) -> Value {
    w.app
        .query_ok(token, SCHEDULE, input(pairing, starts_at, minutes))
        .await["scheduleSession"]
        .clone()
}

async fn participants_schedule_sessions_within_the_rules(backend: Backend) {
    let w = world(backend).await;
    let mut request = input(w.pairing, &at(48), 60);
    request["input"]["agenda"] = json!("LinkedIn basics");
    let skills = w
        .app
        .query_ok(&w.mia, "{ skills { id slug } }", json!({}))
        .await;
    request["input"]["topicSkillIds"] =
        json!([skills["skills"][0]["id"], skills["skills"][0]["id"]]);
    let data = w.app.query_ok(&w.mia, SCHEDULE, request).await;
    let session = &data["scheduleSession"];
    assert_eq!(session["status"], "SCHEDULED");
    assert_eq!(session["topics"].as_array().unwrap().len(), 1);
    let starts: chrono::DateTime<Utc> = session["startsAt"].as_str().unwrap().parse().unwrap();
    let ends: chrono::DateTime<Utc> = session["endsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(ends - starts, Duration::minutes(60));
    for (minutes, field) in [(10, "durationMinutes"), (241, "durationMinutes")] {
        let (_, body) = w
            .app
            .graphql(&w.mia, SCHEDULE, input(w.pairing, &at(72), minutes))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let (_, body) = w
        .app
        .graphql(&w.mia, SCHEDULE, input(w.pairing, &at(-24 * 31), 60))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "startsAt",
        "{body}"
    );
    schedule(&w, &w.max, w.pairing, &at(-24 * 29), 60).await;
    assert_eq!(
        w.app
            .query_error_code(&w.ned, SCHEDULE, input(w.pairing, &at(96), 60))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.admin, SCHEDULE, input(w.pairing, &at(96), 60))
            .await,
        "NOT_FOUND"
    );
}

async fn nobody_is_double_booked(backend: Backend) {
    let w = world(backend).await;
    schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
    let (_, body) = w
        .app
        .graphql(&w.ned, SCHEDULE, input(w.other_pairing, &at(24), 30))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "Max is busy: {body}"
    );
    schedule(&w, &w.ned, w.other_pairing, &at(25), 30).await;
}

async fn concurrent_bookings_of_one_slot_leave_exactly_one(backend: Backend) {
    let w = world(backend).await;
    let requests = (0..10)
        .map(|n| {
            let (token, pairing) = if n % 2 == 0 {
                (&w.mia, w.pairing)
            } else {
                (&w.ned, w.other_pairing)
            };
            (token.clone(), SCHEDULE, input(pairing, &at(30), 60))
        })
        .collect();
    w.app.assert_exactly_one_wins(requests).await;
}

async fn sessions_are_held_once_started_and_cancelled_while_scheduled(backend: Backend) {
    let w = world(backend).await;
    let future = schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
    let (_, body) = w
        .app
        .graphql(&w.max, HELD, json!({ "id": future["id"] }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    let past = schedule(&w, &w.mia, w.pairing, &at(-2), 60).await;
    assert_eq!(
        w.app
            .query_ok(&w.max, HELD, json!({ "id": past["id"] }))
            .await["markSessionHeld"]["status"],
        "HELD"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.max, HELD, json!({ "id": past["id"] }))
            .await,
        "CONFLICT"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.ned, CANCEL, json!({ "id": future["id"] }))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        w.app
            .query_ok(&w.mia, CANCEL, json!({ "id": future["id"] }))
            .await["cancelSession"]["status"],
        "CANCELLED"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.mia, CANCEL, json!({ "id": future["id"] }))
            .await,
        "CONFLICT"
    );
    schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
}

async fn private_notes_are_for_participants_only(backend: Backend) {
    let w = world(backend).await;
    let session = schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
    let data = w
        .app
        .query_ok(
            &w.mia,
            NOTES,
            json!({ "id": session["id"], "n": "Max wants to post weekly" }),
        )
        .await;
    assert_eq!(
        data["setSessionNotes"]["privateNotes"],
        "Max wants to post weekly"
    );
    let notes =
        |data: Value| data["pairing"]["sessions"]["edges"][0]["node"]["privateNotes"].clone();
    assert_eq!(
        notes(
            w.app
                .query_ok(&w.max, READ, json!({ "p": w.pairing }))
                .await
        ),
        "Max wants to post weekly"
    );
    assert_eq!(
        notes(
            w.app
                .query_ok(&w.admin, READ, json!({ "p": w.pairing }))
                .await
        ),
        Value::Null
    );
    assert_eq!(
        notes(
            w.app
                .query_ok(&w.sam, READ, json!({ "p": w.pairing }))
                .await
        ),
        Value::Null
    );
    assert_eq!(
        w.app
            .query_error_code(&w.sam, NOTES, json!({ "id": session["id"], "n": "x" }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.ned, NOTES, json!({ "id": session["id"], "n": "x" }))
            .await,
        "NOT_FOUND"
    );
}

async fn feedback_follows_a_held_session_once_per_participant(backend: Backend) {
    let w = world(backend).await;
    let session = schedule(&w, &w.mia, w.pairing, &at(-3), 60).await;
    let feedback = |rating: i32, recommend: i32| json!({ "input": { "sessionId": session["id"], "rating": rating, "recommend": recommend, "comment": "Very useful" } });
    assert_eq!(
        w.app
            .query_error_code(&w.max, FEEDBACK, feedback(5, 9))
            .await,
        "CONFLICT",
        "not held yet"
    );
    w.app
        .query_ok(&w.mia, HELD, json!({ "id": session["id"] }))
        .await;
    for (body, field) in [
        (feedback(6, 9), "rating"),
        (feedback(0, 9), "rating"),
        (feedback(4, 11), "recommend"),
    ] {
        let (_, response) = w.app.graphql(&w.max, FEEDBACK, body).await;
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{response}"
        );
    }
    let data = w.app.query_ok(&w.max, FEEDBACK, feedback(5, 10)).await;
    assert_eq!(
        data["submitFeedback"]["author"]["displayName"],
        "Max Mentee"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.max, FEEDBACK, feedback(4, 8))
            .await,
        "CONFLICT",
        "once each"
    );
    w.app.query_ok(&w.mia, FEEDBACK, feedback(4, 8)).await;
    assert_eq!(
        w.app
            .query_error_code(&w.ned, FEEDBACK, feedback(4, 8))
            .await,
        "NOT_FOUND"
    );
    let comments = |data: Value| -> Vec<Value> {
        data["pairing"]["sessions"]["edges"][0]["node"]["feedback"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["comment"].clone())
            .collect()
    };
    let seen_by_max = comments(
        w.app
            .query_ok(&w.max, READ, json!({ "p": w.pairing }))
            .await,
    );
    assert_eq!(
        seen_by_max.iter().filter(|c| c.is_string()).count(),
        1,
        "only Max's own comment"
    );
    let seen_by_admin = comments(
        w.app
            .query_ok(&w.admin, READ, json!({ "p": w.pairing }))
            .await,
    );
    assert_eq!(seen_by_admin.iter().filter(|c| c.is_string()).count(), 2);
}

const RESCHEDULE: &str = "mutation($id: UUID!, $at: DateTime!, $m: Int) { rescheduleSession(id: $id, startsAt: $at, durationMinutes: $m) { id status startsAt endsAt } }";
const NO_SHOW: &str = "mutation($id: UUID!) { markSessionNoShow(id: $id) { status } }";

/// What a rescheduling request answers: the error code (or "none") and its message.
async fn reschedule_outcome(
    w: &World,
    token: &str,
    id: &Value,
    starts_at: &str,
) -> (String, String) {
    let (_, body) = w
        .app
        .graphql(token, RESCHEDULE, json!({ "id": id, "at": starts_at }))
        .await;
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        error["message"].as_str().unwrap_or("").to_owned(),
    )
}

async fn sessions_are_moved_by_the_rules_of_booking(backend: Backend) {
    let w = world(backend).await;
    let session = schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
    let moved = w
        .app
        .query_ok(
            &w.max,
            RESCHEDULE,
            json!({ "id": session["id"], "at": at(30) }),
        )
        .await;
    assert_eq!(
        moved["rescheduleSession"]["id"], session["id"],
        "the same session"
    );
    assert_eq!(moved["rescheduleSession"]["status"], "SCHEDULED");
    let starts: chrono::DateTime<Utc> = moved["rescheduleSession"]["startsAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ends: chrono::DateTime<Utc> = moved["rescheduleSession"]["endsAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(starts.to_rfc3339(), at(30));
    assert_eq!(
        ends - starts,
        Duration::minutes(60),
        "its own length is kept"
    );
    schedule(&w, &w.mia, w.pairing, &at(24), 60).await; // the old slot is free again
    schedule(&w, &w.ned, w.other_pairing, &at(40), 60).await;
    let (code, message) = reschedule_outcome(&w, &w.mia, &session["id"], &at(40)).await;
    assert_eq!(code, "CONFLICT", "Max is busy then: {message}");
    let shorter = w
        .app
        .query_ok(
            &w.mia,
            RESCHEDULE,
            json!({ "id": session["id"], "at": at(41), "m": 30 }),
        )
        .await;
    let starts: chrono::DateTime<Utc> = shorter["rescheduleSession"]["startsAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ends: chrono::DateTime<Utc> = shorter["rescheduleSession"]["endsAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ends - starts, Duration::minutes(30));
    for (variables, field) in [
        (json!({ "id": session["id"], "at": at(-1) }), "startsAt"),
        (
            json!({ "id": session["id"], "at": at(50), "m": 10 }),
            "durationMinutes",
        ),
    ] {
        let (_, body) = w.app.graphql(&w.mia, RESCHEDULE, variables).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(
        reschedule_outcome(&w, &w.sam, &session["id"], &at(60))
            .await
            .0,
        "FORBIDDEN",
        "the supervisor sees the session but does not move it"
    );
    let past = schedule(&w, &w.mia, w.pairing, &at(-3), 60).await;
    let (code, message) = reschedule_outcome(&w, &w.mia, &past["id"], &at(70)).await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("started"), "{message}");
    w.app
        .query_ok(&w.mia, HELD, json!({ "id": past["id"] }))
        .await;
    let (code, message) = reschedule_outcome(&w, &w.mia, &past["id"], &at(70)).await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("HELD"), "{message}");
    w.app
        .query_ok(&w.mia, CANCEL, json!({ "id": session["id"] }))
        .await;
    let (code, message) = reschedule_outcome(&w, &w.mia, &session["id"], &at(70)).await;
    assert_eq!(code, "CONFLICT");
    assert!(message.contains("CANCELLED"), "{message}");
}

/// Six sessions, all with Max, moved at once into one slot: one wins.
async fn concurrent_moves_into_one_slot_leave_exactly_one(backend: Backend) {
    let w = world(backend).await;
    for round in 0..4 {
        let mut requests = Vec::new();
        for n in 0..6 {
            let (token, pairing) = if n % 2 == 0 {
                (&w.mia, w.pairing)
            } else {
                (&w.ned, w.other_pairing)
            };
            let session = schedule(&w, token, pairing, &at(100 + round * 10 + n), 60).await;
            let target = at(300 + round * 10);
            requests.push((
                token.clone(),
                RESCHEDULE,
                json!({ "id": session["id"], "at": target }),
            ));
        }
        w.app.assert_exactly_one_wins(requests).await;
    }
}

async fn a_missed_session_is_a_no_show_not_held(backend: Backend) {
    let w = world(backend).await;
    let future = schedule(&w, &w.mia, w.pairing, &at(24), 60).await;
    let (_, body) = w
        .app
        .graphql(&w.max, NO_SHOW, json!({ "id": future["id"] }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "not started yet: {body}"
    );
    let past = schedule(&w, &w.mia, w.pairing, &at(-2), 60).await;
    assert_eq!(
        w.app
            .query_error_code(&w.sam, NO_SHOW, json!({ "id": past["id"] }))
            .await,
        "FORBIDDEN",
        "participants only"
    );
    let missed = w
        .app
        .query_ok(&w.max, NO_SHOW, json!({ "id": past["id"] }))
        .await;
    assert_eq!(missed["markSessionNoShow"]["status"], "NO_SHOW");
    let (_, body) = w
        .app
        .graphql(&w.mia, HELD, json!({ "id": past["id"] }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("NO_SHOW"),
        "{body}"
    );
    let (_, body) = w
        .app
        .graphql(&w.mia, NO_SHOW, json!({ "id": past["id"] }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "once: {body}"
    );
}

const PAGES: &str = "query($after: String) { myPairings { id sessions(first: 2, after: $after) { edges { cursor node { id topics { slug } } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }";

/// The page of `pairing` in a `myPairings` answer.
fn page_of(data: &Value, pairing: Uuid) -> Value {
    data["myPairings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pairing.to_string())
        .map(|p| p["sessions"].clone())
        .unwrap_or_else(|| panic!("pairing {pairing} missing: {data}"))
}

fn ids_in(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_pairings_sessions_come_page_by_page_with_their_topics(backend: Backend) {
    let w = world(backend).await;
    let skills = w
        .app
        .query_ok(&w.mia, "{ skills { id slug } }", json!({}))
        .await;
    let skill = |i: usize| skills["skills"][i].clone();
    // Five sessions with Mia (topics 0, 1, 0 and 1, none, 1), two with Ned.
    let topics = [vec![0], vec![1], vec![0, 1], vec![], vec![1]];
    let mut booked = Vec::new();
    for (day, wanted) in topics.iter().enumerate() {
        let mut request = input(w.pairing, &at(24 * (day as i64 + 1)), 60);
        request["input"]["topicSkillIds"] = json!(
            wanted
                .iter()
                .map(|&i| skill(i)["id"].clone())
                .collect::<Vec<_>>()
        );
        let session = w.app.query_ok(&w.mia, SCHEDULE, request).await["scheduleSession"].clone();
        let mut slugs: Vec<String> = wanted
            .iter()
            .map(|&i| skill(i)["slug"].as_str().unwrap().to_owned())
            .collect();
        slugs.sort();
        booked.push((session["id"].as_str().unwrap().to_owned(), slugs));
    }
    let mut with_ned = Vec::new();
    for hours in [200, 220] {
        let session = schedule(&w, &w.ned, w.other_pairing, &at(hours), 60).await;
        with_ned.push(session["id"].as_str().unwrap().to_owned());
    }

    // Max, in both pairings, walks Mia's sessions two at a time.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for round in 0.. {
        let data = w
            .app
            .query_ok(&w.max, PAGES, json!({ "after": after }))
            .await;
        let page = page_of(&data, w.pairing);
        let ids = ids_in(&page);
        assert!(ids.len() <= 2, "{page}");
        assert_eq!(page["pageInfo"]["hasPreviousPage"], round > 0, "{page}");
        for edge in page["edges"].as_array().unwrap() {
            let mut slugs: Vec<String> = edge["node"]["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["slug"].as_str().unwrap().to_owned())
                .collect();
            slugs.sort();
            let id = edge["node"]["id"].as_str().unwrap();
            let expected = &booked
                .iter()
                .find(|(booked_id, _)| booked_id == id)
                .unwrap()
                .1;
            assert_eq!(&slugs, expected, "topics of {id}");
        }
        seen.extend(ids);
        if round == 0 {
            // The other pairing's first page, in the same answer, is its own.
            let theirs = page_of(&data, w.other_pairing);
            assert_eq!(ids_in(&theirs), with_ned);
            assert_eq!(theirs["pageInfo"]["hasNextPage"], false);
        }
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(round < 5, "more pages than sessions");
    }
    let in_booking_order: Vec<String> = booked.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(seen, in_booking_order);

    // Two page sizes of the same pairings in one document.
    let both_sizes = "{ myPairings { id one: sessions(first: 1) { edges { node { id } } pageInfo { hasNextPage } } three: sessions(first: 3) { edges { node { id } } pageInfo { hasNextPage } } } }";
    let data = w.app.query_ok(&w.max, both_sizes, json!({})).await;
    let mine = data["myPairings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == w.pairing.to_string())
        .unwrap()
        .clone();
    assert_eq!(ids_in(&mine["one"]), in_booking_order[..1]);
    assert_eq!(ids_in(&mine["three"]), in_booking_order[..3]);
    assert_eq!(mine["three"]["pageInfo"]["hasNextPage"], true);
}

both!(
    participants_schedule_sessions_within_the_rules,
    nobody_is_double_booked,
    concurrent_bookings_of_one_slot_leave_exactly_one,
    sessions_are_held_once_started_and_cancelled_while_scheduled,
    private_notes_are_for_participants_only,
    feedback_follows_a_held_session_once_per_participant,
    sessions_are_moved_by_the_rules_of_booking,
    concurrent_moves_into_one_slot_leave_exactly_one,
    a_missed_session_is_a_no_show_not_held,
    a_pairings_sessions_come_page_by_page_with_their_topics,
);
