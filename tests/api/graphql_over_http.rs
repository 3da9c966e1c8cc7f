//! GraphQL over HTTP conformance: the graphql-http package's own server
//! audits run against the real server (Node, as `.ci/run` installs it in
//! `tests/js`), and the behaviours they check, asserted one by one.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Each audit's result, as `tests/js/graphql-http-audit.mjs` prints them.
fn audit(address: &str, token: &str) -> Vec<Value> {
    let js = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/graphql-http").is_dir(),
        "the conformance test needs the audit suite: npm ci --prefix tests/js"
    );
    let output = std::process::Command::new("node")
        .arg(js.join("graphql-http-audit.mjs"))
        .arg(format!("{address}/graphql"))
        .arg(token)
        .output()
        .expect("node runs (Node.js 20 or later)");
    assert!(
        output.status.success(),
        "the audit failed to run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON line per audit"))
        .collect()
}

async fn the_graphql_http_audit_passes_every_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["analyst"]).await;
    // Node runs off the runtime's threads: the server answers it meanwhile.
    let address = app.address.clone();
    let results = tokio::task::spawn_blocking(move || audit(&address, &token))
        .await
        .unwrap();
    assert!(results.len() >= 30, "the suite ran: {results:?}");
    let failed: Vec<&Value> = results.iter().filter(|r| r["status"] != "ok").collect();
    assert!(failed.is_empty(), "audits not passed: {failed:#?}");
}

/// POSTs `body` with `accept`; answers status, Content-Type and JSON body.
async fn post_accepting(
    app: &TestApp,
    token: &str,
    accept: Option<&str>,
    body: &Value,
) -> (StatusCode, String, Value) {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    (
        status,
        content_type,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn each_client_gets_the_media_type_it_accepts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["analyst"]).await;
    let ok = json!({ "query": "{ __typename }" });
    for accept in [Some("application/json"), Some("*/*"), None] {
        let (status, content_type, body) = post_accepting(&app, &token, accept, &ok).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            content_type.starts_with("application/json"),
            "{accept:?}: {content_type}"
        );
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let both = "application/json;q=0.9, application/graphql-response+json";
    let (_, content_type, _) = post_accepting(&app, &token, Some(both), &ok).await;
    assert!(content_type.starts_with(GRAPHQL_RESPONSE), "{content_type}");
    let (status, _, body) = post_accepting(&app, &token, Some("text/html"), &ok).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

async fn request_errors_answer_by_media_type_without_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["analyst"]).await;
    let failures = [
        json!({ "query": "{" }),
        json!({ "query": "{ noSuchField }" }),
        json!({ "query": "query($id: UUID!) { employee(id: $id) { id } }", "variables": { "id": null } }),
        // A list of a type the schema lacks (async-graphql 7.2 would panic).
        json!({ "query": "query($x: [Nope] = [1]) { __typename }" }),
    ];
    for body in &failures {
        let (status, content_type, answer) =
            post_accepting(&app, &token, Some(GRAPHQL_RESPONSE), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(content_type.starts_with(GRAPHQL_RESPONSE));
        assert!(answer.get("data").is_none(), "{body}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        let (status, content_type, answer) =
            post_accepting(&app, &token, Some("application/json"), body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        assert!(content_type.starts_with("application/json"));
        assert!(answer.get("data").is_none(), "{body}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // A field error is not a request error: 200 with the data that exists.
    let missing = json!({
        "query": "{ __typename employee(id: \"00000000-0000-4000-8000-000000000000\") { id } }"
    });
    let (status, _, answer) = post_accepting(&app, &token, Some(GRAPHQL_RESPONSE), &missing).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");
    // A mutation that ran and failed is not a request error either: 200,
    // with `data` null, so a client never retries it as if it had not run.
    insert_employee(&app.db, Person::new("Rae Runner", 3)).await;
    let rae = app.token(Some(&Person::email("Rae Runner")), &[]).await;
    let failed = json!({
        "query": "mutation { withdrawEnrolment(id: \"00000000-0000-4000-8000-000000000000\") { id } }"
    });
    let (status, _, answer) = post_accepting(&app, &rae, Some(GRAPHQL_RESPONSE), &failed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("data").is_some_and(Value::is_null), "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "NOT_FOUND");
    // Our own limits stay 400 whatever the client accepts.
    let deep = format!("{}{}", "{ a ".repeat(200), "}".repeat(200));
    let (status, _, _) = post_accepting(
        &app,
        &token,
        Some("application/json"),
        &json!({ "query": deep }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn get_reads_operation_name_as_the_specification_spells_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["analyst"]).await;
    let get = |query: Vec<(&'static str, &'static str)>| {
        let request = app
            .client()
            .get(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .query(&query);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let two = "query A { first: __typename } query B { second: __typename }";
    let (status, body) = get(vec![("query", two), ("operationName", "B")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], json!({ "second": "Query" }));
    // async-graphql's old spelling still works for existing clients.
    let (_, body) = get(vec![("query", two), ("operation_name", "A")]).await;
    assert_eq!(body["data"], json!({ "first": "Query" }));
    let (status, _) = get(vec![("query", "{ __typename }"), ("variables", "[1]")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn an_integer_beyond_32_bits_is_refused_even_in_an_operation_not_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["admin"]).await;
    let document = "query A { __typename } \
        mutation B { createProgramme(input: { name: \"x\", purpose: \"y\", \
        format: ONE_TO_ONE, maxMenteesPerMentor: 2147483648 }) { id } }";
    let body = json!({ "query": document, "operationName": "A" });
    let (status, _, answer) = post_accepting(&app, &token, Some(GRAPHQL_RESPONSE), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("outside Int's range"), "{message}");
}

both!(
    the_graphql_http_audit_passes_every_check,
    each_client_gets_the_media_type_it_accepts,
    request_errors_answer_by_media_type_without_data,
    get_reads_operation_name_as_the_specification_spells_it,
    an_integer_beyond_32_bits_is_refused_even_in_an_operation_not_run,
);
