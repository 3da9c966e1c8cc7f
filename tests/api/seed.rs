//! `seed-demo` builds the same company for the same seed, on both databases.

use chrono::NaiveDate;
use entity::employee;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;
use tandem::domain::seed::{SeedOptions, seed_demo};

use crate::both;
use crate::helpers::{Backend, TestApp};

fn options(seed: u64) -> SeedOptions {
    SeedOptions {
        employees: 60,
        seed,
        anchor: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    }
}

async fn the_demo_company_is_deterministic_and_queryable(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let second = TestApp::spawn(backend).await;
    let summary = seed_demo(&first.db, &options(7)).await.unwrap();
    assert_eq!(seed_demo(&second.db, &options(7)).await.unwrap(), summary);
    assert_eq!(summary.employees, 60);
    assert_eq!(summary.programmes, 5);
    assert!(summary.pairings > 0 && summary.sessions > 0, "{summary:?}");
    let rows = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            employee::Entity::find()
                .order_by_asc(employee::Column::Id)
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.id, e.email, e.manager_id, e.seniority_level))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(rows(&first).await, rows(&second).await);
    assert!(
        seed_demo(&first.db, &options(7)).await.is_err(),
        "a second seed is refused"
    );
    let admin = first.token(None, &["admin"]).await;
    let data = first
        .query_ok(
            &admin,
            "{ programmes { edges { node { name status sponsor { displayName } } } } }",
            json!({}),
        )
        .await;
    let statuses: Vec<&str> = data["programmes"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["status"].as_str().unwrap())
        .collect();
    for status in ["DRAFT", "ENROLLING", "MATCHING", "ACTIVE", "CLOSED"] {
        assert!(statuses.contains(&status), "{status}");
    }
}

both!(the_demo_company_is_deterministic_and_queryable);
