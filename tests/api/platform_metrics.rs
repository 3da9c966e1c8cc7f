//! Metrics for the platform's dashboards: after real traffic, `/metrics`
//! on its own port is scraped and read by the Prometheus project's own
//! text parser (`prometheus_client`, from PyPI, as `.ci/run` installs it).

use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

/// Every sample of the scrape, as `{name, labels, value}`, parsed by
/// `prometheus_client.parser` (which refuses malformed text).
fn parsed(text: &str) -> Vec<Value> {
    const PARSE: &str = r#"
import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("the metrics test needs prometheus_client: python3 -m pip install prometheus-client")
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;
    let output = crate::notify_peers::python_with_stdin(PARSE, text.as_bytes());
    assert!(
        output.status.success(),
        "the scrape does not parse: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
        })
        .and_then(|s| s["value"].as_f64())
}

async fn traffic_shows_on_the_metrics_port_and_only_there(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let metrics = app.metrics_address.clone().expect("a metrics port");
    insert_employee(&app.db, Person::new("Mo Metric", 3)).await;
    let mo = app.token(Some(&Person::email("Mo Metric")), &[]).await;
    for _ in 0..3 {
        app.query_ok(&mo, "query Me { me { displayName } }", json!({}))
            .await;
    }
    let (_, invalid) = app.graphql(&mo, "query Broken { nope }", json!({})).await;
    assert!(invalid["errors"].is_array());
    let (_, failing) = app
        .graphql(
            &mo,
            "query Lookup($id: UUID!) { employee(id: $id) { id } }",
            json!({ "id": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert_eq!(failing["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // Never on the API's own port.
    let api = app
        .client()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), reqwest::StatusCode::NOT_FOUND);

    let scrape = app
        .client()
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parsed(&scrape.text().await.unwrap());

    let ok_posts = [
        ("http_request_method", "POST"),
        ("http_route", "/graphql"),
        ("http_response_status_code", "200"),
    ];
    let count = sample(
        &samples,
        "http_server_request_duration_seconds_count",
        &ok_posts,
    );
    assert!(count.is_some_and(|n| n >= 5.0), "{count:?}");
    let inf = sample(
        &samples,
        "http_server_request_duration_seconds_bucket",
        &[ok_posts[0], ok_posts[1], ok_posts[2], ("le", "+Inf")],
    );
    assert_eq!(inf, count, "the +Inf bucket holds every request");

    let operation = |name: &str, kind: &str, outcome: &str| {
        sample(
            &samples,
            "graphql_server_operations_total",
            &[
                ("graphql_operation_name", name),
                ("graphql_operation_type", kind),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(operation("Me", "query", "ok"), Some(3.0));
    assert_eq!(operation("Lookup", "query", "error"), Some(1.0));
    assert_eq!(operation("", "unknown", "invalid"), Some(1.0));

    for state in ["used", "idle"] {
        let connections = sample(
            &samples,
            "db_client_connection_count",
            &[("db_client_connection_state", state)],
        );
        assert!(
            connections.is_some_and(|n| n >= 0.0),
            "{state}: {connections:?}"
        );
    }
    assert_eq!(
        sample(
            &samples,
            "tandem_cache_breaker_open",
            &[("backend", "in-process")]
        ),
        Some(0.0)
    );
}

async fn without_metrics_addr_there_is_no_metrics_port(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert!(app.metrics_address.is_none());
}

both!(
    traffic_shows_on_the_metrics_port_and_only_there,
    without_metrics_addr_there_is_no_metrics_port,
);
