//! The HRIS sync: rows matched on externalId, bad rows reported while good
//! ones apply, idempotence, dry runs, snapshots guarded against mass
//! deactivation, leavers, run records, large pushes and half-done runs.

use chrono::{Duration, Utc};
use entity::enums::{
    EmployeeStatus, EnrolmentStatus, Generation, PairingStatus, ProgrammeStatus, SessionStatus,
};
use entity::{department, employee, enrolment, hris_sync_run, mentoring_session, pairing};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme, insert_session,
    insert_supervised_mentor,
};

const SYNC: &str = "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { id mode source dryRun state created updated unchanged deactivated failed errors { externalId field message } startedAt completedAt } }";
const RUN: &str = "query($id: UUID!) { hrisSyncRun(id: $id) { id state created updated unchanged deactivated failed errors { externalId field } } }";

fn person(key: &str) -> Value {
    json!({ "externalId": key, "email": format!("{}@corp.example", key.to_lowercase()) })
}

fn input(mode: &str, employees: Vec<Value>) -> Value {
    json!({ "input": { "mode": mode, "source": "workday", "employees": employees } })
}

async fn hris(app: &TestApp) -> String {
    app.token(None, &["hris"]).await
}

async fn sync(app: &TestApp, variables: Value) -> Value {
    let token = hris(app).await;
    app.query_ok(&token, SYNC, variables).await["syncEmployees"].clone()
}

async fn stored(app: &TestApp, key: &str) -> Option<employee::Model> {
    employee::Entity::find()
        .filter(employee::Column::ExternalId.eq(key))
        .one(&app.db)
        .await
        .unwrap()
}

fn counts(run: &Value) -> [i64; 5] {
    ["created", "updated", "unchanged", "deactivated", "failed"].map(|k| run[k].as_i64().unwrap())
}

async fn a_push_creates_updates_and_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let departments = json!([
        { "externalId": "D-DIGI", "name": "Digital", "parentExternalId": "D-ROOT" },
        { "externalId": "D-ROOT", "name": "Group" },
    ]);
    let employees = json!([
        { "externalId": "E2", "email": "Zoe.Martin@Corp.Example", "givenName": "Zoé", "familyName": "Martin",
          "managerExternalId": "E1", "departmentExternalId": "D-DIGI", "birthYear": 2000,
          "seniorityLevel": 2, "timezone": "Europe/Paris", "jobTitle": "Community manager" },
        { "externalId": "E1", "email": "ceo@corp.example", "displayName": "The CEO", "birthYear": 1960,
          "seniorityLevel": 12, "departmentExternalId": "D-ROOT" },
    ]);
    let mut variables = json!({ "input": { "mode": "UPSERT", "source": "workday",
        "departments": departments, "employees": employees } });
    let first = sync(&app, variables.clone()).await;
    assert_eq!(counts(&first), [4, 0, 0, 0, 0], "{first}");
    assert_eq!(first["state"], "COMPLETED");
    assert_eq!(first["dryRun"], false);
    assert!(first["completedAt"].is_string());

    let zoe = stored(&app, "E2").await.unwrap();
    let ceo = stored(&app, "E1").await.unwrap();
    assert_eq!(zoe.email, "zoe.martin@corp.example", "email in lower case");
    assert_eq!(zoe.display_name, "Zoé Martin");
    assert_eq!(zoe.manager_id, Some(ceo.id), "a manager later in the input");
    assert_eq!(zoe.generation, Generation::GenZ);
    assert_eq!(ceo.generation, Generation::BabyBoomer);
    let digital = department::Entity::find_by_id(zoe.department_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let root = department::Entity::find()
        .filter(department::Column::ExternalId.eq("D-ROOT"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(digital.parent_id, Some(root.id));

    let again = sync(&app, variables.clone()).await;
    assert_eq!(counts(&again), [0, 0, 4, 0, 0], "{again}");
    let zoe_again = stored(&app, "E2").await.unwrap();
    assert_eq!(zoe_again.updated_at, zoe.updated_at, "nothing rewritten");

    variables["input"]["employees"][0]["jobTitle"] = json!("Head of community");
    let third = sync(&app, variables).await;
    assert_eq!(counts(&third), [0, 1, 3, 0, 0], "{third}");
    assert_eq!(
        stored(&app, "E2").await.unwrap().job_title.as_deref(),
        Some("Head of community")
    );

    let admin = app.token(None, &["admin"]).await;
    let recorded = app
        .query_ok(&admin, RUN, json!({ "id": first["id"] }))
        .await;
    assert_eq!(recorded["hrisSyncRun"]["created"], 4);
    assert_eq!(recorded["hrisSyncRun"]["state"], "COMPLETED");
}

async fn bad_rows_are_reported_and_good_rows_applied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Taken Address", 5)).await;
    let with = |key: &str, extra: Value| {
        let mut row = person(key);
        row.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        row
    };
    let employees = vec![
        person("GOOD-1"),
        with("BAD-EMAIL", json!({ "email": "not an email" })),
        with("BAD-MANAGER", json!({ "managerExternalId": "NOBODY" })),
        with("BAD-DEPT", json!({ "departmentExternalId": "NOWHERE" })),
        with("LOOP-A", json!({ "managerExternalId": "LOOP-B" })),
        with("LOOP-B", json!({ "managerExternalId": "LOOP-A" })),
        person("TWIN"),
        with("TWIN", json!({ "email": "twin2@corp.example" })),
        with("SAME-1", json!({ "email": "same@corp.example" })),
        with("SAME-2", json!({ "email": "SAME@corp.example" })),
        with("TAKEN", json!({ "email": "taken.address@corp.example" })),
        with("OLD", json!({ "birthYear": 1890 })),
        with(
            "YOUNG",
            json!({ "birthYear": Utc::now().format("%Y").to_string().parse::<i32>().unwrap() - 5 }),
        ),
        with("SENIOR", json!({ "seniorityLevel": 13 })),
        with("ZONE", json!({ "timezone": "Europe/Atlantis" })),
        with("GOOD-2", json!({ "managerExternalId": "GOOD-1" })),
    ];
    let run = sync(&app, input("UPSERT", employees)).await;
    assert_eq!(counts(&run), [2, 0, 0, 0, 14], "{run}");
    let errors: Vec<(String, String)> = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap().is_empty());
            (
                e["externalId"].as_str().unwrap().to_owned(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("BAD-EMAIL", "email"),
        ("BAD-MANAGER", "managerExternalId"),
        ("BAD-DEPT", "departmentExternalId"),
        ("LOOP-A", "managerExternalId"),
        ("LOOP-B", "managerExternalId"),
        ("TWIN", "externalId"),
        ("TWIN", "externalId"),
        ("SAME-1", "email"),
        ("SAME-2", "email"),
        ("TAKEN", "email"),
        ("OLD", "birthYear"),
        ("YOUNG", "birthYear"),
        ("SENIOR", "seniorityLevel"),
        ("ZONE", "timezone"),
    ]
    .map(|(k, f)| (k.to_owned(), f.to_owned()));
    assert_eq!(errors, expected, "in input order");
    let loop_message = run["errors"][3]["message"].as_str().unwrap();
    assert!(
        loop_message.contains("LOOP-A → LOOP-B → LOOP-A"),
        "{loop_message}"
    );
    assert!(stored(&app, "GOOD-2").await.unwrap().manager_id.is_some());
    for rejected in ["BAD-EMAIL", "LOOP-A", "TWIN", "SAME-1", "TAKEN", "ZONE"] {
        assert!(
            stored(&app, rejected).await.is_none(),
            "{rejected} not written"
        );
    }
    let token = hris(&app).await;
    let recorded = app.query_ok(&token, RUN, json!({ "id": run["id"] })).await;
    assert_eq!(
        recorded["hrisSyncRun"]["errors"].as_array().unwrap().len(),
        14
    );
    assert_eq!(recorded["hrisSyncRun"]["errors"][13]["externalId"], "ZONE");
}

async fn a_dry_run_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let employees = vec![
        person("A"),
        person("B"),
        json!({ "externalId": "C", "email": "bad" }),
    ];
    let mut variables = input("UPSERT", employees);
    variables["input"]["dryRun"] = json!(true);
    let dry = sync(&app, variables.clone()).await;
    assert_eq!(counts(&dry), [2, 0, 0, 0, 1], "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(employee::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(
        hris_sync_run::Entity::find().count(&app.db).await.unwrap(),
        0
    );
    let token = hris(&app).await;
    let recorded = app.query_ok(&token, RUN, json!({ "id": dry["id"] })).await;
    assert!(
        recorded["hrisSyncRun"].is_null(),
        "a dry run is not recorded"
    );
    variables["input"]["dryRun"] = json!(false);
    let real = sync(&app, variables).await;
    assert_eq!(counts(&real), counts(&dry), "the dry run predicted the run");
}

async fn a_snapshot_deactivates_the_absent_but_never_the_whole_company(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let everyone: Vec<Value> = (0..20).map(|i| person(&format!("E{i:02}"))).collect();
    sync(&app, input("FULL_SNAPSHOT", everyone.clone())).await;

    let mut invalid_but_present = everyone[1..].to_vec();
    invalid_but_present[0]["email"] = json!("broken");
    let run = sync(&app, input("FULL_SNAPSHOT", invalid_but_present)).await;
    assert_eq!(
        run["deactivated"], 1,
        "only E00 is absent; a rejected row is present: {run}"
    );
    assert_eq!(
        stored(&app, "E00").await.unwrap().status,
        EmployeeStatus::Terminated
    );
    assert_eq!(
        stored(&app, "E01").await.unwrap().status,
        EmployeeStatus::Active
    );

    let truncated = everyone[..10].to_vec();
    let token = hris(&app).await;
    let (_, body) = app
        .graphql(&token, SYNC, input("FULL_SNAPSHOT", truncated.clone()))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("10 of 19"), "{message}");
    let still_active = employee::Entity::find()
        .filter(employee::Column::Status.eq(EmployeeStatus::Active))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(still_active, 19, "nothing changed");
    let failed = hris_sync_run::Entity::find()
        .filter(hris_sync_run::Column::State.eq(entity::enums::HrisSyncState::Failed))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(failed, 1, "the refused run is recorded");

    let mut forced = input("FULL_SNAPSHOT", truncated);
    forced["input"]["allowMassDeactivation"] = json!(true);
    let run = sync(&app, forced).await;
    assert_eq!(run["deactivated"], 10, "{run}");
}

async fn a_leaver_loses_pairings_sessions_enrolments_and_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
    let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
    let sam = insert_employee(&app.db, Person::new("Sam Supervisor", 5)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let pairing = insert_pairing(&app.db, programme, mia, &[max], PairingStatus::Active).await;
    insert_supervised_mentor(&app.db, programme, mia, sam).await;
    let future = insert_session(
        &app.db,
        pairing,
        Utc::now() + Duration::days(3),
        SessionStatus::Scheduled,
        None,
    )
    .await;
    let past = insert_session(
        &app.db,
        pairing,
        Utc::now() - Duration::days(3),
        SessionStatus::Held,
        None,
    )
    .await;
    let mia_token = app.token(Some("mia.mentor@corp.example"), &[]).await;
    app.query_ok(&mia_token, "{ me { id } }", json!({})).await;

    let leaving = json!({ "externalId": "X-Mia-Mentor", "email": "mia.mentor@corp.example",
        "displayName": "Mia Mentor", "seniorityLevel": 2, "status": "TERMINATED" });
    let run = sync(&app, input("UPSERT", vec![leaving.clone()])).await;
    assert_eq!(counts(&run), [0, 0, 0, 1, 0], "{run}");

    let ended = pairing::Entity::find_by_id(pairing)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.status, PairingStatus::EndedEarly);
    let session = |id| mentoring_session::Entity::find_by_id(id).one(&app.db);
    assert_eq!(
        session(future).await.unwrap().unwrap().status,
        SessionStatus::Cancelled
    );
    assert_eq!(
        session(past).await.unwrap().unwrap().status,
        SessionStatus::Held,
        "history kept"
    );
    let enrolments = enrolment::Entity::find()
        .filter(enrolment::Column::EmployeeId.eq(mia))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        enrolments
            .iter()
            .all(|e| e.status == EnrolmentStatus::Withdrawn)
    );
    let (status, _) = app.graphql(&mia_token, "{ me { id } }", json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the leaver's token opens nothing"
    );

    let again = sync(&app, input("UPSERT", vec![leaving])).await;
    assert_eq!(counts(&again), [0, 0, 1, 0, 0], "{again}");
}

async fn the_hris_account_may_push_a_whole_company_others_may_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("GRAPHQL_BODY_LIMIT_BYTES", "65536")]).await;
    let employees: Vec<Value> = (0..1500)
        .map(|i| {
            json!({ "externalId": format!("EMP-{i:05}"), "email": format!("employee.{i:05}@corp.example"),
                    "givenName": "Given", "familyName": format!("Family{i}"), "timezone": "Europe/Paris" })
        })
        .collect();
    let variables = input("FULL_SNAPSHOT", employees);
    assert!(variables.to_string().len() > 65536);
    let run = sync(&app, variables.clone()).await;
    assert_eq!(counts(&run), [1500, 0, 0, 0, 0]);
    let admin = app.token(None, &["admin"]).await;
    let (status, body) = app.graphql(&admin, SYNC, variables).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

async fn a_run_that_fails_half_way_leaves_a_consistent_company_and_a_rerun_completes_it(
    backend: Backend,
) {
    let app = TestApp::spawn(backend.clone()).await;
    // The 5501st employee cannot be written.
    let trap = match backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER trap BEFORE INSERT ON employees WHEN NEW.external_id = 'EMP-05500' \
             BEGIN SELECT RAISE(ABORT, 'trap'); END",
        ],
        Backend::Postgres(_) => vec![
            "CREATE FUNCTION trap() RETURNS trigger AS $$ BEGIN \
             IF NEW.external_id = 'EMP-05500' THEN RAISE EXCEPTION 'trap'; END IF; RETURN NEW; END \
             $$ LANGUAGE plpgsql",
            "CREATE TRIGGER trap BEFORE INSERT ON employees FOR EACH ROW EXECUTE FUNCTION trap()",
        ],
    };
    for statement in trap {
        app.db.execute_unprepared(statement).await.unwrap();
    }
    let employees: Vec<Value> = (0..6000)
        .map(|i| {
            let mut row = person(&format!("EMP-{i:05}"));
            if i > 0 {
                row["managerExternalId"] = json!(format!("EMP-{:05}", (i - 1) / 10));
            }
            row
        })
        .collect();
    let token = hris(&app).await;
    let (_, body) = app
        .graphql(&token, SYNC, input("UPSERT", employees.clone()))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{body}"
    );
    assert!(
        !body.to_string().contains("trap"),
        "no internal detail: {body}"
    );
    // What was committed stands; the trap's transaction rolled back. How
    // much that is depends on the backend: SQLite writes 5,000 rows per
    // transaction, managers first; PostgreSQL writes the small levels of the
    // tree (1, 10, 100) together, then each large level (1,000, then 4,889)
    // in three transactions side by side (4,889 as 1,630 + 1,630 + 1,629
    // rows), all let finish.
    let written = employee::Entity::find().count(&app.db).await.unwrap();
    match backend {
        Backend::Sqlite => assert_eq!(written, 5000, "the first transaction stands"),
        Backend::Postgres(_) => {
            assert_eq!(
                written,
                111 + 1000 + 1630 + 1630,
                "the levels above the trap's and its sibling transactions stand"
            );
            assert!(
                stored(&app, "EMP-04370").await.is_some(),
                "the sibling transaction before the trap's stands"
            );
            assert!(
                stored(&app, "EMP-04371").await.is_none(),
                "the trap's transaction-mates rolled back with it"
            );
        }
    }
    assert!(stored(&app, "EMP-05500").await.is_none());
    let company = employee::Entity::find().all(&app.db).await.unwrap();
    let ids: std::collections::HashSet<_> = company.iter().map(|e| e.id).collect();
    assert!(
        company
            .iter()
            .filter_map(|e| e.manager_id)
            .all(|m| ids.contains(&m)),
        "every written employee's manager is written too"
    );
    let failed = hris_sync_run::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.state, entity::enums::HrisSyncState::Failed);

    app.db
        .execute_unprepared("DROP TRIGGER trap ON employees")
        .await
        .ok();
    app.db
        .execute_unprepared("DROP TRIGGER IF EXISTS trap")
        .await
        .ok();
    let rerun = sync(&app, input("UPSERT", employees)).await;
    let written = i64::try_from(written).unwrap();
    assert_eq!(
        counts(&rerun),
        [6000 - written, 0, written, 0, 0],
        "{rerun}"
    );
    assert_eq!(employee::Entity::find().count(&app.db).await.unwrap(), 6000);
}

async fn a_dry_run_of_5000_employees_in_one_manager_loop_reports_every_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let employees: Vec<Value> = (0..5000)
        .map(|i| {
            let mut row = person(&format!("EMP-{i:05}"));
            row["managerExternalId"] = json!(format!("EMP-{:05}", (i + 1) % 5000));
            row
        })
        .collect();
    let mut variables = input("UPSERT", employees);
    variables["input"]["dryRun"] = json!(true);
    let run = sync(&app, variables).await;
    assert_eq!(counts(&run), [0, 0, 0, 0, 5000]);
    let errors = run["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 5000);
    for (i, error) in errors.iter().enumerate() {
        let key = format!("EMP-{i:05}");
        assert_eq!(error["externalId"], key.as_str());
        assert_eq!(error["field"], "managerExternalId");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("manager chain loops: {key} → ")),
            "{message}"
        );
        assert!(message.ends_with("(5000 records on the loop)"), "{message}");
    }
    assert_eq!(employee::Entity::find().count(&app.db).await.unwrap(), 0);
}

async fn a_row_reusing_a_stored_email_does_not_block_its_holders_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    sync(&app, input("UPSERT", vec![person("OWNER")])).await;
    let mut owner = person("OWNER");
    owner["jobTitle"] = json!("Head of people");
    let intruder = json!({ "externalId": "INTRUDER", "email": "Owner@Corp.Example" });
    let run = sync(&app, input("UPSERT", vec![intruder, owner])).await;
    assert_eq!(counts(&run), [0, 1, 0, 0, 1], "{run}");
    assert_eq!(run["errors"][0]["externalId"], "INTRUDER");
    assert_eq!(run["errors"][0]["field"], "email");
    assert_eq!(
        stored(&app, "OWNER").await.unwrap().job_title.as_deref(),
        Some("Head of people")
    );
    assert!(stored(&app, "INTRUDER").await.is_none());
}

/// `syncEmployees` with `__typename` beside it: not the plain shape the
/// HTTP layer reads in one pass, so read as GraphQL values throughout.
const SYNC_READ_AS_VALUES: &str = "mutation($input: HrisSyncInput!) { __typename syncEmployees(input: $input) { id mode source dryRun state created updated unchanged deactivated failed errors { externalId field message } startedAt completedAt } }";

async fn a_push_read_in_one_pass_answers_as_graphql_would(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = hris(&app).await;
    let employees: Vec<Value> = (0..300)
        .map(|i| {
            json!({ "externalId": format!("EMP-{i:03}"), "email": format!("Person.{i}@Corp.Example"),
                    "givenName": " Given ", "familyName": format!("Family{i}"), "displayName": null,
                    "jobTitle": "Analyst", "managerExternalId": (i > 0).then(|| format!("EMP-{:03}", (i - 1) / 4)),
                    "seniorityLevel": i % 12 + 1, "birthYear": 1970 + i % 40,
                    "timezone": "Europe/Paris", "status": if i % 7 == 0 { "ON_LEAVE" } else { "ACTIVE" } })
        })
        .collect();
    let mut with_bad_row = employees.clone();
    with_bad_row.push(json!({ "externalId": "BAD", "email": "not an email" }));
    let fast = app
        .query_ok(&token, SYNC, input("FULL_SNAPSHOT", with_bad_row.clone()))
        .await["syncEmployees"]
        .clone();
    assert_eq!(counts(&fast), [300, 0, 0, 0, 1], "{fast}");
    let ordinary = app
        .query_ok(
            &token,
            SYNC_READ_AS_VALUES,
            input("FULL_SNAPSHOT", with_bad_row),
        )
        .await["syncEmployees"]
        .clone();
    assert_eq!(
        counts(&ordinary),
        [0, 0, 300, 0, 1],
        "read as GraphQL values, the same records find the rows written unchanged: {ordinary}"
    );
    assert_eq!(fast["errors"], ordinary["errors"]);

    // Proof that the plain push was read in one pass: past the most a push
    // may hold, the one-pass read keeps no more records and the push is
    // refused for its size, where GraphQL values would first fail
    // validation on the last record (an array, not an object).
    let mut too_many = vec![json!({ "externalId": "E", "email": "e@corp.example" }); 200_001];
    too_many.push(json!(["not", "a", "record"]));
    let (_, refused) = app.graphql(&token, SYNC, input("UPSERT", too_many)).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 200000 employees per call")),
        "{}",
        refused["errors"][0]
    );

    // Input GraphQL refuses gets the same answer whichever way it is read.
    for bad in [
        json!({ "externalId": "X", "email": "x@corp.example", "seniorityLevel": "3" }),
        json!({ "externalId": "X", "email": "x@corp.example", "nickname": "Xi" }),
        json!({ "externalId": "X", "email": "x@corp.example", "status": "RETIRED" }),
        json!({ "externalId": "X\u{0}", "email": "x@corp.example" }),
        json!({ "email": "x@corp.example" }),
    ] {
        let variables = input("UPSERT", vec![bad.clone()]);
        let (status, one_pass) = app.graphql(&token, SYNC, variables.clone()).await;
        let (ordinary_status, ordinary) = app.graphql(&token, SYNC_READ_AS_VALUES, variables).await;
        assert_eq!(status, ordinary_status, "{bad}: {one_pass} / {ordinary}");
        assert!(one_pass["errors"].is_array(), "{bad}: {one_pass}");
        assert_eq!(
            one_pass["errors"][0]["extensions"]["code"],
            ordinary["errors"][0]["extensions"]["code"],
            "{bad}: {one_pass} / {ordinary}"
        );
        assert!(stored(&app, "X").await.is_none());
    }
}

both!(
    a_push_read_in_one_pass_answers_as_graphql_would,
    a_push_creates_updates_and_is_idempotent,
    bad_rows_are_reported_and_good_rows_applied,
    a_dry_run_writes_nothing,
    a_snapshot_deactivates_the_absent_but_never_the_whole_company,
    a_leaver_loses_pairings_sessions_enrolments_and_access,
    the_hris_account_may_push_a_whole_company_others_may_not,
    a_run_that_fails_half_way_leaves_a_consistent_company_and_a_rerun_completes_it,
    a_dry_run_of_5000_employees_in_one_manager_loop_reports_every_row,
    a_row_reusing_a_stored_email_does_not_block_its_holders_update,
);
