//! Trusted documents: the manifest a front-end's build emits, requests by
//! id (GraphQL Code Generator's `documentId`, Apollo's persisted query
//! hash) and the three modes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee};

const ME: &str = "query Me { me { displayName } }";
const OTHER: &str = "{ __typename }";
const SYNC: &str = "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { failed } }";

fn sha256(text: &str) -> String {
    tandem::graphql::trusted::hash_of(text)
}

/// A manifest as GraphQL Code Generator's client preset writes it.
fn manifest(dir: &tempfile::TempDir) -> String {
    let mut map = serde_json::Map::new();
    map.insert(sha256(ME), Value::from(ME));
    // The HRIS connector's document belongs in the manifest too.
    map.insert(sha256(SYNC), Value::from(SYNC));
    let path = dir.path().join("persisted-documents.json");
    std::fs::write(&path, Value::Object(map).to_string()).unwrap();
    path.display().to_string()
}

async fn app_in(backend: Backend, mode: &str, dev: bool) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = manifest(&dir);
    let settings = [
        ("GRAPHQL_TRUSTED_DOCUMENTS", path.as_str()),
        ("GRAPHQL_TRUSTED_DOCUMENTS_MODE", mode),
    ];
    let app = if dev {
        TestApp::spawn_dev(backend, &settings).await
    } else {
        TestApp::spawn_with(backend, &settings).await
    };
    insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    (app, dir)
}

fn refused(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::BAD_REQUEST
        && body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
}

async fn each_mode_does_what_it_says(backend: Backend) {
    for mode in ["off", "log", "enforce"] {
        let (app, _dir) = app_in(backend.clone(), mode, false).await;
        let mia = app.token(Some("mia.mentor@corp.example"), &[]).await;

        // By id, in every mode: Code Generator's documentId, with or
        // without its prefix, and Apollo's persisted query extension.
        for body in [
            json!({ "documentId": format!("sha256:{}", sha256(ME)) }),
            json!({ "documentId": sha256(ME) }),
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(ME) } } }),
        ] {
            let (status, answer) = app.post_graphql(&mia, body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{mode} {body}: {answer}");
            assert_eq!(answer["data"]["me"]["displayName"], "Mia Mentor", "{mode}");
        }
        let (status, answer) = app
            .post_graphql(&mia, json!({ "documentId": sha256(OTHER) }))
            .await;
        assert!(refused(status, &answer), "{mode}: an unknown id: {answer}");

        // A text in the manifest always runs; one that is not depends on
        // the mode.
        let (status, _) = app.post_graphql(&mia, json!({ "query": ME })).await;
        assert_eq!(status, StatusCode::OK, "{mode}");
        let (status, answer) = app.post_graphql(&mia, json!({ "query": OTHER })).await;
        if mode == "enforce" {
            assert!(refused(status, &answer), "{answer}");
        } else {
            assert_eq!(answer["data"]["__typename"], "Query", "{mode}: {answer}");
        }
        // A text must be the document its id names.
        let (status, answer) = app
            .post_graphql(&mia, json!({ "query": OTHER, "documentId": sha256(ME) }))
            .await;
        assert!(refused(status, &answer), "{mode}: {answer}");
        // A text with an id that is not in the manifest is judged as a
        // text (an Apollo client's first try, while migrating).
        let (status, answer) = app.post_graphql(&mia,
            json!({ "query": OTHER, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(OTHER) } } }),
        )
        .await;
        if mode == "enforce" {
            assert!(refused(status, &answer), "{answer}");
        } else {
            assert_eq!(status, StatusCode::OK, "{mode}: {answer}");
        }

        // The HRIS connector's push is in the manifest: it runs in every mode.
        let hris = app.token(None, &["hris"]).await;
        let push = json!({ "input": { "mode": "UPSERT", "source": "workday", "employees": [] } });
        let (status, answer) = app
            .post_graphql(&hris, json!({ "query": SYNC, "variables": push }))
            .await;
        assert_eq!(status, StatusCode::OK, "{mode}: {answer}");
        assert_eq!(answer["data"]["syncEmployees"]["failed"], 0);
    }
}

async fn a_get_request_names_its_document_by_id(backend: Backend) {
    let (app, _dir) = app_in(backend, "enforce", false).await;
    let mia = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let get = |parameters: Vec<(&'static str, String)>| {
        let request = app
            .client()
            .get(format!("{}/graphql", app.address))
            .bearer_auth(&mia)
            .query(&parameters);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, answer) = get(vec![("documentId", format!("sha256:{}", sha256(ME)))]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["me"]["displayName"], "Mia Mentor");
    let (status, answer) = get(vec![("documentId", sha256(OTHER))]).await;
    assert!(refused(status, &answer), "{answer}");
    let (status, answer) = get(vec![("query", OTHER.to_owned())]).await;
    assert!(refused(status, &answer), "{answer}");
}

async fn dev_mode_is_not_enforced(backend: Backend) {
    let (app, _dir) = app_in(backend, "enforce", true).await;
    let token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let (status, answer) = app.post_graphql(&token, json!({ "query": OTHER })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

both!(
    each_mode_does_what_it_says,
    a_get_request_names_its_document_by_id,
    dev_mode_is_not_enforced
);
