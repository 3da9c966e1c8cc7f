//! `setSkillProfile` and `submitSkillAssessment`.

use entity::enums::{ParticipantRole, ProgrammeStatus};
use entity::skill_assessment;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_programme,
};

const SET: &str = "mutation($e: [SkillProfileInput!]!) { setSkillProfile(entries: $e) { skill { slug } direction level } }";
const ASSESS: &str = "mutation($p: UUID!, $ph: AssessmentPhase!, $e: [SkillAssessmentInput!]!) { submitSkillAssessment(programmeId: $p, phase: $ph, entries: $e) }";

async fn skill_ids(app: &TestApp, token: &str) -> (Value, Value) {
    let data = app
        .query_ok(token, "{ skills { id slug } }", json!({}))
        .await;
    let find = |slug: &str| {
        data["skills"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["slug"] == slug)
            .unwrap()["id"]
            .clone()
    };
    (find("seo"), find("linkedin"))
}

async fn employees_replace_their_own_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let mia = app.token(Some("mia.mentor@corp.example"), &[]).await;
    let (seo, linkedin) = skill_ids(&app, &mia).await;
    let first = json!({ "e": [{ "skillId": seo, "direction": "OFFERS", "level": 4 }, { "skillId": seo, "direction": "WANTS", "level": 2 }] });
    assert_eq!(
        app.query_ok(&mia, SET, first).await["setSkillProfile"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let second = json!({ "e": [{ "skillId": linkedin, "direction": "OFFERS", "level": 3 }] });
    let data = app.query_ok(&mia, SET, second).await;
    assert_eq!(
        data["setSkillProfile"],
        json!([{ "skill": { "slug": "linkedin" }, "direction": "OFFERS", "level": 3 }])
    );
    let me = app
        .query_ok(
            &mia,
            "{ me { skills { skill { slug } level } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["skills"].as_array().unwrap().len(),
        1,
        "replaced, not added"
    );
    let cases = [
        (
            json!({ "e": [{ "skillId": seo, "direction": "OFFERS", "level": 5 }] }),
            "level",
        ),
        (
            json!({ "e": [{ "skillId": seo, "direction": "WANTS", "level": 0 }] }),
            "level",
        ),
        (
            json!({ "e": [{ "skillId": seo, "direction": "OFFERS", "level": 0 }] }),
            "level",
        ),
        (
            json!({ "e": [{ "skillId": uuid::Uuid::now_v7(), "direction": "OFFERS", "level": 1 }] }),
            "skillId",
        ),
        (
            json!({ "e": [{ "skillId": seo, "direction": "OFFERS", "level": 1 }, { "skillId": seo, "direction": "OFFERS", "level": 2 }] }),
            "entries",
        ),
    ];
    for (vars, field) in cases {
        let (_, body) = app.graphql(&mia, SET, vars).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let analyst = app.token(None, &["analyst"]).await;
    assert_eq!(
        app.query_error_code(&analyst, SET, json!({ "e": [] }))
            .await,
        "FORBIDDEN"
    );
}

async fn participants_assess_their_skills_per_programme(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    insert_employee(&app.db, Person::new("Ned Outsider", 6)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    insert_approved(&app.db, programme, max, ParticipantRole::Mentee, 1, None).await;
    let token = app.token(Some("max.mentee@corp.example"), &[]).await;
    let (seo, linkedin) = skill_ids(&app, &token).await;
    let entries = json!([{ "skillId": seo, "level": 1 }, { "skillId": linkedin, "level": 0 }]);
    let data = app
        .query_ok(
            &token,
            ASSESS,
            json!({ "p": programme, "ph": "BASELINE", "e": entries }),
        )
        .await;
    assert_eq!(data["submitSkillAssessment"], true);
    let again = json!([{ "skillId": seo, "level": 2 }]);
    app.query_ok(
        &token,
        ASSESS,
        json!({ "p": programme, "ph": "BASELINE", "e": again }),
    )
    .await;
    app.query_ok(
        &token,
        ASSESS,
        json!({ "p": programme, "ph": "EXIT", "e": [{ "skillId": seo, "level": 3 }] }),
    )
    .await;
    let rows = skill_assessment::Entity::find()
        .filter(skill_assessment::Column::EmployeeId.eq(max))
        .all(&app.db)
        .await
        .unwrap();
    let mut levels: Vec<(String, i32)> = rows
        .iter()
        .map(|r| (format!("{:?}", r.phase), r.level))
        .collect();
    levels.sort();
    assert_eq!(
        levels,
        [
            ("Baseline".to_owned(), 0),
            ("Baseline".to_owned(), 2),
            ("Exit".to_owned(), 3)
        ]
    );
    let outsider = app.token(Some("ned.outsider@corp.example"), &[]).await;
    let code = app
        .query_error_code(
            &outsider,
            ASSESS,
            json!({ "p": programme, "ph": "BASELINE", "e": [] }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let (_, body) = app
        .graphql(
            &token,
            ASSESS,
            json!({ "p": programme, "ph": "EXIT", "e": [{ "skillId": seo, "level": 9 }] }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "level");
}

both!(
    employees_replace_their_own_profile,
    participants_assess_their_skills_per_programme
);
