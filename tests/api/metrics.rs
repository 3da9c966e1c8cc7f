//! Programme metrics: every figure against a hand-computed expectation on a
//! small programme, k-anonymity at k−1 and k, complementary suppression,
//! the role restrictions. Each test runs on SQLite and PostgreSQL with the
//! same expectations, so the two backends agree on every figure.

use chrono::{NaiveDate, TimeZone as _, Utc};
use entity::enums::{
    AssessmentPhase, EmployeeStatus, Generation, PairingStatus, ParticipantRole, ProgrammeStatus,
    SessionStatus,
};
use entity::{
    department, employee, enrolment, pairing, programme, session_feedback, skill, skill_assessment,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};

const METRICS: &str = "query($p: UUID!, $from: Date, $to: Date) { programmeMetrics(programmeId: $p, from: $from, to: $to) {
  programmeId minGroupSize mentors mentees mentorsTrained activePairings completedPairings endedEarlyPairings
  sessionsHeld sessionsCancelled crossDepartmentShare averageRating nps mentorRetentionRate
  role: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed }
  department: breakdown(dimension: DEPARTMENT) { key participants sessionsHeld averageRating suppressed }
  generation: breakdown(dimension: GENERATION) { key participants suppressed }
  seniority: breakdown(dimension: SENIORITY) { key participants sessionsHeld suppressed }
  skillProgress { skill { slug } participants baselineAverage exitAverage suppressed } } }";
const TIMELINE: &str = "query($p: UUID!) { programmeMetrics(programmeId: $p, from: \"2026-10-05\", to: \"2026-10-25\") {
  sessionsHeld weeks: timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating }
  months: timeline(interval: MONTH) { periodStart sessionsHeld } } }";

fn day(text: &str) -> chrono::DateTime<Utc> {
    let date: NaiveDate = text.parse().unwrap();
    Utc.from_utc_datetime(&date.and_hms_opt(10, 0, 0).unwrap())
}

async fn insert_department(app: &TestApp, key: &str, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    department::ActiveModel {
        id: Set(id),
        external_id: Set(key.to_owned()),
        name: Set(name.to_owned()),
        parent_id: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    id
}

async fn person(
    app: &TestApp,
    name: &str,
    department: Uuid,
    generation: Generation,
    level: i32,
) -> Uuid {
    let id = insert_employee(&app.db, Person::new(name, level)).await;
    employee::ActiveModel {
        id: Set(id),
        department_id: Set(Some(department)),
        generation: Set(generation),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    id
}

async fn feedback(app: &TestApp, session: Uuid, author: Uuid, rating: i32, recommend: i32) {
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session),
        author_id: Set(author),
        rating: Set(rating),
        recommend: Set(Some(recommend)),
        comment: Set(Some("private words".to_owned())),
        submitted_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

async fn started(app: &TestApp, pairing: Uuid, ended: Option<&str>) {
    pairing::ActiveModel {
        id: Set(pairing),
        decided_at: Set(Some(day("2026-10-01"))),
        ended_at: Set(ended.map(day)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
}

async fn assess(
    app: &TestApp,
    programme: Uuid,
    who: Uuid,
    slug: &str,
    phase: AssessmentPhase,
    level: i32,
) {
    let skill = skill::Entity::find()
        .filter(skill::Column::Slug.eq(slug))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    skill_assessment::ActiveModel {
        id: Set(Uuid::now_v7()),
        programme_id: Set(programme),
        employee_id: Set(who),
        skill_id: Set(skill.id),
        phase: Set(phase),
        level: Set(level),
        assessed_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

/// Five mentors (Digital, Gen Z, level 2; four trained, one since left),
/// six mentees (five in Finance at level 9, one in Digital at level 10,
/// Gen X), five started pairings (four across departments), six sessions
/// held, one cancelled, six ratings by five people, skill assessments.
async fn programme_world(app: &TestApp) -> Uuid {
    let digital = insert_department(app, "D1", "Digital").await;
    let finance = insert_department(app, "D2", "Finance").await;
    let supervisor = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    programme::ActiveModel {
        id: Set(programme),
        starts_on: Set(Some("2026-10-05".parse().unwrap())),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let mut mentors = Vec::new();
    for (i, name) in ["Mia One", "Mia Two", "Mia Three", "Mia Four", "Mia Five"]
        .iter()
        .enumerate()
    {
        let id = person(app, name, digital, Generation::GenZ, 2).await;
        let trained = (i < 4).then_some(supervisor);
        insert_approved(&app.db, programme, id, ParticipantRole::Mentor, 3, trained).await;
        mentors.push(id);
    }
    employee::ActiveModel {
        id: Set(mentors[4]),
        status: Set(EmployeeStatus::Terminated),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let mut mentees = Vec::new();
    for (i, name) in [
        "Max One",
        "Max Two",
        "Max Three",
        "Max Four",
        "Max Five",
        "Max Six",
    ]
    .iter()
    .enumerate()
    {
        let (department, level) = if i < 5 { (finance, 9) } else { (digital, 10) };
        let id = person(app, name, department, Generation::GenX, level).await;
        insert_approved(&app.db, programme, id, ParticipantRole::Mentee, 1, None).await;
        mentees.push(id);
    }
    let pending = insert_employee(&app.db, Person::new("Pat Pending", 3)).await;
    insert_approved(
        &app.db,
        programme,
        pending,
        ParticipantRole::Mentor,
        1,
        None,
    )
    .await;
    enrolment::Entity::update_many()
        .col_expr(
            enrolment::Column::Status,
            sea_orm::sea_query::Expr::value("PENDING"),
        )
        .filter(enrolment::Column::EmployeeId.eq(pending))
        .exec(&app.db)
        .await
        .unwrap();
    let pairing_of = async |m: usize, e: &[usize], status| {
        let ids: Vec<Uuid> = e.iter().map(|i| mentees[*i]).collect();
        insert_pairing(&app.db, programme, mentors[m], &ids, status).await
    };
    let a = pairing_of(0, &[0], PairingStatus::Active).await;
    let b = pairing_of(1, &[1], PairingStatus::Active).await;
    let c = pairing_of(2, &[2], PairingStatus::Completed).await;
    let d = pairing_of(3, &[5], PairingStatus::EndedEarly).await;
    let f = pairing_of(4, &[3, 4], PairingStatus::Active).await;
    pairing_of(0, &[4], PairingStatus::Proposed).await;
    for (pairing, ended) in [
        (a, None),
        (b, None),
        (c, Some("2026-10-16")),
        (d, Some("2026-10-02")),
        (f, None),
    ] {
        started(app, pairing, ended).await;
    }
    let held =
        |pairing, on: &str| insert_session(&app.db, pairing, day(on), SessionStatus::Held, None);
    let a1 = held(a, "2026-10-06").await;
    let a2 = held(a, "2026-10-13").await;
    let b1 = held(b, "2026-10-07").await;
    held(b, "2026-10-14").await;
    let c1 = held(c, "2026-10-15").await;
    held(f, "2026-10-20").await;
    insert_session(
        &app.db,
        a,
        day("2026-10-21"),
        SessionStatus::Cancelled,
        None,
    )
    .await;
    feedback(app, a1, mentors[0], 5, 10).await;
    feedback(app, a1, mentees[0], 4, 9).await;
    feedback(app, a2, mentees[0], 3, 6).await;
    feedback(app, b1, mentors[1], 4, 8).await;
    feedback(app, b1, mentees[1], 5, 10).await;
    feedback(app, c1, mentees[2], 2, 3).await;
    for (i, (baseline, exit)) in [
        (1, Some(3)),
        (2, Some(4)),
        (2, Some(3)),
        (3, Some(4)),
        (2, None),
    ]
    .iter()
    .enumerate()
    {
        assess(
            app,
            programme,
            mentees[i],
            "linkedin",
            AssessmentPhase::Baseline,
            *baseline,
        )
        .await;
        if let Some(exit) = exit {
            assess(
                app,
                programme,
                mentees[i],
                "linkedin",
                AssessmentPhase::Exit,
                *exit,
            )
            .await;
        }
    }
    for mentee in &mentees[..2] {
        assess(app, programme, *mentee, "seo", AssessmentPhase::Baseline, 1).await;
    }
    programme
}

async fn metrics(app: &TestApp, programme: Uuid) -> Value {
    let analyst = app.token(None, &["analyst"]).await;
    app.query_ok(&analyst, METRICS, json!({ "p": programme }))
        .await["programmeMetrics"]
        .clone()
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

fn groups(list: &Value) -> Vec<(String, i64, bool)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["participants"].as_i64().unwrap(),
                g["suppressed"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn every_figure_matches_the_hand_computed_programme(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "5")]).await;
    let programme = programme_world(&app).await;
    let m = metrics(&app, programme).await;
    assert_eq!(m["programmeId"], programme.to_string());
    assert_eq!(m["minGroupSize"], 5);
    let counts: Vec<i64> = [
        "mentors",
        "mentees",
        "mentorsTrained",
        "activePairings",
        "completedPairings",
        "endedEarlyPairings",
        "sessionsHeld",
        "sessionsCancelled",
    ]
    .iter()
    .map(|k| m[*k].as_i64().unwrap())
    .collect();
    assert_eq!(counts, vec![5, 6, 4, 3, 1, 1, 6, 1], "{m}");
    assert!(close(&m["crossDepartmentShare"], 0.8), "{m}");
    assert!(close(&m["averageRating"], 23.0 / 6.0), "{m}");
    assert!(
        close(&m["nps"], 100.0 / 6.0),
        "(3 promoters − 2 detractors) / 6: {m}"
    );
    assert!(close(&m["mentorRetentionRate"], 0.8), "{m}");

    assert_eq!(
        groups(&m["role"]),
        vec![("MENTEE".into(), 6, false), ("MENTOR".into(), 5, false)]
    );
    assert_eq!(m["role"][0]["sessionsHeld"], 6);
    assert!(
        m["role"][0]["averageRating"].is_null(),
        "3 mentees rated: under k"
    );
    assert_eq!(
        groups(&m["department"]),
        vec![("Digital".into(), 6, false), ("Finance".into(), 5, false)]
    );
    assert_eq!(
        m["department"][1]["sessionsHeld"], 6,
        "Finance mentees took part in 6 held sessions"
    );
    assert_eq!(
        groups(&m["generation"]),
        vec![("GEN_X".into(), 6, false), ("GEN_Z".into(), 5, false)]
    );
    assert_eq!(
        groups(&m["seniority"]),
        vec![
            ("10".into(), 0, true),
            ("2".into(), 0, true),
            ("9".into(), 5, false)
        ],
        "level 10 holds one person; the smallest other group is hidden with it"
    );
    assert!(m["seniority"][0]["sessionsHeld"].is_null());

    let progress = m["skillProgress"].as_array().unwrap();
    let linkedin = progress
        .iter()
        .find(|p| p["skill"]["slug"] == "linkedin")
        .unwrap();
    assert_eq!(linkedin["participants"], 5);
    assert!(close(&linkedin["baselineAverage"], 2.0), "{linkedin}");
    assert!(
        linkedin["exitAverage"].is_null(),
        "4 exit assessments: under k"
    );
    let seo = progress
        .iter()
        .find(|p| p["skill"]["slug"] == "seo")
        .unwrap();
    assert_eq!(seo["suppressed"], true);
    assert_eq!(seo["participants"], 0);
    assert!(seo["baselineAverage"].is_null());
}

async fn figures_of_fewer_than_k_people_are_hidden(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "6")]).await;
    let programme = programme_world(&app).await;
    let m = metrics(&app, programme).await;
    assert_eq!(m["mentors"], 5, "counts stay");
    for hidden in ["averageRating", "nps", "mentorRetentionRate"] {
        assert!(m[hidden].is_null(), "{hidden}: five people at k = 6: {m}");
    }
    assert!(
        close(&m["crossDepartmentShare"], 0.8),
        "eleven people involved"
    );
    assert_eq!(
        groups(&m["role"]),
        vec![("MENTEE".into(), 0, true), ("MENTOR".into(), 0, true)],
        "five mentors are hidden, so the mentees are too (else 11 − 5 gives them away)"
    );
    assert_eq!(
        groups(&m["department"]),
        vec![("Digital".into(), 0, true), ("Finance".into(), 0, true)]
    );
    assert!(m["department"][0]["averageRating"].is_null());
}

async fn the_timeline_counts_each_period(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "2")]).await;
    let programme = programme_world(&app).await;
    let analyst = app.token(None, &["analyst"]).await;
    let m = app
        .query_ok(&analyst, TIMELINE, json!({ "p": programme }))
        .await["programmeMetrics"]
        .clone();
    assert_eq!(m["sessionsHeld"], 6);
    let weeks: Vec<(String, i64, i64)> = m["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["periodStart"].as_str().unwrap().to_owned(),
                w["sessionsHeld"].as_i64().unwrap(),
                w["activePairings"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        vec![
            ("2026-10-05".into(), 2, 4),
            ("2026-10-12".into(), 3, 4),
            ("2026-10-19".into(), 1, 3)
        ]
    );
    assert!(close(&m["weeks"][0]["averageRating"], 4.5), "{m}");
    assert!(close(&m["weeks"][1]["averageRating"], 2.5), "{m}");
    assert!(m["weeks"][2]["averageRating"].is_null(), "nobody rated");
    assert_eq!(
        m["months"],
        json!([{ "periodStart": "2026-10-01", "sessionsHeld": 6 }])
    );
}

async fn only_analysts_and_admins_see_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let programme = programme_world(&app).await;
    for (roles, email, code) in [
        (vec!["analyst"], None, None),
        (vec!["admin"], None, None),
        (vec!["hris"], None, Some("FORBIDDEN")),
        (vec![], Some("mia.one@corp.example"), Some("FORBIDDEN")),
    ] {
        let token = app.token(email, &roles).await;
        let (_, body) = app
            .graphql(&token, METRICS, json!({ "p": programme }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"].as_str(),
            code,
            "{roles:?}: {body}"
        );
    }
    let analyst = app.token(None, &["analyst"]).await;
    let missing = json!({ "p": Uuid::now_v7() });
    assert_eq!(
        app.query_error_code(&analyst, METRICS, missing).await,
        "NOT_FOUND"
    );
    let (_, body) = app
        .graphql(
            &analyst,
            METRICS,
            json!({ "p": programme, "from": "2026-10-10", "to": "2026-10-01" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "to", "{body}");
    assert!(!body.to_string().contains("private words"));
}

both!(
    every_figure_matches_the_hand_computed_programme,
    figures_of_fewer_than_k_people_are_hidden,
    the_timeline_counts_each_period,
    only_analysts_and_admins_see_metrics,
);
