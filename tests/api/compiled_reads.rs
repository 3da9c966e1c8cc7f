//! The main screen's compiled read (`graphql::compiled`) over HTTP: for
//! every employee of a seeded company, the known document — spaced as the
//! intranet may send it, by GET or POST, named or not — answers exactly
//! what the same selection answers through the executor (a variable for
//! the page size makes it another document); the compiled read ran for
//! each (its counter on `/metrics`), on PostgreSQL only; a caller the
//! People area is closed to gets the executor's refusal; and
//! `GRAPHQL_COMPILED_READS=false` turns it off.

use chrono::NaiveDate;
use entity::employee;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tandem::domain::seed::{SeedOptions, seed_demo};
use tandem::graphql::compiled::MAIN_SCREEN;
use uuid::Uuid;

use crate::both;
use crate::helpers::{Backend, TestApp};
use crate::main_screen::{paired, with_the_edges_a_seed_lacks};

/// The main screen as the intranet's code formats it.
const MAIN_SCREEN_SPACED: &str = "query MainScreen {
  myPairings {
    id, status, score
    programme { name }
    mentor { displayName }
    mentees { displayName }
    sessions(first: 10) {
      edges { node { startsAt endsAt status mode topics { name } } }
    }
    goals { description status dueOn skill { name } }
  }
}";

/// The same selection with its page size in a variable: another
/// document, answered by the executor.
const THROUGH_THE_EXECUTOR: &str = "query Executed($first: Int) { myPairings { id status score \
    programme { name } mentor { displayName } mentees { displayName } \
    sessions(first: $first) { edges { node { startsAt endsAt status mode topics { name } } } } \
    goals { description status dueOn skill { name } } } }";

/// `GET /graphql?query=…`; the status and the JSON answer.
async fn get(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let response = app
        .client()
        .get(format!("{}/graphql", app.address))
        .query(&[("query", query)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// The main screen sent the `n`th way: as one document, spaced and named,
/// or by GET.
async fn main_screen_sent(app: &TestApp, token: &str, n: usize) -> (StatusCode, Value) {
    match n % 3 {
        0 => {
            app.post_graphql(token, json!({ "query": MAIN_SCREEN }))
                .await
        }
        1 => {
            let body = json!({ "query": MAIN_SCREEN_SPACED, "operationName": "MainScreen" });
            app.post_graphql(token, body).await
        }
        _ => get(app, token, MAIN_SCREEN).await,
    }
}

/// How many operations the compiled read answered, from `/metrics`
/// (`tandem_graphql_compiled_reads_total{outcome="answered"}`).
async fn compiled_reads(app: &TestApp) -> u64 {
    let metrics = app.metrics_address.as_ref().expect("a metrics port");
    let text = app
        .client()
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with("tandem_graphql_compiled_reads_total{"))
        .filter(|line| line.contains(r#"outcome="answered""#))
        .map(|line| {
            let (_, value) = line.rsplit_once(' ').expect("a sample");
            value.parse::<u64>().expect("a count")
        })
        .sum()
}

/// Everyone who mentors or is mentored, with their emails.
async fn paired_people(app: &TestApp) -> Vec<(Uuid, String)> {
    let paired = paired(app).await;
    employee::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|employee| paired.contains(&employee.id))
        .map(|employee| (employee.id, employee.email))
        .collect()
}

async fn the_compiled_main_screen_answers_what_the_executor_answers(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres(_));
    let app = TestApp::spawn_with(backend, &[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let options = SeedOptions {
        employees: 300,
        seed: 11,
        anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    };
    seed_demo(&app.db, &options).await.unwrap();
    with_the_edges_a_seed_lacks(&app).await;
    let people = paired_people(&app).await;
    assert!(people.len() > 20, "the seed pairs people: {}", people.len());

    let (mut pairings, mut sessions, mut goals) = (0, 0, 0);
    for (n, (id, email)) in people.iter().enumerate() {
        let token = app.token(Some(email), &[]).await;
        let (status, compiled) = main_screen_sent(&app, &token, n).await;
        assert_eq!(status, StatusCode::OK, "{compiled}");
        assert!(compiled.get("errors").is_none(), "{compiled}");
        let executed = json!({
            "query": THROUGH_THE_EXECUTOR,
            "operationName": "Executed",
            "variables": { "first": 10 },
        });
        let (status, executed) = app.post_graphql(&token, executed).await;
        assert_eq!(status, StatusCode::OK, "{executed}");
        assert_eq!(compiled, executed, "the main screen of {id}");
        for pairing in compiled["data"]["myPairings"].as_array().unwrap() {
            pairings += 1;
            sessions += pairing["sessions"]["edges"].as_array().unwrap().len();
            goals += pairing["goals"].as_array().unwrap().len();
        }
    }
    assert!(
        pairings > 20 && sessions > 50 && goals > 5,
        "compared {pairings} pairings, {sessions} sessions, {goals} goals"
    );
    let expected = if postgres { people.len() as u64 } else { 0 };
    assert_eq!(
        compiled_reads(&app).await,
        expected,
        "the compiled read answered every main screen on PostgreSQL, none on SQLite"
    );

    // A service account (no employee) may not read people: the executor's
    // refusal, not an empty screen.
    let service = app.token(None, &[]).await;
    let (status, refused) = app
        .post_graphql(&service, json!({ "query": MAIN_SCREEN }))
        .await;
    assert_eq!(status, StatusCode::OK, "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(compiled_reads(&app).await, expected);
}

/// Turned off, or refused by the executor's limits: the executor answers
/// (or refuses) the main screen as it would any query.
async fn compiled_reads_can_be_turned_off(backend: Backend) {
    for (setting, value) in [
        ("GRAPHQL_COMPILED_READS", "false"),
        ("GRAPHQL_MAX_COMPLEXITY", "50"),
    ] {
        let settings = [("METRICS_ADDR", "127.0.0.1:0"), (setting, value)];
        let app = TestApp::spawn_with(backend.clone(), &settings).await;
        seed_demo(
            &app.db,
            &SeedOptions {
                employees: 60,
                seed: 5,
                anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            },
        )
        .await
        .unwrap();
        let (_, email) = paired_people(&app).await.remove(0);
        let token = app.token(Some(&email), &[]).await;
        let (_, answer) = app
            .post_graphql(&token, json!({ "query": MAIN_SCREEN }))
            .await;
        if setting == "GRAPHQL_COMPILED_READS" {
            let pairings = answer["data"]["myPairings"].as_array();
            assert!(pairings.is_some_and(|p| !p.is_empty()), "{answer}");
        } else {
            assert!(answer["data"].is_null(), "{answer}");
            assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
        assert_eq!(
            compiled_reads(&app).await,
            0,
            "{setting}: the executor answered"
        );
    }
}

both!(
    the_compiled_main_screen_answers_what_the_executor_answers,
    compiled_reads_can_be_turned_off
);
