//! Weekly availability, unavailabilities, free time and common slots.

use entity::employee;
use entity::enums::{PairingStatus, ProgrammeStatus, SessionStatus};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
};

const SET: &str = "mutation($tz: String!, $s: [WeeklySlotInput!]!) { setWeeklyAvailability(timezone: $tz, slots: $s) { weekday start end } }";
const FREE: &str = "query($e: UUID, $f: DateTime!, $t: DateTime!) { availability(employeeId: $e, from: $f, to: $t) { startsAt endsAt } }";
const COMMON: &str = "query($p: UUID!, $d: Int!) { pairing(id: $p) { nextCommonSlots(durationMinutes: $d, from: \"2027-01-04T00:00:00Z\", to: \"2027-01-11T00:00:00Z\", limit: 3) { startsAt endsAt } } }";

fn tuesday(start: &str, end: &str) -> Value {
    json!([{ "weekday": "TUESDAY", "start": start, "end": end }])
}

async fn weekly_availability_is_validated_and_replaced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let cases = [
        (
            json!({ "tz": "Mars/Olympus", "s": tuesday("09:00", "10:00") }),
            "timezone",
        ),
        (
            json!({ "tz": "Europe/Paris", "s": tuesday("9:00", "10:00") }),
            "start",
        ),
        (
            json!({ "tz": "Europe/Paris", "s": tuesday("09:00", "25:00") }),
            "end",
        ),
        (
            json!({ "tz": "Europe/Paris", "s": tuesday("10:00", "09:00") }),
            "end",
        ),
        (
            json!({ "tz": "Europe/Paris", "s": [{ "weekday": "TUESDAY", "start": "09:00", "end": "11:00" }, { "weekday": "TUESDAY", "start": "10:30", "end": "12:00" }] }),
            "slots",
        ),
    ];
    for (vars, field) in cases {
        let (_, body) = app.graphql(&token, SET, vars).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let before = employee::Entity::find_by_id(mia)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .availability_version;
    let slots = json!([{ "weekday": "THURSDAY", "start": "14:00", "end": "24:00" }, { "weekday": "MONDAY", "start": "08:30", "end": "10:00" }]);
    let data = app
        .query_ok(&token, SET, json!({ "tz": "America/New_York", "s": slots }))
        .await;
    assert_eq!(
        data["setWeeklyAvailability"][0],
        json!({ "weekday": "MONDAY", "start": "08:30", "end": "10:00" })
    );
    let data = app
        .query_ok(
            &token,
            "{ myWeeklyAvailability { weekday start end } me { timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(data["myWeeklyAvailability"].as_array().unwrap().len(), 2);
    assert_eq!(data["me"]["timezone"], "America/New_York");
    let after = employee::Entity::find_by_id(mia)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .availability_version;
    assert!(after > before, "the availability version is bumped");
}

async fn free_time_is_slots_minus_unavailability_minus_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    insert_employee(&app.db, Person::new("Sue Stranger", 4)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let pairing = insert_pairing(&app.db, programme, mia, &[max], PairingStatus::Active).await;
    let token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    app.query_ok(
        &token,
        SET,
        json!({ "tz": "Europe/Paris", "s": tuesday("09:00", "12:00") }),
    )
    .await;
    let add = "mutation { addUnavailability(startsAt: \"2027-01-05T08:00:00Z\", endsAt: \"2027-01-05T08:30:00Z\", reason: \"dentist\") { id reason } }";
    let added = app.query_ok(&token, add, json!({})).await;
    insert_session(
        &app.db,
        pairing,
        "2027-01-05T10:00:00Z".parse().unwrap(),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let window = json!({ "e": mia, "f": "2027-01-04T00:00:00Z", "t": "2027-01-11T00:00:00Z" });
    // Paris 09:00–12:00 is 08:00–11:00 UTC in January; minus 08:00–08:30
    // (dentist) and 10:00–11:00 (a session): 08:30–10:00 remains.
    let data = app.query_ok(&token, FREE, window.clone()).await;
    let free = data["availability"].as_array().unwrap();
    assert_eq!(free.len(), 1, "{data}");
    assert!(
        free[0]["startsAt"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-05T08:30:00"),
        "{data}"
    );
    assert!(
        free[0]["endsAt"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-05T10:00:00"),
        "{data}"
    );
    let remove = "mutation($id: UUID!) { removeUnavailability(id: $id) { id } }";
    app.query_ok(
        &token,
        remove,
        json!({ "id": added["addUnavailability"]["id"] }),
    )
    .await;
    let data = app.query_ok(&token, FREE, window.clone()).await;
    assert!(
        data["availability"][0]["startsAt"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-05T08:00:00"),
        "{data}"
    );
    let max_token = app.token(Some("max.mentee@corp.example"), &[]).await;
    app.query_ok(&max_token, FREE, window.clone()).await;
    let stranger = app.token(Some("sue.stranger@corp.example"), &[]).await;
    assert_eq!(
        app.query_error_code(&stranger, FREE, window).await,
        "NOT_FOUND"
    );
    for (from, to) in [
        ("2027-01-04T00:00:00Z", "2027-06-04T00:00:00Z"),
        ("2027-01-04T00:00:00Z", "2027-01-03T00:00:00Z"),
    ] {
        let (_, body) = app
            .graphql(&token, FREE, json!({ "f": from, "t": to }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "to", "{body}");
    }
}

async fn common_slots_suit_every_participant_across_time_zones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let pairing = insert_pairing(&app.db, programme, mia, &[max], PairingStatus::Active).await;
    let mia_token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let max_token = app.token(Some("max.mentee@corp.example"), &[]).await;
    app.query_ok(
        &mia_token,
        SET,
        json!({ "tz": "Europe/Paris", "s": tuesday("09:00", "12:00") }),
    )
    .await;
    app.query_ok(
        &max_token,
        SET,
        json!({ "tz": "America/New_York", "s": tuesday("05:10", "08:00") }),
    )
    .await;
    // Paris 08:00–11:00 UTC and New York 10:10–13:00 UTC meet from 10:10 to 11:00 UTC.
    let data = app
        .query_ok(&mia_token, COMMON, json!({ "p": pairing, "d": 30 }))
        .await;
    let slots = data["pairing"]["nextCommonSlots"].as_array().unwrap();
    assert_eq!(slots.len(), 1, "{data}");
    assert!(
        slots[0]["startsAt"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-05T10:15:00"),
        "{data}"
    );
    let data = app
        .query_ok(&mia_token, COMMON, json!({ "p": pairing, "d": 60 }))
        .await;
    assert!(
        data["pairing"]["nextCommonSlots"]
            .as_array()
            .unwrap()
            .is_empty(),
        "50 minutes in common only"
    );
    insert_session(
        &app.db,
        pairing,
        "2027-01-05T10:15:00Z".parse().unwrap(),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let data = app
        .query_ok(&mia_token, COMMON, json!({ "p": pairing, "d": 30 }))
        .await;
    assert!(
        data["pairing"]["nextCommonSlots"]
            .as_array()
            .unwrap()
            .is_empty(),
        "booked now: {data}"
    );
    let (_, body) = app
        .graphql(&mia_token, COMMON, json!({ "p": pairing, "d": 5 }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "durationMinutes");
}

both!(
    weekly_availability_is_validated_and_replaced,
    free_time_is_slots_minus_unavailability_minus_sessions,
    common_slots_suit_every_participant_across_time_zones,
);
