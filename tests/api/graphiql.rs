//! GraphiQL served by the binary: a real headless browser (Debian's
//! chromium, driven by `tests/js/graphiql-check.mjs`) loads the page with
//! every request outside the server blocked, types a token and a query, and
//! reads the answer; the page and its files are served only when asked for,
//! under a policy that allows this origin alone.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::Value;

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

/// What the browser saw: the response pane's JSON, the text it typed, the
/// requests it tried outside the server, and script or policy failures.
fn browse(base: &str, token: &str, query: &str) -> Value {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/playwright-core").is_dir(),
        "the GraphiQL test needs its browser driver: npm ci --prefix tests/js"
    );
    let chromium = std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the GraphiQL test needs a headless browser: apt-get install chromium (or set CHROMIUM_BIN)"
    );
    let output = std::process::Command::new("node")
        .arg(js.join("graphiql-check.mjs"))
        .args([base, token, query])
        .env("CHROMIUM_BIN", &chromium)
        .output()
        .expect("node runs (Node.js 20 or later)");
    assert!(
        output.status.success(),
        "the browser run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

async fn a_query_typed_into_graphiql_returns_data_with_no_internet(backend: Backend) {
    let app = TestApp::spawn_dev(backend, &[]).await;
    insert_employee(&app.db, Person::new("Gaelle Graphiql", 2)).await;
    let token = app
        .token(Some(&Person::email("Gaelle Graphiql")), &[])
        .await;
    let query = "{ me { displayName } }";
    let base = app.address.clone();
    let seen = tokio::task::spawn_blocking(move || browse(&base, &token, query))
        .await
        .unwrap();
    assert_eq!(seen["typed"], query, "{seen}");
    assert_eq!(
        seen["result"]["data"]["me"]["displayName"], "Gaelle Graphiql",
        "{seen}"
    );
    assert_eq!(seen["outside"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["problems"], serde_json::json!([]), "{seen}");
    // The token never outlives the tab: not in storage, gone on reload.
    assert_eq!(seen["stored"], false, "{seen}");
    assert_eq!(seen["kept"], false, "{seen}");
}

async fn get(app: &TestApp, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = app.client().get(format!("{}{path}", app.address));
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    request.send().await.unwrap()
}

async fn graphiql_is_served_only_when_asked_and_only_from_here(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    for path in ["/graphql", "/graphiql/graphiql.min.js", "/graphiql/init.js"] {
        assert_eq!(
            get(&app, path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    let app = TestApp::spawn_with(backend, &[("GRAPHIQL", "true")]).await;
    let page = get(&app, "/graphql", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Authorization"),
        "the page explains the token"
    );
    assert!(
        !html.contains("https://"),
        "the page names no outside address"
    );

    let script = get(&app, "/graphiql/graphiql.min.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = script.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(script.bytes().await.unwrap().len() > 100_000);
    let again = get(&app, "/graphiql/graphiql.min.js", Some(&etag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    for path in [
        "/graphiql/nope.js",
        "/graphiql/..%2FCargo.toml",
        "/graphiql/index.html",
    ] {
        assert_eq!(
            get(&app, path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

both!(
    a_query_typed_into_graphiql_returns_data_with_no_internet,
    graphiql_is_served_only_when_asked_and_only_from_here,
);
