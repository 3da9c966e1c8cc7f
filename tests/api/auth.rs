//! Every request needs a valid bearer token; refusals are uniform 401s.

use entity::enums::EmployeeStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

const ME: &str = "{ me { displayName email } }";

async fn post_me(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": ME }));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

async fn assert_refused(response: reqwest::Response, challenge: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], challenge);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(
        body["errors"][0]["message"], "authentication required",
        "no detail of the failed check"
    );
}

async fn requests_without_a_valid_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    assert_refused(post_me(&app, None).await, "Bearer").await;
    assert_refused(
        post_me(&app, Some("Basic YWxpY2U6c2VjcmV0")).await,
        r#"Bearer error="invalid_token""#,
    )
    .await;
    assert_refused(
        post_me(&app, Some("Bearer not.a.jwt")).await,
        r#"Bearer error="invalid_token""#,
    )
    .await;
    let expired = app.token_with_ttl(Some("alice.martin@corp.example"), &[], -3600);
    assert_refused(
        post_me(&app, Some(&format!("Bearer {expired}"))).await,
        r#"Bearer error="invalid_token""#,
    )
    .await;
    let valid = app.token(Some("alice.martin@corp.example"), &[]);
    let tampered = format!("{}x", &valid[..valid.len() - 1]);
    assert_refused(
        post_me(&app, Some(&format!("Bearer {tampered}"))).await,
        r#"Bearer error="invalid_token""#,
    )
    .await;
}

async fn a_valid_token_names_the_caller_case_insensitively(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let token = app.token(Some("Alice.Martin@Corp.Example"), &[]);
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"]["displayName"], "Alice Martin");
    assert_eq!(data["me"]["email"], "alice.martin@corp.example");
}

async fn service_accounts_have_no_me(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["hris"]);
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"], Value::Null);
}

async fn a_terminated_employee_opens_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut leaver = Person::new("Bob Leaver", 2);
    leaver.status = EmployeeStatus::Terminated;
    insert_employee(&app.db, leaver).await;
    let token = app.token(Some("bob.leaver@corp.example"), &["admin"]);
    assert_refused(
        post_me(&app, Some(&format!("Bearer {token}"))).await,
        r#"Bearer error="invalid_token""#,
    )
    .await;
}

both!(
    requests_without_a_valid_token_are_refused,
    a_valid_token_names_the_caller_case_insensitively,
    service_accounts_have_no_me,
    a_terminated_employee_opens_nothing,
);
