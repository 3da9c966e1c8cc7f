//! `proposeMatches` through the API: the optimum where greedy fails, every
//! proposal explained, declined pairs never proposed again, unmatched
//! mentees reported with a reason, and the rules on who may run it.

use chrono::Utc;
use entity::enums::{ProgrammeFormat, ProgrammeStatus, SkillDirection};
use entity::{employee, programme, skill, skill_profile};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_programme,
};

const PROPOSE: &str = "mutation($p: UUID!) { proposeMatches(programmeId: $p) { id status score mentor { id } mentees { id } reasons { kind detail weight } } }";
const UNMATCHED: &str =
    "query($p: UUID!) { programme(id: $p) { unmatchedMentees { mentee { id } reason } } }";
const DECIDE: &str =
    "mutation($id: UUID!, $a: Boolean!) { decidePairing(id: $id, accept: $a) { status } }";

async fn offers(app: &TestApp, who: Uuid, slug: &str, direction: SkillDirection, level: i32) {
    let found = skill::Entity::find()
        .filter(skill::Column::Slug.eq(slug))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    skill_profile::ActiveModel {
        id: Set(Uuid::now_v7()),
        employee_id: Set(who),
        skill_id: Set(found.id),
        direction: Set(direction),
        level: Set(level),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

struct World {
    app: TestApp,
    programme: Uuid,
    ann: Uuid,
    ben: Uuid,
    claire: Uuid,
    david: Uuid,
    old_hand: Uuid,
    admin: String,
}

/// Mentors Ann and Ben (juniors); mentees Claire and David (seniors).
/// Ann suits both best; Ben reports to David, so Ben can only take Claire.
/// Greedy (best pair first) gives Claire to Ann and leaves David alone.
async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let supervisor = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let claire = insert_employee(&app.db, Person::new("Claire Senior", 10)).await;
    let david = insert_employee(&app.db, Person::new("David Senior", 9)).await;
    let ann = insert_employee(&app.db, Person::new("Ann Junior", 2)).await;
    let ben = insert_employee(
        &app.db,
        Person {
            manager: Some(david),
            ..Person::new("Ben Junior", 2)
        },
    )
    .await;
    let old_hand = insert_employee(&app.db, Person::new("Old Hand", 1)).await;
    let programme = insert_programme(&app.db, "Digital tandems", ProgrammeStatus::Matching).await;
    programme::ActiveModel {
        id: Set(programme),
        format: Set(ProgrammeFormat::OneToOne),
        max_mentees_per_mentor: Set(1),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    for mentor in [ann, ben] {
        insert_approved(
            &app.db,
            programme,
            mentor,
            entity::enums::ParticipantRole::Mentor,
            1,
            Some(supervisor),
        )
        .await;
    }
    for mentee in [claire, david, old_hand] {
        insert_approved(
            &app.db,
            programme,
            mentee,
            entity::enums::ParticipantRole::Mentee,
            1,
            None,
        )
        .await;
    }
    offers(&app, ann, "seo", SkillDirection::Offers, 4).await;
    offers(&app, ann, "linkedin", SkillDirection::Offers, 4).await;
    offers(&app, ben, "linkedin", SkillDirection::Offers, 2).await;
    offers(&app, claire, "seo", SkillDirection::Wants, 4).await;
    offers(&app, claire, "linkedin", SkillDirection::Wants, 2).await;
    offers(&app, david, "seo", SkillDirection::Wants, 3).await;
    let admin = app.token(None, &["admin"]).await;
    World {
        app,
        programme,
        ann,
        ben,
        claire,
        david,
        old_hand,
        admin,
    }
}

fn pairs(proposals: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = proposals
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["mentor"]["id"].as_str().unwrap().to_owned(),
                p["mentees"][0]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

async fn the_matcher_finds_the_optimum_and_explains_it(backend: Backend) {
    let w = world(backend).await;
    let data = w
        .app
        .query_ok(&w.admin, PROPOSE, json!({ "p": w.programme }))
        .await;
    let proposals = &data["proposeMatches"];
    let mut expected = vec![
        (w.ann.to_string(), w.david.to_string()),
        (w.ben.to_string(), w.claire.to_string()),
    ];
    expected.sort();
    assert_eq!(pairs(proposals), expected, "{data}");
    for proposal in proposals.as_array().unwrap() {
        assert_eq!(proposal["status"], "PROPOSED");
        let score = proposal["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        let kinds: Vec<&str> = proposal["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "SKILL_COVERAGE",
                "AVAILABILITY_OVERLAP",
                "CROSS_DEPARTMENT",
                "TIMEZONE",
                "GENERATION_GAP"
            ]
        );
    }
    let ann_david = proposals
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mentor"]["id"] == w.ann.to_string())
        .unwrap();
    assert_eq!(
        ann_david["reasons"][0]["detail"],
        "Offers SEO and online visibility at level 4; David Senior wants it"
    );

    let data = w
        .app
        .query_ok(&w.admin, UNMATCHED, json!({ "p": w.programme }))
        .await;
    assert_eq!(
        data["programme"]["unmatchedMentees"],
        json!([{ "mentee": { "id": w.old_hand }, "reason": "no mentor is junior to them" }])
    );
    let again = w
        .app
        .query_ok(&w.admin, PROPOSE, json!({ "p": w.programme }))
        .await;
    assert_eq!(
        again["proposeMatches"],
        json!([]),
        "placed mentees are not proposed twice"
    );
}

async fn a_declined_pair_is_never_proposed_again(backend: Backend) {
    let w = world(backend).await;
    let data = w
        .app
        .query_ok(&w.admin, PROPOSE, json!({ "p": w.programme }))
        .await;
    for proposal in data["proposeMatches"].as_array().unwrap() {
        w.app
            .query_ok(
                &w.admin,
                DECIDE,
                json!({ "id": proposal["id"], "a": false }),
            )
            .await;
    }
    let data = w
        .app
        .query_ok(&w.admin, PROPOSE, json!({ "p": w.programme }))
        .await;
    let mut expected = vec![(w.ann.to_string(), w.claire.to_string())];
    expected.sort();
    assert_eq!(
        pairs(&data["proposeMatches"]),
        expected,
        "only the one pair never declined: {data}"
    );
    let david = employee::Entity::find_by_id(w.david)
        .one(&w.app.db)
        .await
        .unwrap()
        .unwrap();
    let data = w
        .app
        .query_ok(&w.admin, UNMATCHED, json!({ "p": w.programme }))
        .await;
    let reasons = data["programme"]["unmatchedMentees"].as_array().unwrap();
    let for_david = reasons
        .iter()
        .find(|r| r["mentee"]["id"] == david.id.to_string())
        .unwrap();
    assert!(
        for_david["reason"].as_str().unwrap().contains("declined"),
        "{for_david}"
    );
}

async fn only_admins_run_the_matcher_while_matching(backend: Backend) {
    let w = world(backend).await;
    for roles in [vec!["analyst"], vec!["hris"]] {
        let token = w.app.token(None, &roles).await;
        assert_eq!(
            w.app
                .query_error_code(&token, PROPOSE, json!({ "p": w.programme }))
                .await,
            "FORBIDDEN"
        );
    }
    let employee = w.app.token(Some("ann.junior@corp.example"), &[]).await;
    assert_eq!(
        w.app
            .query_error_code(&employee, PROPOSE, json!({ "p": w.programme }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        w.app
            .query_error_code(&w.admin, PROPOSE, json!({ "p": Uuid::now_v7() }))
            .await,
        "NOT_FOUND"
    );
    programme::ActiveModel {
        id: Set(w.programme),
        status: Set(ProgrammeStatus::Active),
        ..Default::default()
    }
    .update(&w.app.db)
    .await
    .unwrap();
    assert_eq!(
        w.app
            .query_error_code(&w.admin, PROPOSE, json!({ "p": w.programme }))
            .await,
        "CONFLICT"
    );
}

both!(
    the_matcher_finds_the_optimum_and_explains_it,
    a_declined_pair_is_never_proposed_again,
    only_admins_run_the_matcher_while_matching,
);
