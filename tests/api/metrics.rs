//! Programme metrics: every figure against a hand-computed expectation on a
//! small programme, k-anonymity per closed weekly cell at k−1 and k,
//! complementary suppression, whole-week windows, the differencing attack
//! (it recovers nothing), the role restrictions. Each test runs on SQLite
//! and PostgreSQL with the same expectations, so the two backends agree on
//! every figure. Every date is in weeks long closed (October 2026).

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
  suppressedFigures sessionsHeld sessionsCancelled sessionsNoShow crossDepartmentShare averageRating nps mentorRetentionRate
  role: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed }
  department: breakdown(dimension: DEPARTMENT) { key participants sessionsHeld averageRating suppressed }
  generation: breakdown(dimension: GENERATION) { key participants suppressed }
  seniority: breakdown(dimension: SENIORITY) { key participants sessionsHeld suppressed }
  skillProgress { skill { slug } participants baselineAverage exitAverage suppressed } } }";
const TIMELINE: &str = "query($p: UUID!) { programmeMetrics(programmeId: $p, from: \"2026-10-05\", to: \"2026-10-25\") {
  sessionsHeld weeks: timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating }
  months: timeline(interval: MONTH) { periodStart sessionsHeld } } }";

/// Every part that is kept on its own, the timeline included.
const KEPT: &str = "query($p: UUID!) { programmeMetrics(programmeId: $p) {
  mentors sessionsHeld averageRating crossDepartmentShare
  role: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed }
  department: breakdown(dimension: DEPARTMENT) { key participants suppressed }
  generation: breakdown(dimension: GENERATION) { key participants suppressed }
  seniority: breakdown(dimension: SENIORITY) { key participants suppressed }
  timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating }
  skillProgress { skill { slug } participants baselineAverage exitAverage suppressed } } }";

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

/// Feedback submitted on `on` (its weekly cell).
async fn feedback(
    app: &TestApp,
    session: Uuid,
    author: Uuid,
    rating: i32,
    recommend: i32,
    on: &str,
) {
    session_feedback::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session),
        author_id: Set(author),
        rating: Set(rating),
        recommend: Set(Some(recommend)),
        comment: Set(Some("private words".to_owned())),
        submitted_at: Set(day(on)),
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
    on: &str,
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
        assessed_at: Set(day(on)),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

/// Five mentors (Digital, Gen Z, level 2; four trained, one since left),
/// six mentees (five in Finance at level 9, one in Digital at level 10,
/// Gen X), five started pairings (four across departments), six sessions
/// held, one cancelled, six ratings by five people, skill assessments.
///
/// The weekly cells (people in brackets):
/// - week of 5 Oct: held a1 b1 (4 people); ratings a1 5 4, b1 4 5 (4 raters,
///   3 promoters of 4 answers);
/// - week of 12 Oct: held a2 b2 c1 (6 people); ratings a2 3, c1 2 (2 raters,
///   2 detractors of 2);
/// - week of 19 Oct: held f1 (3 people), cancelled one of a (2 people);
/// - linkedin BASELINE 1 2 2 3 2 in the week of 5 Oct (5 assessors), EXIT
///   3 4 3 4 in the week of 19 Oct (4); seo BASELINE 1 1 (2).
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
    insert_session(&app.db, a, day("2026-10-08"), SessionStatus::NoShow, None).await;
    feedback(app, a1, mentors[0], 5, 10, "2026-10-06").await;
    feedback(app, a1, mentees[0], 4, 9, "2026-10-06").await;
    feedback(app, a2, mentees[0], 3, 6, "2026-10-13").await;
    feedback(app, b1, mentors[1], 4, 8, "2026-10-08").await;
    feedback(app, b1, mentees[1], 5, 10, "2026-10-08").await;
    feedback(app, c1, mentees[2], 2, 3, "2026-10-16").await;
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
            "2026-10-06",
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
                "2026-10-20",
            )
            .await;
        }
    }
    for mentee in &mentees[..2] {
        assess(
            app,
            programme,
            *mentee,
            "seo",
            AssessmentPhase::Baseline,
            1,
            "2026-10-06",
        )
        .await;
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

/// The programme-level counts, in the order `counts` lists them.
const COUNT_FIGURES: [&str; 9] = [
    "mentors",
    "mentees",
    "mentorsTrained",
    "activePairings",
    "completedPairings",
    "endedEarlyPairings",
    "sessionsHeld",
    "sessionsCancelled",
    "sessionsNoShow",
];

fn counts(m: &Value) -> Vec<i64> {
    COUNT_FIGURES
        .iter()
        .map(|k| m[*k].as_i64().unwrap())
        .collect()
}

fn skill<'a>(m: &'a Value, slug: &str) -> &'a Value {
    m["skillProgress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["skill"]["slug"] == slug)
        .unwrap()
}

async fn every_figure_matches_the_hand_computed_programme(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "2")]).await;
    let programme = programme_world(&app).await;
    let m = metrics(&app, programme).await;
    assert_eq!(m["programmeId"], programme.to_string());
    assert_eq!(m["minGroupSize"], 2);
    assert_eq!(
        counts(&m),
        vec![5, 6, 0, 3, 1, 1, 6, 1, 1],
        "the missed session of 8 Oct is its own figure, not held: {m}"
    );
    assert_eq!(
        m["suppressedFigures"],
        json!(["mentorsTrained"]),
        "4 trained beside 1 untrained: the untrained one would be 5 − 4"
    );
    assert!(close(&m["crossDepartmentShare"], 0.8), "{m}");
    assert!(
        close(&m["averageRating"], 23.0 / 6.0),
        "weeks of 5 Oct (18 / 4) and 12 Oct (5 / 2): {m}"
    );
    assert!(
        close(&m["nps"], 100.0 / 6.0),
        "(3 promoters − 2 detractors) / 6 over two weeks of at least 2 people: {m}"
    );
    assert!(
        m["mentorRetentionRate"].is_null(),
        "4 of 5 stayed: the one who left is under k: {m}"
    );

    assert_eq!(
        groups(&m["role"]),
        vec![("MENTEE".into(), 6, false), ("MENTOR".into(), 5, false)]
    );
    assert_eq!(
        m["role"][0]["sessionsHeld"], 5,
        "2 + 3: in the week of 19 Oct one mentor is alone, which hides the mentees' cell too"
    );
    assert!(
        close(&m["role"][0]["averageRating"], 3.5),
        "mentees: (4 + 5) + (3 + 2) over 4: {m}"
    );
    assert_eq!(m["role"][1]["sessionsHeld"], 5);
    assert!(close(&m["role"][1]["averageRating"], 4.5), "{m}");
    assert_eq!(
        groups(&m["department"]),
        vec![("Digital".into(), 6, false), ("Finance".into(), 5, false)]
    );
    assert_eq!(m["department"][0]["sessionsHeld"], 5);
    assert_eq!(
        m["department"][1]["sessionsHeld"], 5,
        "Finance mentees took part in 2 + 3 held sessions of published weeks"
    );
    assert!(close(&m["department"][0]["averageRating"], 4.5), "{m}");
    assert!(close(&m["department"][1]["averageRating"], 3.5), "{m}");
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
    assert_eq!(m["seniority"][2]["sessionsHeld"], 5);

    let linkedin = skill(&m, "linkedin");
    assert_eq!(linkedin["participants"], 5);
    assert!(close(&linkedin["baselineAverage"], 2.0), "{linkedin}");
    assert!(close(&linkedin["exitAverage"], 3.5), "{linkedin}");
    let seo = skill(&m, "seo");
    assert_eq!(seo["suppressed"], false);
    assert!(close(&seo["baselineAverage"], 1.0), "{seo}");
}

async fn figures_of_fewer_than_k_people_are_hidden(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "5")]).await;
    let programme = programme_world(&app).await;
    let m = metrics(&app, programme).await;
    assert_eq!(
        counts(&m),
        vec![5, 6, 0, 3, 0, 0, 3, 0, 0],
        "only the week of 12 Oct (6 people) publishes sessions; the cancelled and the missed ones involve 2: {m}"
    );
    assert_eq!(
        m["suppressedFigures"],
        json!(["mentorsTrained", "completedPairings", "endedEarlyPairings"]),
        "4 trained; one pairing of 2 people each"
    );
    for hidden in ["averageRating", "nps"] {
        assert!(m[hidden].is_null(), "{hidden}: no week has 5 raters: {m}");
    }
    assert!(
        m["mentorRetentionRate"].is_null(),
        "five mentors, but one left"
    );
    assert!(
        close(&m["crossDepartmentShare"], 0.8),
        "eleven people involved"
    );
    assert_eq!(
        groups(&m["role"]),
        vec![("MENTEE".into(), 6, false), ("MENTOR".into(), 5, false)]
    );
    for group in ["role", "department"] {
        for i in 0..2 {
            assert_eq!(
                m[group][i]["sessionsHeld"], 0,
                "no weekly cell of a group reaches 5 people: {m}"
            );
            assert!(m[group][i]["averageRating"].is_null());
        }
    }
    assert_eq!(m["seniority"][2]["sessionsHeld"], 0);
    let linkedin = skill(&m, "linkedin");
    assert_eq!(linkedin["participants"], 5);
    assert!(close(&linkedin["baselineAverage"], 2.0), "{linkedin}");
    assert!(
        linkedin["exitAverage"].is_null(),
        "4 exit assessors in their week: under k"
    );
    let seo = skill(&m, "seo");
    assert_eq!(seo["suppressed"], true);
    assert_eq!(seo["participants"], 0);
    assert!(seo["baselineAverage"].is_null());
}

async fn a_count_under_k_reads_zero_and_is_named(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "6")]).await;
    let programme = programme_world(&app).await;
    let m = metrics(&app, programme).await;
    assert_eq!(
        counts(&m),
        vec![0, 6, 0, 3, 0, 0, 3, 0, 0],
        "five mentors at k = 6 read 0; the three active pairings involve 7 people: {m}"
    );
    assert_eq!(
        m["suppressedFigures"],
        json!([
            "mentors",
            "mentorsTrained",
            "completedPairings",
            "endedEarlyPairings"
        ])
    );
    for hidden in ["averageRating", "nps", "mentorRetentionRate"] {
        assert!(m[hidden].is_null(), "{hidden}: {m}");
    }
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
            json!({ "p": programme, "from": "2026-10-12", "to": "2026-10-04" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "to", "{body}");
    assert!(!body.to_string().contains("private words"));
}

const ATTACK: &str = "query($p: UUID!) {
  a: programmeMetrics(programmeId: $p, from: \"2026-10-05\", to: \"2026-10-11\") { ...figures }
  ab: programmeMetrics(programmeId: $p, from: \"2026-10-05\", to: \"2026-10-18\") { ...figures }
  b: programmeMetrics(programmeId: $p, from: \"2026-10-12\", to: \"2026-10-18\") { ...figures } }
fragment figures on ProgrammeMetrics {
  sessionsHeld sessionsCancelled averageRating nps
  role: breakdown(dimension: ROLE) { key participants sessionsHeld averageRating suppressed }
  department: breakdown(dimension: DEPARTMENT) { key participants sessionsHeld averageRating suppressed }
  months: timeline(interval: MONTH) { periodStart sessionsHeld activePairings averageRating }
  weeks: timeline(interval: WEEK) { periodStart sessionsHeld activePairings averageRating } }";

/// k = 3. Week A (5–11 Oct): three pairings (six people) hold a session
/// each and all six rate it; two of them cancel one too. Week B (12–18
/// Oct): one more pair holds a session, both rate it 1 (recommend 0), and
/// cancels one. Two aliased windows, A and A+B, in one request: if B's
/// session counted, the difference would give the pair's ratings away.
async fn the_differencing_attack_recovers_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("MIN_GROUP_SIZE", "3")]).await;
    let digital = insert_department(&app, "D1", "Digital").await;
    let finance = insert_department(&app, "D2", "Finance").await;
    let programme = insert_programme(&app.db, "Attacked", ProgrammeStatus::Active).await;
    let mut pairs = Vec::new();
    for i in 1..=4 {
        let mentor = person(&app, &format!("Mia M{i}"), digital, Generation::GenZ, 2).await;
        let mentee = person(&app, &format!("Max M{i}"), finance, Generation::GenX, 9).await;
        insert_approved(&app.db, programme, mentor, ParticipantRole::Mentor, 3, None).await;
        insert_approved(&app.db, programme, mentee, ParticipantRole::Mentee, 1, None).await;
        let pairing =
            insert_pairing(&app.db, programme, mentor, &[mentee], PairingStatus::Active).await;
        started(&app, pairing, None).await;
        pairs.push((pairing, mentor, mentee));
    }
    let session =
        |pairing, on: &str, status| insert_session(&app.db, pairing, day(on), status, None);
    for (i, (pairing, mentor, mentee), (mentor_rating, mentee_rating, recommend)) in [
        (0, pairs[0], (5, 4, (10, 9))),
        (1, pairs[1], (4, 5, (8, 10))),
        (2, pairs[2], (3, 4, (6, 9))),
    ] {
        let on = format!("2026-10-0{}", 6 + i);
        let held = session(pairing, &on, SessionStatus::Held).await;
        feedback(&app, held, mentor, mentor_rating, recommend.0, &on).await;
        feedback(&app, held, mentee, mentee_rating, recommend.1, &on).await;
        if i < 2 {
            session(pairing, "2026-10-10", SessionStatus::Cancelled).await;
        }
    }
    let (pairing, mentor, mentee) = pairs[3];
    let lone = session(pairing, "2026-10-13", SessionStatus::Held).await;
    feedback(&app, lone, mentor, 1, 0, "2026-10-13").await;
    feedback(&app, lone, mentee, 1, 0, "2026-10-13").await;
    session(pairing, "2026-10-14", SessionStatus::Cancelled).await;

    let analyst = app.token(None, &["analyst"]).await;
    let m = app
        .query_ok(&analyst, ATTACK, json!({ "p": programme }))
        .await;
    let (a, ab, b) = (&m["a"], &m["ab"], &m["b"]);
    assert_eq!(a["sessionsHeld"], 3, "{a}");
    assert_eq!(a["sessionsCancelled"], 2, "{a}");
    assert!(close(&a["averageRating"], 25.0 / 6.0), "{a}");
    assert!(
        close(&a["nps"], 50.0),
        "(4 promoters − 1 detractor) / 6: {a}"
    );
    assert!(close(&a["role"][0]["averageRating"], 13.0 / 3.0), "{a}");
    assert_eq!(a["role"][0]["sessionsHeld"], 3);
    for figure in [
        "sessionsHeld",
        "sessionsCancelled",
        "averageRating",
        "nps",
        "role",
        "department",
        "months",
    ] {
        assert_eq!(
            a[figure], ab[figure],
            "{figure}: the attack recovers nothing"
        );
    }
    assert_eq!(ab["weeks"][0], a["weeks"][0]);
    assert_eq!(
        ab["weeks"][1],
        json!({ "periodStart": "2026-10-12", "sessionsHeld": 0, "activePairings": 4, "averageRating": null }),
        "week B holds one pair: nothing of it is published (its 4 active pairings involve 8 people)"
    );
    assert_eq!(a["months"][0]["activePairings"], 4);
    assert_eq!(
        (&b["sessionsHeld"], &b["sessionsCancelled"]),
        (&json!(0), &json!(0))
    );
    assert!(b["averageRating"].is_null() && b["nps"].is_null(), "{b}");
}

async fn windows_are_whole_iso_weeks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let programme = insert_programme(&app.db, "Weeks", ProgrammeStatus::Active).await;
    let analyst = app.token(None, &["analyst"]).await;
    for (from, to, field, word) in [
        ("2026-10-05", "2026-10-05", "to", "Sunday"),
        ("2026-10-11", "2026-10-11", "from", "Monday"),
        ("2026-10-05", "2026-10-10", "to", "Sunday"),
        ("2026-10-07", "2026-10-18", "from", "Monday"),
    ] {
        let (_, body) = app
            .graphql(
                &analyst,
                METRICS,
                json!({ "p": programme, "from": from, "to": to }),
            )
            .await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{from}..{to}: {body}");
        assert!(error["message"].as_str().unwrap().contains(word), "{body}");
    }
    let whole = json!({ "p": programme, "from": "2026-10-05", "to": "2026-10-18" });
    let m = app.query_ok(&analyst, METRICS, whole).await;
    assert_eq!(m["programmeMetrics"]["sessionsHeld"], 0);
}

/// k = 3: three people assess a skill in one closed week; a newcomer's
/// lone assessment in a later closed week, or in the current one, never
/// moves the average (it only counts as a participant). Each step reads
/// fresh figures (`METRICS_CACHE_SECS=0`): the test compares the
/// computation before and after each write, not the cache.
async fn a_newcomers_lone_assessment_moves_no_average(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[("MIN_GROUP_SIZE", "3"), ("METRICS_CACHE_SECS", "0")],
    )
    .await;
    let programme = insert_programme(&app.db, "Skills", ProgrammeStatus::Active).await;
    for (name, level) in [("Ann Early", 1), ("Ben Early", 2), ("Cat Early", 3)] {
        let who = insert_employee(&app.db, Person::new(name, 5)).await;
        assess(
            &app,
            programme,
            who,
            "linkedin",
            AssessmentPhase::Baseline,
            level,
            "2026-10-06",
        )
        .await;
    }
    let linkedin = async || {
        let m = metrics(&app, programme).await;
        let found = skill(&m, "linkedin").clone();
        (
            found["participants"].clone(),
            found["baselineAverage"].clone(),
        )
    };
    let before = linkedin().await;
    assert_eq!(before.0, 3);
    assert!(close(&before.1, 2.0), "{before:?}");

    let newcomer = insert_employee(&app.db, Person::new("Dan Late", 5)).await;
    assess(
        &app,
        programme,
        newcomer,
        "linkedin",
        AssessmentPhase::Baseline,
        4,
        "2026-10-13",
    )
    .await;
    let after = linkedin().await;
    assert_eq!(after.0, 4, "the newcomer is counted");
    assert_eq!(after.1, before.1, "alone in their week: no move");

    let today = Utc::now().date_naive().to_string();
    let current = insert_employee(&app.db, Person::new("Eve Now", 5)).await;
    let other = insert_employee(&app.db, Person::new("Fay Now", 5)).await;
    let third = insert_employee(&app.db, Person::new("Gus Now", 5)).await;
    for who in [current, other, third] {
        assess(
            &app,
            programme,
            who,
            "linkedin",
            AssessmentPhase::Baseline,
            4,
            &today,
        )
        .await;
    }
    assert_eq!(
        linkedin().await.1,
        before.1,
        "the current week is not closed, even with k assessors"
    );
}

/// The metrics CSV holds exactly the figures GraphQL publishes to the same
/// analyst: each count or its suppression, each share, each group.
async fn the_metrics_export_holds_what_graphql_publishes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let programme = programme_world(&app).await;
    let published = metrics(&app, programme).await;
    let analyst = app.token(None, &["analyst"]).await;
    let body = app
        .client()
        .get(format!(
            "{}/exports/programmes/{programme}/metrics.csv",
            app.address
        ))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = body.strip_prefix(b"\xEF\xBB\xBF".as_slice()).expect("BOM");
    let mut reader = csv::Reader::from_reader(text);
    assert_eq!(
        reader.headers().unwrap(),
        vec!["section", "group", "figure", "value", "suppressed"]
    );
    let rows: std::collections::HashMap<(String, String, String), (String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                (r[0].to_owned(), r[1].to_owned(), r[2].to_owned()),
                (r[3].to_owned(), r[4].to_owned()),
            )
        })
        .collect();
    let row = |section: &str, group: &str, figure: &str| {
        let key = (section.to_owned(), group.to_owned(), figure.to_owned());
        rows.get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("no row {key:?}"))
    };
    let hidden: Vec<&str> = published["suppressedFigures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        !hidden.is_empty(),
        "the world hides a figure: the test sees both kinds"
    );
    for figure in COUNT_FIGURES {
        let (value, suppressed) = row("summary", "", figure);
        if hidden.contains(&figure) {
            assert_eq!(
                (value.as_str(), suppressed.as_str()),
                ("", "true"),
                "{figure}"
            );
        } else {
            assert_eq!(value, published[figure].to_string(), "{figure}");
            assert_eq!(suppressed, "false");
        }
    }
    for figure in [
        "crossDepartmentShare",
        "averageRating",
        "nps",
        "mentorRetentionRate",
    ] {
        let (value, _) = row("summary", "", figure);
        match published[figure].as_f64() {
            Some(share) => assert_eq!(value, format!("{share:.3}"), "{figure}"),
            None => assert_eq!(value, "", "{figure}"),
        }
    }
    for group in published["role"].as_array().unwrap() {
        let key = group["key"].as_str().unwrap();
        let (value, suppressed) = row("role", key, "participants");
        assert_eq!(suppressed, group["suppressed"].to_string(), "{key}");
        if group["suppressed"] == true {
            assert_eq!(value, "", "a hidden group shows no figure");
        } else {
            assert_eq!(value, group["participants"].to_string(), "{key}");
        }
    }
    let department_groups = rows
        .keys()
        .filter(|(s, _, f)| s == "department" && f == "participants");
    assert_eq!(
        department_groups.count(),
        published["department"].as_array().unwrap().len()
    );
}

/// An approved mentor more: `mentors` grows by one.
async fn enrol_another_mentor(app: &TestApp, programme: Uuid) {
    let newcomer = insert_employee(&app.db, Person::new("Mia Six", 2)).await;
    insert_approved(
        &app.db,
        programme,
        newcomer,
        ParticipantRole::Mentor,
        1,
        None,
    )
    .await;
}

/// With `METRICS_CACHE_SECS=0` every answer is computed: a write shows at once.
async fn without_a_cache_a_write_shows_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("METRICS_CACHE_SECS", "0")]).await;
    let programme = programme_world(&app).await;
    assert_eq!(metrics(&app, programme).await["mentors"], 5);
    enrol_another_mentor(&app, programme).await;
    assert_eq!(metrics(&app, programme).await["mentors"], 6);
}

/// The figures replicas share in Redis: `(key, stored JSON)` of `programme`.
async fn kept_figures(url: &str, programme: Uuid) -> Vec<(String, Value, i64)> {
    let client = redis::Client::open(url).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("tandem:metrics:*:{programme}:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    keys.sort();
    let mut kept = Vec::new();
    for key in keys {
        let text: String = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let ttl_ms: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        kept.push((key, serde_json::from_str(&text).unwrap(), ttl_ms));
    }
    kept
}

/// Makes every kept figure of `programme` `seconds` old, as the clock
/// would: the entries stay, only the instant their computation started moves.
async fn age_kept_figures(url: &str, programme: Uuid, seconds: i64) {
    let client = redis::Client::open(url).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    for (key, mut stored, _) in kept_figures(url, programme).await {
        stored["started_ms"] = json!(Utc::now().timestamp_millis() - seconds * 1000);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(stored.to_string())
            .arg("KEEPTTL")
            .query_async(&mut redis)
            .await
            .unwrap();
    }
}

/// Replicas share figures in Redis for at most the bound (60 s): within it a
/// write is not yet seen and the kept answer is the computed one, field for
/// field; once the figures are 60 s old the write shows. The clock is driven
/// by ageing the stored figures, not by waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_figures_are_at_most_sixty_seconds_stale() {
    let Some(url) = crate::redis_server::shared_url() else {
        return;
    };
    let backend = Backend::postgres().unwrap_or(Backend::Sqlite);
    let app = TestApp::spawn_with(backend, &[("REDIS_URL", url.as_str())]).await;
    let programme = programme_world(&app).await;
    let analyst = app.token(None, &["analyst"]).await;
    let ask = async || {
        let answer = app
            .query_ok(&analyst, KEPT, json!({ "p": programme }))
            .await;
        answer["programmeMetrics"].clone()
    };
    let computed = ask().await;
    assert_eq!(computed["mentors"], 5);
    let kept = kept_figures(&url, programme).await;
    let parts: Vec<&str> = kept
        .iter()
        .filter_map(|(k, _, _)| k.rsplit(':').next())
        .collect();
    assert_eq!(
        parts,
        [
            "department",
            "generation",
            "role",
            "seniority",
            "skills",
            "summary",
            "week"
        ],
        "each part asked is kept on its own"
    );
    for (key, _, ttl_ms) in &kept {
        assert!((1..=60_000).contains(ttl_ms), "{key} lives {ttl_ms} ms");
    }

    enrol_another_mentor(&app, programme).await;
    let within = ask().await;
    assert_eq!(
        within, computed,
        "within the bound the kept figures are served, unchanged"
    );

    age_kept_figures(&url, programme, 50).await;
    assert_eq!(ask().await["mentors"], 5, "50 s old: still kept");
    age_kept_figures(&url, programme, 60).await;
    let after = ask().await;
    assert_eq!(after["mentors"], 6, "60 s old: the write shows");
}

both!(
    without_a_cache_a_write_shows_at_once,
    the_metrics_export_holds_what_graphql_publishes,
    every_figure_matches_the_hand_computed_programme,
    figures_of_fewer_than_k_people_are_hidden,
    a_count_under_k_reads_zero_and_is_named,
    the_timeline_counts_each_period,
    only_analysts_and_admins_see_metrics,
    the_differencing_attack_recovers_nothing,
    windows_are_whole_iso_weeks,
    a_newcomers_lone_assessment_moves_no_average,
);
