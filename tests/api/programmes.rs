//! `programme` and `programmes`.

use entity::enums::ProgrammeStatus;
use entity::programme;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_programme};

const LIST: &str = "query($after: String, $status: ProgrammeStatus) { programmes(first: 2, after: $after, status: $status) { edges { node { name status } } pageInfo { hasNextPage endCursor } } }";

async fn all_pages(app: &TestApp, token: &str, status: Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query_ok(token, LIST, json!({ "after": after, "status": status }))
            .await;
        let connection = &data["programmes"];
        for edge in connection["edges"].as_array().unwrap() {
            names.push(edge["node"]["name"].as_str().unwrap().to_owned());
        }
        if connection["pageInfo"]["hasNextPage"] == false {
            return names;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

async fn drafts_are_for_admins_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Eve Employee", 3)).await;
    let draft = insert_programme(&app.db, "B draft", ProgrammeStatus::Draft).await;
    let open = insert_programme(&app.db, "A open", ProgrammeStatus::Enrolling).await;
    insert_programme(&app.db, "C active", ProgrammeStatus::Active).await;
    insert_programme(&app.db, "D closed", ProgrammeStatus::Closed).await;
    let admin = app.token(None, &["admin"]).await;
    let employee = app.token(Some("eve.employee@corp.example"), &[]).await;
    assert_eq!(
        all_pages(&app, &admin, Value::Null).await,
        ["A open", "B draft", "C active", "D closed"]
    );
    assert_eq!(
        all_pages(&app, &employee, Value::Null).await,
        ["A open", "C active", "D closed"]
    );
    assert_eq!(
        all_pages(&app, &employee, json!("ACTIVE")).await,
        ["C active"]
    );
    let one = "query($id: UUID!) { programme(id: $id) { name purpose status format maxMenteesPerMentor requiresMentorTraining sponsor { id } } }";
    assert_eq!(
        app.query_error_code(&employee, one, json!({ "id": draft }))
            .await,
        "NOT_FOUND"
    );
    let data = app.query_ok(&admin, one, json!({ "id": draft })).await;
    assert_eq!(data["programme"]["status"], "DRAFT");
    let data = app.query_ok(&employee, one, json!({ "id": open })).await;
    assert_eq!(data["programme"]["format"], "GROUP");
    assert_eq!(data["programme"]["maxMenteesPerMentor"], 3);
}

async fn the_hris_account_cannot_read_programmes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hris = app.token(None, &["hris"]).await;
    assert_eq!(
        app.query_error_code(&hris, "{ programmes { edges { cursor } } }", json!({}))
            .await,
        "FORBIDDEN"
    );
    let analyst = app.token(None, &["analyst"]).await;
    app.query_ok(&analyst, "{ programmes { edges { cursor } } }", json!({}))
        .await;
}

async fn analysts_never_see_the_sponsor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Eve Employee", 3)).await;
    let ceo = insert_employee(&app.db, Person::new("Carla Ceo", 9)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    programme::ActiveModel {
        id: Set(programme),
        sponsor_id: Set(Some(ceo)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let query = "query($id: UUID!) { programme(id: $id) { sponsor { displayName } } }";
    for (token, expected) in [
        (
            app.token(Some("eve.employee@corp.example"), &[]).await,
            json!({ "displayName": "Carla Ceo" }),
        ),
        (
            app.token(None, &["admin"]).await,
            json!({ "displayName": "Carla Ceo" }),
        ),
        (app.token(None, &["analyst"]).await, Value::Null),
    ] {
        let data = app
            .query_ok(&token, query, json!({ "id": programme }))
            .await;
        assert_eq!(data["programme"]["sponsor"], expected);
    }
}

both!(
    analysts_never_see_the_sponsor,
    drafts_are_for_admins_only,
    the_hris_account_cannot_read_programmes
);
