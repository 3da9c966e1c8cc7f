//! Nested fields are batched (DataLoaders): a query's SQL statement count
//! does not grow with the number of rows it returns.

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ProgrammeStatus, SessionStatus};
use entity::{goal, session_feedback};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
};

const MY_PAIRINGS: &str = "{ myPairings { mentor { displayName } mentees { displayName } sessions { edges { node { topics { slug } feedback { rating author { displayName } } } } } goals { description } } }";

/// Adds `count` pairings of Max, each with two held sessions, feedback from
/// both participants, and a goal.
async fn add_pairings(app: &TestApp, programme: Uuid, max: Uuid, from: usize, count: usize) {
    let now = Utc::now();
    for n in from..from + count {
        let mentor = insert_employee(&app.db, Person::new(&format!("Mentor {n:02}"), 2)).await;
        let pairing =
            insert_pairing(&app.db, programme, mentor, &[max], PairingStatus::Active).await;
        for week in 1..=2 {
            let starts = now - Duration::weeks(week) - Duration::hours(n as i64);
            let session = insert_session(&app.db, pairing, starts, SessionStatus::Held, None).await;
            for author in [mentor, max] {
                session_feedback::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    session_id: Set(session),
                    author_id: Set(author),
                    rating: Set(5),
                    recommend: Set(Some(9)),
                    comment: Set(None),
                    submitted_at: Set(now),
                }
                .insert(&app.db)
                .await
                .unwrap();
            }
        }
        goal::ActiveModel {
            id: Set(Uuid::now_v7()),
            pairing_id: Set(pairing),
            skill_id: Set(None),
            description: Set(format!("Goal {n}")),
            status: Set(entity::enums::GoalStatus::Open),
            due_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
}

async fn statements_for(app: &TestApp, token: &str, expected_pairings: usize) -> u64 {
    let before = app.statements();
    let data = app.query_ok(token, MY_PAIRINGS, json!({})).await;
    let pairings = data["myPairings"].as_array().unwrap();
    assert_eq!(pairings.len(), expected_pairings);
    assert!(
        pairings
            .iter()
            .all(|p| p["sessions"]["edges"].as_array().unwrap().len() == 2)
    );
    app.statements() - before
}

async fn my_pairings_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let token = app.token(Some("max.mentee@corp.example"), &[]).await;
    add_pairings(&app, programme, max, 0, 2).await;
    let few = statements_for(&app, &token, 2).await;
    add_pairings(&app, programme, max, 2, 8).await;
    let many = statements_for(&app, &token, 10).await;
    // Loads of one round may or may not share a batch with another round's,
    // depending on scheduling (±1 statement); an N+1 on any relation would
    // add at least 8 statements for the 8 extra pairings.
    assert!(
        many < few + 4,
        "{few} statements for 2 pairings, {many} for 10"
    );
    // Once per request: the caller, the caller's employee scope (3 statements,
    // since mentors and mentees apply it), then one batch per relation and
    // round; rounds may split under load (±1 each).
    assert!(many <= 17, "{many} statements");
}

both!(my_pairings_costs_a_fixed_number_of_statements);
