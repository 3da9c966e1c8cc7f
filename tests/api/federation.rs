//! Apollo Federation v2: Tandem composed with a second small subgraph (the
//! company's "people" subgraph, joining Employee on the HRIS id) through a
//! real @apollo/gateway (`tests/js/federation-gateway.mjs`), queries across
//! both, and `_entities` held to every authorization rule.

use entity::enums::{PairingStatus, ProgrammeStatus};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme};

const FEDERATION: (&str, &str) = ("GRAPHQL_FEDERATION", "true");

/// The gateway's answer to `query`, composed over Tandem at `address` with
/// `token` (and `directory`: the external ids the people subgraph lists).
fn through_gateway(address: &str, token: &str, query: &str, directory: &str) -> Value {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/@apollo/gateway").is_dir(),
        "the federation test needs its gateway: npm ci --prefix tests/js"
    );
    let output = std::process::Command::new("node")
        .arg(js.join("federation-gateway.mjs"))
        .args([&format!("{address}/graphql"), token, query])
        .env("FED_DIRECTORY_EXTERNAL_IDS", directory)
        .output()
        .expect("node runs (Node.js 20 or later)");
    assert!(
        output.status.success(),
        "the gateway failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON line")
}

async fn gateway(app: &TestApp, token: &str, query: &'static str, directory: &str) -> Value {
    let (address, token, directory) = (app.address.clone(), token.to_owned(), directory.to_owned());
    tokio::task::spawn_blocking(move || through_gateway(&address, &token, query, &directory))
        .await
        .unwrap()
}

async fn a_gateway_joins_tandem_and_the_people_subgraph_on_the_hris_id(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[FEDERATION]).await;
    insert_employee(&app.db, Person::new("Fay Federer", 2)).await;
    insert_employee(&app.db, Person::new("Gus Gateway", 8)).await;
    let fay = app.token(Some(&Person::email("Fay Federer")), &[]).await;

    // Tandem's field and the people subgraph's, in one query.
    let answer = gateway(&app, &fay, "{ me { displayName badge } }", "").await;
    assert_eq!(
        answer["data"]["me"],
        json!({ "displayName": "Fay Federer", "badge": "B-X-Fay-Federer" }),
        "{answer}"
    );

    // The other way: the people subgraph lists HRIS ids, Tandem resolves
    // them through `_entities` by externalId, for an admin.
    let admin = app.token(None, &["admin"]).await;
    let directory = "X-Gus-Gateway,X-Fay-Federer";
    let answer = gateway(
        &app,
        &admin,
        "{ directory { displayName badge } }",
        directory,
    )
    .await;
    assert_eq!(
        answer["data"]["directory"],
        json!([
            { "displayName": "Gus Gateway", "badge": "B-X-Gus-Gateway" },
            { "displayName": "Fay Federer", "badge": "B-X-Fay-Federer" },
        ]),
        "{answer}"
    );

    // Fay may not see Gus: the gateway gets NOT_FOUND, not Gus's name.
    let answer = gateway(&app, &fay, "{ directory { displayName } }", directory).await;
    assert!(answer["data"].is_null(), "{answer}");
    assert!(!answer.to_string().contains("Gus Gateway"), "{answer}");
}

const ENTITIES: &str = "query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Employee { displayName } ... on Programme { name } ... on Pairing { status } } }";

async fn entities(app: &TestApp, token: &str, representations: Value) -> Value {
    app.graphql(token, ENTITIES, json!({ "r": representations }))
        .await
        .1
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

async fn entity_lookups_are_no_way_around_not_found(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[FEDERATION]).await;
    let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 9)).await;
    let eve = insert_employee(&app.db, Person::new("Eve Elsewhere", 5)).await;
    let live = insert_programme(&app.db, "Live", ProgrammeStatus::Active).await;
    let draft = insert_programme(&app.db, "Draft", ProgrammeStatus::Draft).await;
    let pairing = insert_pairing(&app.db, live, mia, &[max], PairingStatus::Active).await;
    let mia_token = app.token(Some(&Person::email("Mia Mentor")), &[]).await;
    let eve_token = app.token(Some(&Person::email("Eve Elsewhere")), &[]).await;

    // What Mia may see, she gets, by either key.
    let seen = entities(
        &app,
        &mia_token,
        json!([
            { "__typename": "Employee", "id": max },
            { "__typename": "Employee", "externalId": "X-Mia-Mentor" },
            { "__typename": "Programme", "id": live },
            { "__typename": "Pairing", "id": pairing },
        ]),
    )
    .await;
    assert_eq!(
        seen["data"]["_entities"],
        json!([
            { "displayName": "Max Mentee" },
            { "displayName": "Mia Mentor" },
            { "name": "Live" },
            { "status": "ACTIVE" },
        ]),
        "{seen}"
    );
    // What she may not, she cannot learn of, by id or by HRIS id.
    for hidden in [
        json!({ "__typename": "Employee", "id": eve }),
        json!({ "__typename": "Employee", "externalId": "X-Eve-Elsewhere" }),
        json!({ "__typename": "Programme", "id": draft }),
    ] {
        let answer = entities(&app, &mia_token, json!([hidden])).await;
        assert_eq!(code(&answer), "NOT_FOUND", "{hidden}: {answer}");
        assert!(!answer.to_string().contains("Eve"), "{answer}");
    }
    let answer = entities(
        &app,
        &eve_token,
        json!([{ "__typename": "Pairing", "id": pairing }]),
    )
    .await;
    assert_eq!(code(&answer), "NOT_FOUND", "{answer}");
    // Areas hold too: an analyst reaches no individual.
    let analyst = app.token(None, &["analyst"]).await;
    let answer = entities(
        &app,
        &analyst,
        json!([{ "__typename": "Employee", "id": mia }]),
    )
    .await;
    assert_eq!(code(&answer), "FORBIDDEN", "{answer}");
    // And a flood of representations is refused before any lookup.
    let flood: Vec<Value> = (0..501)
        .map(|_| json!({ "__typename": "Employee", "id": mia }))
        .collect();
    let (status, answer) = app
        .graphql(&mia_token, ENTITIES, json!({ "r": flood }))
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{answer}");
    // Aliases add up: two fields of 300 are refused as one of 600.
    let aliased = "query($r: [_Any!]!) { a: _entities(representations: $r) { __typename } \
        b: _entities(representations: $r) { __typename } }";
    let three_hundred = &flood[..300];
    let (status, answer) = app
        .graphql(&mia_token, aliased, json!({ "r": three_hundred }))
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{answer}");
}

async fn the_subgraph_exists_only_when_asked_for(backend: Backend) {
    let plain = TestApp::spawn(backend.clone()).await;
    let token = plain.token(None, &["analyst"]).await;
    let (_, answer) = plain
        .graphql(&token, "{ _service { sdl } }", json!({}))
        .await;
    assert_eq!(code(&answer), "BAD_USER_INPUT", "{answer}");

    let subgraph = TestApp::spawn_with(backend, &[FEDERATION]).await;
    let token = subgraph.token(None, &["analyst"]).await;
    let sdl = subgraph
        .query_ok(&token, "{ _service { sdl } }", json!({}))
        .await["_service"]["sdl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sdl.contains("specs.apollo.dev/federation/v2"),
        "a v2 subgraph"
    );
    for (ty, key) in [
        ("Employee", "@key(fields: \"id\")"),
        ("Employee", "@key(fields: \"externalId\")"),
        ("Programme", "@key(fields: \"id\")"),
        ("Pairing", "@key(fields: \"id\")"),
    ] {
        let line = sdl
            .lines()
            .find(|line| line.starts_with(&format!("type {ty} ")))
            .unwrap_or_else(|| panic!("no type {ty}"));
        assert!(line.contains(key), "{ty} lacks {key}: {line}");
    }
}

/// A lookup that ran and found nothing is a field error, not a request
/// error: 200 with its `data` entry even where the client accepts
/// `application/graphql-response+json`. A type the subgraph does not
/// resolve is refused by async-graphql with an error located nowhere, so
/// only the started lookup tells that it ran.
async fn an_entity_lookup_that_finds_nothing_still_ran(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[FEDERATION]).await;
    insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let token = app.token(Some(&Person::email("Mia Mentor")), &[]).await;
    let nobody = json!([{ "__typename": "Nope", "id": "00000000-0000-4000-8000-000000000000" }]);
    let response = app
        .client()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .header("Accept", "application/graphql-response+json")
        .json(&json!({ "query": ENTITIES, "variables": { "r": nobody } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert!(answer.get("data").is_some_and(Value::is_null), "{answer}");
    assert!(answer["errors"][0]["message"].is_string(), "{answer}");
}

both!(
    a_gateway_joins_tandem_and_the_people_subgraph_on_the_hris_id,
    entity_lookups_are_no_way_around_not_found,
    an_entity_lookup_that_finds_nothing_still_ran,
    the_subgraph_exists_only_when_asked_for,
);
