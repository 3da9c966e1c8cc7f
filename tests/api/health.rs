//! Liveness and readiness probes.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::both;
use crate::helpers::{Backend, TestApp};

async fn probes_answer_without_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app
            .client()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], status, "{path}");
    }
}

both!(probes_answer_without_a_token);

/// Readiness turns 503 when the database goes away (PostgreSQL: the test
/// drops its database under the running server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        return;
    };
    let app = TestApp::spawn(Backend::Postgres(admin_url.clone())).await;
    let name: String = {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT current_database()",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    let response = app
        .client()
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let live = app
        .client()
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK, "the process is still alive");
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let get = |id: Option<&'static str>| {
        let mut request = app.client().get(format!("{}/healthz", app.address));
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        request.send()
    };
    let fresh = get(None).await.unwrap();
    let generated = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let echoed = get(Some("gw-1234.abc")).await.unwrap();
    assert_eq!(
        echoed.headers()["x-request-id"],
        "gw-1234.abc",
        "the gateway's id carries through"
    );
    let replaced = get(Some("bad id; <script>")).await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id; <script>");
}

both!(every_response_carries_a_request_id);
