//! Volunteering: `enrol`, `withdrawEnrolment`, `decideEnrolment`,
//! `recordMentorTraining`, `assignSupervisor` and `Programme.enrolments`.

use chrono::{Duration, Utc};
use entity::enums::{PairingStatus, ProgrammeStatus, SessionStatus};
use entity::{audit_log, mentoring_session, pairing};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
};

const ENROL: &str = "mutation($input: EnrolInput!) { enrol(input: $input) { id role status consentedAt capacity motivation employee { displayName } programme { name } } }";
const DECIDE: &str = "mutation($id: UUID!, $approve: Boolean!) { decideEnrolment(id: $id, approve: $approve, reason: \"ok\") { status } }";
const WITHDRAW: &str = "mutation($id: UUID!) { withdrawEnrolment(id: $id) { status } }";
const TRAINING: &str = "mutation($id: UUID!, $at: DateTime) { recordMentorTraining(enrolmentId: $id, completedAt: $at) { trainingCompletedAt } }";
const SUPERVISE: &str = "mutation($id: UUID!, $s: UUID!) { assignSupervisor(enrolmentId: $id, supervisorId: $s) { supervisor { displayName } } }";

fn enrol_input(programme: Uuid, role: &str, consent: bool) -> Value {
    json!({ "input": { "programmeId": programme, "role": role, "consent": consent } })
}

const MIA: &str = "mia.mentor@corp.example";
const MAX: &str = "max.mentee@corp.example";

struct Setup {
    app: TestApp,
    programme: Uuid,
    mia: String,
    max: String,
    admin: String,
}

async fn setup(backend: Backend, status: ProgrammeStatus) -> Setup {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(&app.db, "Tandems", status).await;
    let mia = app.token(Some(MIA), &[]).await;
    let max = app.token(Some(MAX), &[]).await;
    let admin = app.token(None, &["admin"]).await;
    Setup {
        app,
        programme,
        mia,
        max,
        admin,
    }
}

async fn enrol_ok(s: &Setup, token: &str, role: &str) -> Value {
    s.app
        .query_ok(token, ENROL, enrol_input(s.programme, role, true))
        .await["enrol"]
        .clone()
}

async fn volunteers_enrol_themselves_with_consent(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    let (_, body) = s
        .app
        .graphql(&s.mia, ENROL, enrol_input(s.programme, "MENTOR", false))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "consent");
    let before = Utc::now() - Duration::seconds(5);
    let mentor = enrol_ok(&s, &s.mia, "MENTOR").await;
    assert_eq!(mentor["status"], "PENDING");
    assert_eq!(
        mentor["employee"]["displayName"], "Mia Mentor",
        "the caller, nobody else"
    );
    assert_eq!(mentor["capacity"], 3, "the programme's maxMenteesPerMentor");
    let consented: chrono::DateTime<Utc> = mentor["consentedAt"].as_str().unwrap().parse().unwrap();
    assert!(consented > before);
    let mentee = enrol_ok(&s, &s.max, "MENTEE").await;
    assert_eq!(mentee["capacity"], 1);
    let mut too_many = enrol_input(s.programme, "MENTOR", true);
    too_many["input"]["capacity"] = json!(4);
    let other = s.app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let (_, body) = s.app.graphql(&other, ENROL, too_many).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "capacity",
        "{body}"
    );
}

async fn one_live_enrolment_per_programme_and_role(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Matching).await;
    let first = enrol_ok(&s, &s.mia, "MENTOR").await;
    let code = s
        .app
        .query_error_code(&s.mia, ENROL, enrol_input(s.programme, "MENTOR", true))
        .await;
    assert_eq!(code, "CONFLICT");
    enrol_ok(&s, &s.mia, "MENTEE").await;
    s.app
        .query_ok(&s.mia, WITHDRAW, json!({ "id": first["id"] }))
        .await;
    enrol_ok(&s, &s.mia, "MENTOR").await;
}

async fn concurrent_duplicate_enrolments_leave_exactly_one(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    let requests = (0..8)
        .map(|_| {
            (
                s.mia.clone(),
                ENROL,
                enrol_input(s.programme, "MENTOR", true),
            )
        })
        .collect();
    s.app.assert_exactly_one_wins(requests).await;
}

async fn enrolment_is_open_while_enrolling_or_matching_only(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Active).await;
    let (_, body) = s
        .app
        .graphql(&s.mia, ENROL, enrol_input(s.programme, "MENTOR", true))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ACTIVE"),
        "{body}"
    );
    let draft = insert_programme(&s.app.db, "Draft", ProgrammeStatus::Draft).await;
    let code = s
        .app
        .query_error_code(&s.mia, ENROL, enrol_input(draft, "MENTOR", true))
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn accounts_without_an_employee_cannot_enrol(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    for roles in [&["admin"][..], &["analyst"], &["hris"]] {
        let token = s.app.token(None, roles).await;
        let code = s
            .app
            .query_error_code(&token, ENROL, enrol_input(s.programme, "MENTEE", true))
            .await;
        assert_eq!(code, "FORBIDDEN", "{roles:?}");
    }
}

async fn admins_decide_pending_enrolments_once(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    let enrolment = enrol_ok(&s, &s.max, "MENTEE").await;
    let vars = json!({ "id": enrolment["id"], "approve": true });
    assert_eq!(
        s.app.query_error_code(&s.max, DECIDE, vars.clone()).await,
        "FORBIDDEN"
    );
    let data = s.app.query_ok(&s.admin, DECIDE, vars.clone()).await;
    assert_eq!(data["decideEnrolment"]["status"], "APPROVED");
    let (_, body) = s.app.graphql(&s.admin, DECIDE, vars).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("APPROVED")
    );
    let id: Uuid = enrolment["id"].as_str().unwrap().parse().unwrap();
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::TargetId.eq(id))
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["enrolment.decide"]
    );
}

async fn withdrawal_ends_pairings_and_cancels_future_sessions(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Matching).await;
    let enrolment = enrol_ok(&s, &s.max, "MENTEE").await;
    let mentor = insert_employee(&s.app.db, Person::new("Other Mentor", 1)).await;
    let max_id = crate::helpers::employee_id(&s.app.db, MAX).await;
    let pairing_id = insert_pairing(
        &s.app.db,
        s.programme,
        mentor,
        &[max_id],
        PairingStatus::Active,
    )
    .await;
    let now = Utc::now();
    let session = insert_session(
        &s.app.db,
        pairing_id,
        now + Duration::days(3),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let vars = json!({ "id": enrolment["id"] });
    assert_eq!(
        s.app.query_error_code(&s.mia, WITHDRAW, vars.clone()).await,
        "NOT_FOUND"
    );
    assert_eq!(
        s.app
            .query_error_code(&s.admin, WITHDRAW, vars.clone())
            .await,
        "FORBIDDEN"
    );
    let data = s.app.query_ok(&s.max, WITHDRAW, vars.clone()).await;
    assert_eq!(data["withdrawEnrolment"]["status"], "WITHDRAWN");
    let pairing = pairing::Entity::find_by_id(pairing_id)
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pairing.status, PairingStatus::EndedEarly);
    let session = mentoring_session::Entity::find_by_id(session)
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.status, SessionStatus::Cancelled);
    assert_eq!(
        s.app.query_error_code(&s.max, WITHDRAW, vars).await,
        "CONFLICT"
    );
}

async fn mentors_are_trained_and_supervised(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    let mentor = enrol_ok(&s, &s.mia, "MENTOR").await;
    let mentee = enrol_ok(&s, &s.max, "MENTEE").await;
    let sam_id = crate::helpers::employee_id(&s.app.db, "sam.supervisor@corp.example").await;
    let sam = s.app.token(Some("sam.supervisor@corp.example"), &[]).await;
    let training = json!({ "id": mentor["id"], "at": Value::Null });
    assert_eq!(
        s.app
            .query_error_code(&sam, TRAINING, training.clone())
            .await,
        "NOT_FOUND",
        "not yet their supervisor"
    );
    let vars = json!({ "id": mentor["id"], "s": sam_id });
    assert_eq!(
        s.app
            .query_error_code(&s.mia, SUPERVISE, vars.clone())
            .await,
        "FORBIDDEN"
    );
    let data = s.app.query_ok(&s.admin, SUPERVISE, vars).await;
    assert_eq!(
        data["assignSupervisor"]["supervisor"]["displayName"],
        "Sam Supervisor"
    );
    let data = s.app.query_ok(&sam, TRAINING, training).await;
    assert!(data["recordMentorTraining"]["trainingCompletedAt"].is_string());
    let future = (Utc::now() + Duration::days(2)).to_rfc3339();
    let (_, body) = s
        .app
        .graphql(
            &s.admin,
            TRAINING,
            json!({ "id": mentor["id"], "at": future }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "completedAt",
        "{body}"
    );
    let (_, body) = s
        .app
        .graphql(
            &s.admin,
            TRAINING,
            json!({ "id": mentee["id"], "at": Value::Null }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "enrolmentId",
        "{body}"
    );
    let mia_id = crate::helpers::employee_id(&s.app.db, MIA).await;
    let (_, body) = s
        .app
        .graphql(
            &s.admin,
            SUPERVISE,
            json!({ "id": mentor["id"], "s": mia_id }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "supervisorId",
        "{body}"
    );
}

async fn programme_enrolments_are_filtered_by_caller(backend: Backend) {
    let s = setup(backend, ProgrammeStatus::Enrolling).await;
    enrol_ok(&s, &s.mia, "MENTOR").await;
    enrol_ok(&s, &s.max, "MENTEE").await;
    let query = "query($id: UUID!, $role: ParticipantRole) { programme(id: $id) { enrolments(role: $role) { edges { node { employee { displayName } role } } } } }";
    let names = |data: Value| -> Vec<String> {
        data["programme"]["enrolments"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["node"]["employee"]["displayName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let all = s
        .app
        .query_ok(&s.admin, query, json!({ "id": s.programme }))
        .await;
    assert_eq!(names(all).len(), 2);
    let mentees = s
        .app
        .query_ok(
            &s.admin,
            query,
            json!({ "id": s.programme, "role": "MENTEE" }),
        )
        .await;
    assert_eq!(names(mentees), ["Max Mentee"]);
    let own = s
        .app
        .query_ok(&s.mia, query, json!({ "id": s.programme }))
        .await;
    assert_eq!(names(own), ["Mia Mentor"]);
    let analyst = s.app.token(None, &["analyst"]).await;
    let (status, body) = s
        .app
        .graphql(&analyst, query, json!({ "id": s.programme }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}

both!(
    volunteers_enrol_themselves_with_consent,
    one_live_enrolment_per_programme_and_role,
    concurrent_duplicate_enrolments_leave_exactly_one,
    enrolment_is_open_while_enrolling_or_matching_only,
    accounts_without_an_employee_cannot_enrol,
    admins_decide_pending_enrolments_once,
    withdrawal_ends_pairings_and_cancels_future_sessions,
    mentors_are_trained_and_supervised,
    programme_enrolments_are_filtered_by_caller,
);
