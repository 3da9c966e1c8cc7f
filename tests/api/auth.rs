//! Authentication against the identity provider's JWKS: every request needs a
//! valid bearer token, every refusal is the same 401, and forged tokens of
//! every known kind are refused.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::enums::EmployeeStatus;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};
use crate::idp::{self, TestIdp, TestKey};

const ME: &str = "{ me { displayName email } }";
const ALICE: &str = "alice.martin@corp.example";

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

async fn assert_refused(response: reqwest::Response, challenge: &str, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(response.headers()["www-authenticate"], challenge, "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{case}"
    );
    assert_eq!(
        body["errors"][0]["message"], "authentication required",
        "no detail of the failed check: {case}"
    );
}

async fn assert_token_refused(app: &TestApp, token: &str, case: &str) {
    let response = post_me(app, Some(&format!("Bearer {token}"))).await;
    assert_refused(response, r#"Bearer error="invalid_token""#, case).await;
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Claims of a valid token for Alice, changed by `edit`.
fn alice_claims(edit: impl FnOnce(&mut Value)) -> Value {
    let mut claims = idp::claims(Some(ALICE), &[]);
    edit(&mut claims);
    claims
}

/// The forged tokens of the issue's table, each with its name.
fn forged_tokens(app: &TestApp) -> Vec<(&'static str, String)> {
    let key = &app.key;
    let valid = key.sign(&alice_claims(|_| {}));
    let parts: Vec<&str> = valid.split('.').collect();
    let now = chrono::Utc::now().timestamp();
    let stranger = TestKey::es256(&key.kid);
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(key.kid.clone());
    let confused = jsonwebtoken::encode(
        &hs256,
        &alice_claims(|_| {}),
        &EncodingKey::from_secret(&key.public_bytes),
    )
    .unwrap();
    let mut jku = Header::new(key.algorithm);
    jku.kid = Some(key.kid.clone());
    jku.jku = Some("https://attacker.example/jwks".into());
    let mut path_kid = Header::new(key.algorithm);
    path_kid.kid = Some("../../../../etc/passwd".into());
    let admin_claims = b64(&alice_claims(|c| c["roles"] = json!(["admin"])));
    vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": key.kid})),
                parts[1]
            ),
        ),
        ("HS256 signed with the public key", confused),
        (
            "tampered claims",
            format!("{}.{}.{}", parts[0], admin_claims, parts[2]),
        ),
        ("stripped signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "a stranger's key with a known kid",
            stranger.sign(&alice_claims(|_| {})),
        ),
        (
            "expired",
            key.sign(&alice_claims(|c| c["exp"] = json!(now - 3600))),
        ),
        (
            "not yet valid",
            key.sign(&alice_claims(|c| c["nbf"] = json!(now + 3600))),
        ),
        (
            "wrong iss",
            key.sign(&alice_claims(|c| c["iss"] = json!("https://evil.example"))),
        ),
        (
            "wrong aud",
            key.sign(&alice_claims(|c| c["aud"] = json!("someone-else"))),
        ),
        (
            "no aud",
            key.sign(&alice_claims(|c| {
                drop(c.as_object_mut().unwrap().remove("aud"))
            })),
        ),
        (
            "no iss",
            key.sign(&alice_claims(|c| {
                drop(c.as_object_mut().unwrap().remove("iss"))
            })),
        ),
        (
            "no exp",
            key.sign(&alice_claims(|c| {
                drop(c.as_object_mut().unwrap().remove("exp"))
            })),
        ),
        (
            "path-like kid",
            key.sign_with(path_kid, &alice_claims(|_| {})),
        ),
        ("jku header", key.sign_with(jku, &alice_claims(|_| {}))),
        ("garbage", "not-a-token".to_owned()),
        ("empty segments", "..".to_owned()),
        (
            "100 KB token",
            format!("{}.{}.{}", parts[0], "A".repeat(100 * 1024), parts[2]),
        ),
    ]
}

async fn forged_tokens_are_all_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let valid = app.token(Some(ALICE), &[]).await;
    let data = app.query_ok(&valid, ME, json!({})).await;
    assert_eq!(
        data["me"]["displayName"], "Alice Martin",
        "the genuine token is accepted"
    );
    for (case, token) in forged_tokens(&app) {
        assert_token_refused(&app, &token, case).await;
    }
    // Past actix-web's 128 KiB header buffer the HTTP layer refuses the
    // request itself (431) before any token code runs.
    let huge = format!("Bearer {}", "A".repeat(200 * 1024));
    let response = post_me(&app, Some(&huge)).await;
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "200 KB token"
    );
    let dev = app.dev_token(Some(ALICE), &["admin"], 600).await;
    assert_token_refused(&app, &dev, "a dev-mode token when SSO is configured").await;
}

async fn missing_or_non_bearer_credentials_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_refused(post_me(&app, None).await, "Bearer", "no header").await;
    let basic = post_me(&app, Some("Basic YWxpY2U6c2VjcmV0")).await;
    assert_refused(basic, r#"Bearer error="invalid_token""#, "basic").await;
}

async fn rs256_ps256_and_es256_tokens_are_accepted(backend: Backend) {
    let es = TestKey::es256("ec-1");
    let rs = TestKey::rsa("rsa-rs", Algorithm::RS256);
    let ps = TestKey::rsa("rsa-ps", Algorithm::PS256);
    let idp = TestIdp::start(&[&es, &rs, &ps]).await;
    let app = TestApp::start(backend, idp, es.clone(), false, &[]).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    for key in [&es, &rs, &ps] {
        let token = key.sign(&alice_claims(|_| {}));
        let data = app.query_ok(&token, ME, json!({})).await;
        assert_eq!(data["me"]["email"], ALICE, "{:?}", key.algorithm);
    }
    // The RSA key allows RS and PS, but a token may not switch an EC key to RSA.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(es.kid.clone());
    let switched = rs.sign_with(header, &alice_claims(|_| {}));
    assert_token_refused(&app, &switched, "RS256 under an EC key's kid").await;
}

async fn the_identity_claim_matches_email_case_insensitively(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let token = app.token(Some("Alice.Martin@Corp.Example"), &[]).await;
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"]["email"], ALICE);
}

async fn the_identity_claim_can_be_the_external_id(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("AUTH_IDENTITY_CLAIM", "employee_id")]).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let token = app.key.sign(&alice_claims(|c| {
        c["employee_id"] = json!("X-Alice-Martin")
    }));
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"]["email"], ALICE);
}

async fn service_accounts_carry_roles_only(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("AUTH_ROLES_CLAIM", "realm_access.roles"),
            ("AUTH_ROLE_MAP", "admin=HR.Mentoring.Admin"),
        ],
    )
    .await;
    let mut claims = idp::claims(None, &[]);
    claims["realm_access"] = json!({ "roles": ["HR.Mentoring.Admin"] });
    let token = app.key.sign(&claims);
    let data = app
        .query_ok(
            &token,
            "{ me { id } employees(first: 1) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"], Value::Null);
    let mut raw = idp::claims(None, &[]);
    raw["realm_access"] = json!({ "roles": ["admin"] });
    let unmapped = app.key.sign(&raw);
    let code = app
        .query_error_code(
            &unmapped,
            "{ employees(first: 1) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code, "FORBIDDEN",
        "role names outside the map grant nothing"
    );
}

async fn a_terminated_employee_opens_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut leaver = Person::new("Bob Leaver", 2);
    leaver.status = EmployeeStatus::Terminated;
    insert_employee(&app.db, leaver).await;
    let token = app.token(Some("bob.leaver@corp.example"), &["admin"]).await;
    assert_token_refused(&app, &token, "terminated").await;
}

async fn a_key_published_while_running_is_accepted_on_first_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let first = app.token(Some(ALICE), &[]).await;
    app.query_ok(&first, ME, json!({})).await;
    let rotated = TestKey::es256("test-key-2");
    app.idp.publish(&rotated);
    let token = rotated.sign(&alice_claims(|_| {}));
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"]["email"], ALICE);
    app.query_ok(&first, ME, json!({})).await;
}

async fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_cooldown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    app.query_ok(&app.token(Some(ALICE), &[]).await, ME, json!({}))
        .await;
    let before = app.idp.fetches();
    let forged: Vec<String> = (0..60)
        .map(|n| TestKey::es256(&format!("forged-{n}")).sign(&alice_claims(|_| {})))
        .collect();
    let mut requests = tokio::task::JoinSet::new();
    for token in forged {
        let request = app
            .client()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(token)
            .json(&json!({ "query": ME }));
        requests.spawn(async move { request.send().await.map(|r| r.status()) });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap().unwrap(), StatusCode::UNAUTHORIZED);
    }
    let extra = app.idp.fetches() - before;
    assert!(
        extra <= 1,
        "{extra} JWKS fetches for 60 unknown kids within one cooldown"
    );
}

async fn the_service_starts_while_the_provider_is_down(backend: Backend) {
    let key = TestKey::es256("test-key-1");
    let idp = TestIdp::start(&[&key]).await;
    idp.set_down(true);
    let app = TestApp::start(backend, idp.clone(), key, false, &[]).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let token = app.token(Some(ALICE), &[]).await;
    assert_token_refused(&app, &token, "no keys yet").await;
    let ready = app
        .client()
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "the service itself is up");
    idp.set_down(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = app.graphql(&token, ME, json!({})).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "keys never arrived after the provider came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn keys_can_come_from_a_file(backend: Backend) {
    let key = TestKey::es256("file-key");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, json!({ "keys": [key.jwk] }).to_string()).unwrap();
    let idp = TestIdp::start(&[]).await;
    let settings = [("AUTH_JWKS_FILE", path.to_str().unwrap())];
    let app = TestApp::start(backend, idp, key, false, &settings).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let data = app
        .query_ok(&app.token(Some(ALICE), &[]).await, ME, json!({}))
        .await;
    assert_eq!(data["me"]["email"], ALICE);
    assert_eq!(app.idp.fetches(), 0, "no request to a provider");
}

const ADMIN_ONLY: &str = "{ employees(first: 1) { edges { cursor } } }";

async fn an_unverified_email_is_never_an_employee(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    for verified in [json!(false), json!("false")] {
        let token = app
            .key
            .sign(&alice_claims(|c| c["email_verified"] = verified.clone()));
        assert_token_refused(&app, &token, "email_verified false").await;
    }
    for verified in [json!(true), Value::Null] {
        let token = app
            .key
            .sign(&alice_claims(|c| c["email_verified"] = verified.clone()));
        let data = app.query_ok(&token, ME, json!({})).await;
        assert_eq!(data["me"]["email"], ALICE);
    }
}

async fn a_token_naming_nobody_gets_no_role_unless_a_service_principal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // An identity-provider account whose email matches no employee.
    let stranger = app
        .key
        .sign(&idp::claims(Some("stranger@elsewhere.example"), &["admin"]));
    assert_eq!(
        app.query_error_code(&stranger, ADMIN_ONLY, json!({})).await,
        "FORBIDDEN"
    );
    // A token with no identity at all, from an unlisted subject.
    let mut unlisted = idp::claims(None, &["admin"]);
    unlisted["sub"] = json!("someone-else");
    let unlisted = app.key.sign(&unlisted);
    assert_eq!(
        app.query_error_code(&unlisted, ADMIN_ONLY, json!({})).await,
        "FORBIDDEN"
    );
    // The configured service principal keeps its roles.
    let service = app.key.sign(&idp::claims(None, &["admin"]));
    app.query_ok(&service, ADMIN_ONLY, json!({})).await;
}

async fn an_immutable_claim_such_as_oid_can_name_the_employee(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("AUTH_IDENTITY_CLAIM", "oid")]).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    // The email claim is ignored: only the oid, matched to the externalId.
    let token = app.key.sign(&json!({
        "iss": idp::ISSUER, "aud": idp::AUDIENCE, "sub": "x",
        "iat": chrono::Utc::now().timestamp(), "nbf": chrono::Utc::now().timestamp(),
        "exp": chrono::Utc::now().timestamp() + 600,
        "oid": "X-Alice-Martin", "email": "someone.else@corp.example",
    }));
    let data = app.query_ok(&token, ME, json!({})).await;
    assert_eq!(data["me"]["email"], ALICE);
    let by_email_only = app.key.sign(&alice_claims(|_| {}));
    let data = app.query_ok(&by_email_only, ME, json!({})).await;
    assert_eq!(data["me"], Value::Null, "an email no longer names anyone");
}

async fn only_access_token_types_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Martin", 3)).await;
    let with_typ = |typ: Option<&str>| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("test-key-1".into());
        header.typ = typ.map(str::to_owned);
        app.key.sign_with(header, &alice_claims(|_| {}))
    };
    for typ in [
        Some("JWT"),
        Some("at+jwt"),
        Some("application/at+JWT"),
        None,
    ] {
        app.query_ok(&with_typ(typ), ME, json!({})).await;
    }
    for typ in ["id+jwt", "JOSE", "logout+jwt"] {
        assert_token_refused(&app, &with_typ(Some(typ)), typ).await;
    }
    // Keycloak types its ID and refresh tokens in a claim.
    let id_token = app.key.sign(&alice_claims(|c| c["typ"] = json!("ID")));
    assert_token_refused(&app, &id_token, "Keycloak ID token").await;
    let access = app.key.sign(&alice_claims(|c| c["typ"] = json!("Bearer")));
    app.query_ok(&access, ME, json!({})).await;

    let strict = TestApp::spawn_with(Backend::Sqlite, &[("AUTH_TOKEN_TYPES", "at+jwt")]).await;
    insert_employee(&strict.db, Person::new("Alice Martin", 3)).await;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-key-1".into());
    let plain = strict.key.sign_with(header.clone(), &alice_claims(|_| {}));
    assert_token_refused(&strict, &plain, "JWT under AUTH_TOKEN_TYPES=at+jwt").await;
    header.typ = Some("at+jwt".into());
    let access = strict.key.sign_with(header, &alice_claims(|_| {}));
    strict.query_ok(&access, ME, json!({})).await;
}

both!(
    an_unverified_email_is_never_an_employee,
    a_token_naming_nobody_gets_no_role_unless_a_service_principal,
    an_immutable_claim_such_as_oid_can_name_the_employee,
    only_access_token_types_are_accepted,
    keys_can_come_from_a_file,
    forged_tokens_are_all_refused,
    missing_or_non_bearer_credentials_are_refused,
    rs256_ps256_and_es256_tokens_are_accepted,
    the_identity_claim_matches_email_case_insensitively,
    the_identity_claim_can_be_the_external_id,
    service_accounts_carry_roles_only,
    a_terminated_employee_opens_nothing,
    a_key_published_while_running_is_accepted_on_first_use,
    a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_cooldown,
    the_service_starts_while_the_provider_is_down,
);
