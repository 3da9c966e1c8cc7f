//! Rate limits per caller: 429 with `Retry-After` and RATE_LIMITED past a
//! caller's burst, counted in Redis across replicas, and in each process
//! when Redis is down (never no limit, never refusing everyone).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp};
use crate::redis_server::{self, RedisServer};

/// A cheap operation.
const TYPENAME: &str = "{ __typename }";

/// 60 a minute: a burst of 15, then one a second.
const LIMIT: (&str, &str) = ("RATE_LIMIT_PER_MINUTE", "60");

/// A token with a subject of its own (limits are per subject and roles;
/// the test provider honours roles for its service subject only).
fn token(app: &TestApp, subject: &str, roles: &[&str]) -> String {
    let mut claims = crate::idp::claims(None, roles);
    claims["sub"] = json!(subject);
    app.key.sign(&claims)
}

/// Sends `n` requests one after the other; answers how many were served,
/// and the last refusal.
async fn send(app: &TestApp, token: &str, n: usize) -> (usize, Option<(Value, String)>) {
    let mut served = 0;
    let mut refusal = None;
    for _ in 0..n {
        let response = app
            .client()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(token)
            .json(&json!({ "query": TYPENAME }))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                refusal = Some((response.json().await.unwrap(), retry));
            }
            other => panic!("unexpected {other}"),
        }
    }
    (served, refusal)
}

/// The burst, give or take the one request a second that refills while a
/// slow machine sends them.
fn about_a_burst(served: usize) -> bool {
    (15..=17).contains(&served)
}

async fn past_its_burst_a_caller_waits_and_others_do_not(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, &[LIMIT, ("RATE_LIMIT_ROLES", "admin=600,hris=0")]).await;
    let analyst = token(&app, "svc-analyst-1", &["analyst"]);
    let (served, refusal) = send(&app, &analyst, 25).await;
    assert!(about_a_burst(served), "served {served}");
    let (body, retry_after) = refusal.expect("a refusal");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let retry: u64 = retry_after.parse().expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");

    // Another caller has a bucket of its own; an admin a larger one; the
    // HRIS account none.
    let (served, _) = send(&app, &token(&app, "svc-analyst-2", &["analyst"]), 5).await;
    assert_eq!(served, 5);
    let admin = app.token(None, &["admin"]).await;
    let (served, _) = send(&app, &admin, 40).await;
    assert_eq!(served, 40, "admins have 600 a minute, a burst of 150");
    let hris = app.token(None, &["hris"]).await;
    let (served, _) = send(&app, &hris, 40).await;
    assert_eq!(served, 40, "the HRIS account is not limited");
}

async fn replicas_share_one_limit_through_redis(backend: Backend) {
    let Some(url) = redis_server::shared_url() else {
        return;
    };
    let settings = [LIMIT, ("REDIS_URL", url.as_str())];
    let first = TestApp::spawn_with(backend.clone(), &settings).await;
    let second = TestApp::spawn_with(backend, &settings).await;
    let subject = format!("svc-{}", uuid::Uuid::new_v4().simple());
    let (on_first, _) = send(&first, &token(&first, &subject, &["analyst"]), 10).await;
    let (on_second, refusal) = send(&second, &token(&second, &subject, &["analyst"]), 10).await;
    assert_eq!(on_first, 10);
    assert!(
        about_a_burst(on_first + on_second),
        "one burst in all: {on_first} + {on_second}"
    );
    assert!(refusal.is_some());
}

async fn with_redis_down_each_process_still_limits(backend: Backend) {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(backend, &[LIMIT, ("REDIS_URL", url.as_str())]).await;
    redis.kill();
    let (served, refusal) = send(&app, &token(&app, "svc-outage", &["analyst"]), 25).await;
    assert!(
        about_a_burst(served),
        "served {served}: neither everyone nor no one"
    );
    assert!(refusal.is_some());
}

both!(
    past_its_burst_a_caller_waits_and_others_do_not,
    replicas_share_one_limit_through_redis,
    with_redis_down_each_process_still_limits,
);
