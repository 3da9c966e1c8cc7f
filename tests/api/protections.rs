//! The OWASP GraphQL protections our stack does not give by default.

use std::io::Write as _;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post_bytes(
    app: &TestApp,
    token: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("Content-Encoding", encoding);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A valid query padded with a comment to `size` bytes.
fn padded_query(size: usize) -> Vec<u8> {
    let padding = "#".repeat(size);
    serde_json::to_vec(&json!({ "query": format!("{{ skills {{ slug }} }}\n{padding}") })).unwrap()
}

async fn bodies_are_capped_also_after_decompression(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("GRAPHQL_BODY_LIMIT_BYTES", "4096")]).await;
    let token = app.token(None, &["admin"]).await;
    let (status, _) = post_bytes(&app, &token, "application/json", None, padded_query(3000)).await;
    assert_eq!(status, StatusCode::OK, "under the limit");
    let (status, body) =
        post_bytes(&app, &token, "application/json", None, padded_query(5000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let bomb = gzip(&padded_query(100_000));
    assert!(bomb.len() < 4096, "the compressed body itself is small");
    let (status, _) = post_bytes(&app, &token, "application/json", Some("gzip"), bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = post_bytes(
        &app,
        &token,
        "application/json",
        Some("gzip"),
        gzip(&padded_query(100)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["data"]["skills"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    let (status, _) = post_bytes(
        &app,
        &token,
        "application/json",
        Some("br"),
        padded_query(10),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn only_json_and_upload_posts_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = post_bytes(&app, &token, content_type, None, padded_query(1)).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // Multipart is for uploads (the GraphQL multipart request): a body that
    // is not one is refused before anything runs.
    let (status, body) = post_bytes(
        &app,
        &token,
        "multipart/form-data; boundary=x",
        None,
        padded_query(1),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (status, _) = post_bytes(
        &app,
        &token,
        "application/json; charset=utf-8",
        None,
        padded_query(1),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post_bytes(
        &app,
        &token,
        "application/json",
        None,
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn mutations_are_refused_over_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let get = |query: &'static str| {
        app.client()
            .get(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .query(&[("query", query)])
            .send()
    };
    let response = get("mutation { anything }").await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let response = get("{ skills { slug } }").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["data"]["skills"]
            .as_array()
            .is_some_and(|s| s.len() >= 12)
    );
}

async fn batches_are_capped(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("GRAPHQL_MAX_BATCH", "3")]).await;
    let token = app.token(None, &["admin"]).await;
    let batch =
        |n: usize| serde_json::to_vec(&vec![json!({ "query": "{ skills { slug } }" }); n]).unwrap();
    let (status, body) = post_bytes(&app, &token, "application/json", None, batch(3)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(3));
    let (status, body) = post_bytes(&app, &token, "application/json", None, batch(4)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// The caller's row read at sign-in serves `me`, but not after a
/// mutation of the same batch changed it.
async fn me_after_a_mutation_in_a_batch_is_current(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let zone = |body: &Value| body["data"]["me"]["timezone"].as_str().map(str::to_owned);
    let before = app.query_ok(&token, "{ me { timezone } }", json!({})).await["me"]["timezone"]
        .as_str()
        .map(str::to_owned);
    let wanted = if before.as_deref() == Some("Asia/Tokyo") {
        "Europe/Paris"
    } else {
        "Asia/Tokyo"
    };
    let batch = serde_json::to_vec(&json!([
        { "query": "{ me { timezone } }" },
        { "query": "mutation($tz: String!) { setWeeklyAvailability(timezone: $tz, slots: []) { weekday } }", "variables": { "tz": wanted } },
        { "query": "{ me { timezone } }" },
    ]))
    .unwrap();
    let (status, body) = post_bytes(&app, &token, "application/json", None, batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(zone(&body[0]), before, "{body}");
    assert!(body[1]["errors"].is_null(), "{body}");
    assert_eq!(zone(&body[2]).as_deref(), Some(wanted), "{body}");
}

async fn depth_complexity_and_directives_are_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let deep = format!(
        "{{ employees {{ edges {{ node {{ {} displayName {} }} }} }} }}",
        "manager {".repeat(12),
        "}".repeat(12)
    );
    assert_eq!(
        app.query_error_code(&token, &deep, json!({})).await,
        "BAD_USER_INPUT"
    );
    // 100 employees × a nested list, asked three times through aliases.
    let wide = "{ a: employees(first: 100) { edges { node { skills { skill { name slug category } level } } } } \
                 b: employees(first: 100) { edges { node { skills { skill { name slug category } level } } } } \
                 c: employees(first: 100) { edges { node { skills { skill { name slug category } level } } } } }";
    let (_, body) = app.graphql(&token, wide, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{body}"
    );
    let one_alias = "{ a: employees(first: 100) { edges { node { skills { skill { name slug category } level } } } } }";
    app.query_ok(&token, one_alias, json!({})).await;
    let directives = "{ skills @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) { slug } }";
    assert_eq!(
        app.query_error_code(&token, directives, json!({})).await,
        "BAD_USER_INPUT"
    );
}

async fn pages_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    for first in [0, -5, 101] {
        let (_, body) = app
            .graphql(
                &token,
                "query($n: Int) { programmes(first: $n) { edges { cursor } } }",
                json!({ "n": first }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "first = {first}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "first");
    }
}

async fn introspection_and_suggestions_are_off_outside_dev_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let (_, body) = app
        .graphql(
            &token,
            r#"{ __schema { types { name } } __type(name: "Employee") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");
    assert_eq!(body["data"]["__type"], Value::Null, "{body}");
    let (_, body) = app.graphql(&token, "{ skils { slug } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

async fn introspection_works_in_dev_mode(backend: Backend) {
    let app = TestApp::spawn_dev(backend, &[]).await;
    let token = app.token(None, &["admin"]).await;
    let data = app
        .query_ok(&token, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let page = app
        .client()
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("graphiql"));
}

async fn dev_mode_off_serves_no_graphiql_and_accepts_no_dev_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app
        .client()
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let token = app.dev_token(None, &["admin"], 600).await;
    let (status, body) = app.graphql(&token, "{ skills { slug } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

async fn invalid_arguments_are_bad_user_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let code = app
        .query_error_code(
            &token,
            r#"{ programme(id: "not-a-uuid") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app.query_error_code(&token, "{ nothing }", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
}

both!(
    bodies_are_capped_also_after_decompression,
    only_json_and_upload_posts_are_accepted,
    mutations_are_refused_over_get,
    batches_are_capped,
    me_after_a_mutation_in_a_batch_is_current,
    depth_complexity_and_directives_are_limited,
    pages_are_bounded,
    introspection_and_suggestions_are_off_outside_dev_mode,
    introspection_works_in_dev_mode,
    dev_mode_off_serves_no_graphiql_and_accepts_no_dev_token,
    invalid_arguments_are_bad_user_input,
);

/// GraphQL spec, "Serialization": a response's keys keep the order of the
/// query. The same request twice gives the same bytes.
async fn identical_requests_get_byte_identical_responses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let query = "query Ordered { z: skills { slug name category id } me { id } a: skills { id ...Named category ... on Skill { slug name } } programmes(first: 5) { pageInfo { hasNextPage endCursor } edges { cursor node { status name id } } } } fragment Named on Skill { name }";
    let body = serde_json::to_vec(&json!({ "query": query, "operationName": "Ordered" })).unwrap();
    let mut answers = Vec::new();
    for _ in 0..20 {
        let response = app
            .client()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        answers.push(response.bytes().await.unwrap());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    let text = String::from_utf8(answers[0].to_vec()).unwrap();
    let position = |key: &str| text.find(key).unwrap();
    assert!(position("\"z\"") < position("\"me\""), "{text}");
    assert!(position("\"me\"") < position("\"a\""), "{text}");
    assert!(position("\"a\"") < position("\"programmes\""), "{text}");
    let first_skill = &text[position("\"z\"")..position("\"me\"")];
    assert!(
        first_skill.find("slug") < first_skill.find("name")
            && first_skill.find("name") < first_skill.find("category"),
        "{first_skill}"
    );
}

both!(identical_requests_get_byte_identical_responses);
