//! `me`, `employee`, `employees` and `skills`, with the authorization matrix.

use entity::enums::{PairingStatus, ProgrammeStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme,
    insert_supervised_mentor,
};

/// A small company: a director (level 7) managing Bob (5); Alice (2) mentors
/// Bob; Carol (3) is unrelated; Sam (4) supervises Alice.
struct Company {
    director: Uuid,
    alice: Uuid,
    bob: Uuid,
    carol: Uuid,
}

async fn company(app: &TestApp) -> Company {
    let director = insert_employee(&app.db, Person::new("Diane Director", 7)).await;
    let mut bob = Person::new("Bob Boss", 5);
    bob.manager = Some(director);
    let bob = insert_employee(&app.db, bob).await;
    let alice = insert_employee(&app.db, Person::new("Alice Junior", 2)).await;
    let carol = insert_employee(&app.db, Person::new("Carol Other", 3)).await;
    let sam = insert_employee(&app.db, Person::new("Sam Supervisor", 4)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    insert_pairing(&app.db, programme, alice, &[bob], PairingStatus::Active).await;
    insert_supervised_mentor(&app.db, programme, alice, sam).await;
    Company {
        director,
        alice,
        bob,
        carol,
    }
}

const EMPLOYEE: &str =
    "query($id: UUID!) { employee(id: $id) { displayName manager { displayName } } }";

fn names(data: &Value) -> Vec<String> {
    data["employees"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["displayName"].as_str().unwrap().to_owned())
        .collect()
}

async fn employees_see_themselves_and_their_pairing_partners_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = company(&app).await;
    let alice = app.token(Some("alice.junior@corp.example"), &[]).await;
    let data = app.query_ok(&alice, EMPLOYEE, json!({ "id": c.bob })).await;
    assert_eq!(data["employee"]["displayName"], "Bob Boss");
    assert_eq!(
        data["employee"]["manager"],
        Value::Null,
        "Bob's manager is not Alice's to see"
    );
    for hidden in [c.carol, c.director, Uuid::now_v7()] {
        assert_eq!(
            app.query_error_code(&alice, EMPLOYEE, json!({ "id": hidden }))
                .await,
            "NOT_FOUND"
        );
    }
    let data = app
        .query_ok(
            &alice,
            "{ employees { edges { node { displayName } } } }",
            json!({}),
        )
        .await;
    assert_eq!(names(&data), ["Alice Junior", "Bob Boss"]);
}

async fn supervisors_see_their_mentors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = company(&app).await;
    let sam = app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let data = app.query_ok(&sam, EMPLOYEE, json!({ "id": c.alice })).await;
    assert_eq!(data["employee"]["displayName"], "Alice Junior");
    assert_eq!(
        app.query_error_code(&sam, EMPLOYEE, json!({ "id": c.bob }))
            .await,
        "NOT_FOUND"
    );
}

async fn admins_see_everyone_and_search_by_name_or_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = company(&app).await;
    let admin = app.token(None, &["admin"]).await;
    let data = app.query_ok(&admin, EMPLOYEE, json!({ "id": c.bob })).await;
    assert_eq!(data["employee"]["manager"]["displayName"], "Diane Director");
    let search = "query($s: String) { employees(search: $s) { edges { node { displayName } } } }";
    let data = app.query_ok(&admin, search, json!({ "s": "JUNIOR" })).await;
    assert_eq!(names(&data), ["Alice Junior"]);
    let data = app
        .query_ok(&admin, search, json!({ "s": "carol.other@" }))
        .await;
    assert_eq!(names(&data), ["Carol Other"]);
    let data = app.query_ok(&admin, search, json!({ "s": "%" })).await;
    assert!(names(&data).is_empty(), "LIKE wildcards are literal");
    let _ = c.alice;
}

async fn analysts_and_the_hris_account_see_no_individual(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = company(&app).await;
    for role in ["analyst", "hris"] {
        let token = app.token(None, &[role]).await;
        assert_eq!(
            app.query_error_code(&token, "{ employees { edges { cursor } } }", json!({}))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.query_error_code(&token, EMPLOYEE, json!({ "id": c.alice }))
                .await,
            "FORBIDDEN"
        );
    }
}

async fn employees_page_with_opaque_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    company(&app).await;
    let admin = app.token(None, &["admin"]).await;
    let page = "query($after: String) { employees(first: 2, after: $after) { edges { cursor node { displayName } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.query_ok(&admin, page, json!({ "after": after })).await;
        seen.extend(names(&data));
        let info = &data["employees"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], !after.is_null());
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].clone();
        assert!(
            !after.as_str().unwrap().contains("Junior"),
            "cursors are opaque"
        );
    }
    assert_eq!(
        seen,
        [
            "Alice Junior",
            "Bob Boss",
            "Carol Other",
            "Diane Director",
            "Sam Supervisor"
        ]
    );
    let (_, body) = app
        .graphql(&admin, page, json!({ "after": "garbage" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "after");
}

async fn skills_form_the_seeded_catalogue(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["analyst"]).await;
    let data = app
        .query_ok(&token, "{ skills { id slug name category } }", json!({}))
        .await;
    let skills = data["skills"].as_array().unwrap();
    assert!(skills.len() >= 12);
    let slugs: Vec<&str> = skills.iter().map(|s| s["slug"].as_str().unwrap()).collect();
    for slug in [
        "social-networks",
        "linkedin",
        "data-protection",
        "online-search",
        "seo",
        "collaborative-tools",
    ] {
        assert!(slugs.contains(&slug), "{slug}");
    }
}

both!(
    employees_see_themselves_and_their_pairing_partners_only,
    supervisors_see_their_mentors,
    admins_see_everyone_and_search_by_name_or_email,
    analysts_and_the_hris_account_see_no_individual,
    employees_page_with_opaque_cursors,
    skills_form_the_seeded_catalogue,
);
