//! SCIM 2.0 users as Entra ID and Okta provision them: the same rules as
//! the HRIS push, SCIM's wire format and status codes.

use entity::employee;
use entity::enums::{EmployeeStatus, PairingStatus, ProgrammeStatus};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme};

/// Sends one SCIM request; answers the status and the JSON body (Null if none).
async fn scim(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client()
        .request(method, format!("{}/scim/v2{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status != StatusCode::NO_CONTENT {
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/scim+json", "{path}");
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn stored(app: &TestApp, email: &str) -> employee::Model {
    employee::Entity::find()
        .filter(employee::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn entra_id_provisions_updates_disables_and_deletes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["hris"]).await;
    let lookup = "/Users?filter=userName%20eq%20%22Alex.Doe%40corp.example%22";
    let (status, found) = scim(&app, &token, Method::GET, lookup, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["totalResults"], 0);
    assert_eq!(
        found["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "AD-0042",
        "userName": "Alex.Doe@corp.example",
        "active": true,
        "displayName": "Alex Doe",
        "title": "Data protection officer",
        "preferredLanguage": "fr-FR",
        "emails": [{ "primary": true, "type": "work", "value": "Alex.Doe@corp.example" }],
        "name": { "givenName": "Alex", "familyName": "Doe", "formatted": "Alex Doe" },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Legal" },
    });
    let (status, created) = scim(&app, &token, Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["userName"], "alex.doe@corp.example");
    assert_eq!(created["externalId"], "AD-0042");
    assert_eq!(created["active"], true);
    assert_eq!(created["name"]["givenName"], "Alex");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, again) = scim(&app, &token, Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["scimType"], "uniqueness");

    let (_, found) = scim(&app, &token, Method::GET, lookup, None).await;
    assert_eq!(
        found["totalResults"], 1,
        "userName matches case-insensitively"
    );
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    let rename = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "Replace", "path": "displayName", "value": "Alex M. Doe" },
            { "op": "Replace", "path": "name.familyName", "value": "M. Doe" },
            { "op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+33 1 23 45 67 89" },
        ]
    });
    let (status, renamed) = scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(rename),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["displayName"], "Alex M. Doe");
    assert_eq!(
        renamed["name"]["givenName"], "Alex",
        "untouched attributes stay"
    );

    let disable = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": "False" }]
    });
    let (status, disabled) = scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(disable),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["active"], false);
    assert_eq!(
        stored(&app, "alex.doe@corp.example").await.status,
        EmployeeStatus::Terminated
    );

    let (status, _) = scim(&app, &token, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, kept) = scim(&app, &token, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a deleted user is deactivated, never erased"
    );
    assert_eq!(kept["active"], false);
}

async fn okta_provisions_replaces_and_deactivates_a_participant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(None, &["hris"]).await;
    let mentee = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let (status, page) = scim(
        &app,
        &token,
        Method::GET,
        "/Users?startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 1);

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "mia.mentor@corp.example",
        "name": { "givenName": "Mia", "familyName": "Mentor" },
        "emails": [{ "primary": true, "value": "mia.mentor@corp.example", "type": "work" }],
        "displayName": "Mia Mentor",
        "locale": "en-US",
        "active": true,
        "password": "ignored-by-tandem",
    });
    let (status, created) = scim(&app, &token, Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["externalId"], "mia.mentor@corp.example",
        "externalId defaults to userName"
    );
    let mia = stored(&app, "mia.mentor@corp.example").await.id;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let pairing = insert_pairing(&app.db, programme, mia, &[mentee], PairingStatus::Active).await;

    let (status, fetched) = scim(&app, &token, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["meta"]["resourceType"], "User");

    let mut replaced = user.clone();
    replaced["id"] = json!(id);
    replaced["name"]["familyName"] = json!("Mentor-Smith");
    replaced["displayName"] = json!("Mia Mentor-Smith");
    let (status, body) = scim(
        &app,
        &token,
        Method::PUT,
        &format!("/Users/{id}"),
        Some(replaced),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"]["familyName"], "Mentor-Smith");

    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": false } }]
    });
    let (status, body) = scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(deactivate),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let ended = entity::pairing::Entity::find_by_id(pairing)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ended.status,
        PairingStatus::EndedEarly,
        "the leaver's pairing ends"
    );

    let reactivate = json!({ "Operations": [{ "op": "replace", "value": { "active": true } }] });
    let (status, body) = scim(
        &app,
        &token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(reactivate),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], true);
}

async fn scim_refuses_bad_requests_in_its_own_format(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hris = app.token(None, &["hris"]).await;
    let admin = app.token(None, &["admin"]).await;
    insert_employee(&app.db, Person::new("Taken Name", 4)).await;
    let (status, body) = scim(&app, &admin, Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let (status, _) = scim(&app, "not-a-token", Method::GET, "/Users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cases = [
        (
            json!({ "userName": "not an email" }),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({ "userName": "x@corp.example", "timezone": "Mars/Base" }),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({ "userName": "x@corp.example", "active": "maybe" }),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({ "displayName": "Nobody" }),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({ "userName": "taken.name@corp.example", "externalId": "NEW" }),
            StatusCode::CONFLICT,
            "uniqueness",
        ),
    ];
    for (user, status, kind) in cases {
        let (got, body) = scim(&app, &hris, Method::POST, "/Users", Some(user.clone())).await;
        assert_eq!(got, status, "{user}: {body}");
        assert_eq!(body["scimType"], kind, "{user}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, body) = scim(
        &app,
        &hris,
        Method::GET,
        "/Users?filter=title%20co%20%22x%22",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");
    for id in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"] {
        let (status, _) = scim(&app, &hris, Method::GET, &format!("/Users/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // Bodies over 64 KiB, just over and far over actix's own 256 KiB limit:
    // always SCIM's error, never a plain-text 413.
    for size in [65 * 1024, 300 * 1024, 4 * 1024 * 1024] {
        let user = json!({ "userName": "big@corp.example", "title": "x".repeat(size) });
        let (status, body) = scim(&app, &hris, Method::POST, "/Users", Some(user)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{size}");
        assert_eq!(body["scimType"], "tooLarge", "{size}: {body}");
    }
    let (status, config) = scim(&app, &hris, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
}

both!(
    entra_id_provisions_updates_disables_and_deletes,
    okta_provisions_replaces_and_deactivates_a_participant,
    scim_refuses_bad_requests_in_its_own_format,
);
