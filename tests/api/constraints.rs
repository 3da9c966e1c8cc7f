//! The data rules live in the database itself: whatever writes a row, SQLite
//! and PostgreSQL refuse what breaks a range, a uniqueness or a reference.

use entity::enums::ProgrammeStatus;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_employee, insert_programme, insert_supervised_mentor,
};

/// Runs one raw statement with values; answers whether the database accepted it.
async fn accepts(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> bool {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => numbered(sql),
        _ => sql.to_owned(),
    };
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .is_ok()
}

/// `?` placeholders → `$1, $2 …` for PostgreSQL.
fn numbered(sql: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

async fn skill_id(db: &DatabaseConnection) -> Uuid {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM skills WHERE slug = 'seo'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

async fn profile_levels_are_0_to_4(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = insert_employee(&app.db, Person::new("Alice Junior", 2)).await;
    let seo = skill_id(&app.db).await;
    let insert = "INSERT INTO skill_profiles (id, employee_id, skill_id, direction, level, updated_at) VALUES (?, ?, ?, ?, ?, ?)";
    let row = |level: i32, direction: &str| -> Vec<sea_orm::Value> {
        vec![
            Uuid::now_v7().into(),
            alice.into(),
            seo.into(),
            direction.into(),
            level.into(),
            chrono::Utc::now().into(),
        ]
    };
    let offers = "OFFERS";
    assert!(accepts(&app.db, insert, row(4, offers)).await);
    assert!(!accepts(&app.db, insert, row(5, "WANTS")).await, "level 5");
    assert!(
        !accepts(&app.db, insert, row(-1, "WANTS")).await,
        "level -1"
    );
    assert!(
        !accepts(&app.db, insert, row(2, "TEACHES")).await,
        "unknown direction"
    );
    assert!(
        !accepts(&app.db, insert, row(3, offers)).await,
        "one entry per skill and direction"
    );
}

async fn emails_are_unique_case_insensitively(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    insert_employee(&app.db, Person::new("Alice Junior", 2)).await;
    let insert = "INSERT INTO employees (id, external_id, email, display_name, generation, timezone, status, availability_version, created_at, updated_at) VALUES (?, ?, ?, 'X', 'UNKNOWN', 'Europe/Paris', 'ACTIVE', 0, ?, ?)";
    let row = |external: &str, email: &str| -> Vec<sea_orm::Value> {
        let now = chrono::Utc::now();
        vec![
            Uuid::now_v7().into(),
            external.into(),
            email.into(),
            now.into(),
            now.into(),
        ]
    };
    assert!(
        !accepts(&app.db, insert, row("X-2", "Alice.Junior@corp.example")).await,
        "stored emails are lower case"
    );
    assert!(
        !accepts(&app.db, insert, row("X-3", "alice.junior@corp.example")).await,
        "duplicate email"
    );
    assert!(
        !accepts(&app.db, insert, row("X-Alice-Junior", "other@corp.example")).await,
        "duplicate externalId"
    );
    assert!(accepts(&app.db, insert, row("X-4", "other@corp.example")).await);
}

async fn one_live_enrolment_per_employee_programme_and_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = insert_employee(&app.db, Person::new("Alice Junior", 2)).await;
    let sam = insert_employee(&app.db, Person::new("Sam Supervisor", 4)).await;
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Enrolling).await;
    insert_supervised_mentor(&app.db, programme, alice, sam).await;
    let insert = "INSERT INTO enrolments (id, programme_id, employee_id, role, status, consented_at, capacity, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let row = |role: &str, status: &str, capacity: i32| -> Vec<sea_orm::Value> {
        let now = chrono::Utc::now();
        vec![
            Uuid::now_v7().into(),
            programme.into(),
            alice.into(),
            role.into(),
            status.into(),
            now.into(),
            capacity.into(),
            now.into(),
            now.into(),
        ]
    };
    assert!(
        !accepts(&app.db, insert, row("MENTOR", "PENDING", 1)).await,
        "second live enrolment"
    );
    assert!(
        accepts(&app.db, insert, row("MENTOR", "WITHDRAWN", 1)).await,
        "withdrawn ones do not count"
    );
    assert!(
        accepts(&app.db, insert, row("MENTEE", "PENDING", 1)).await,
        "other role"
    );
    let other = insert_programme(&app.db, "Other", ProgrammeStatus::Enrolling).await;
    let mut row_other = row("MENTOR", "PENDING", 0);
    row_other[1] = other.into();
    assert!(!accepts(&app.db, insert, row_other).await, "capacity 0");
}

async fn references_and_ratings_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = chrono::Utc::now();
    let orphan = "INSERT INTO pairings (id, programme_id, mentor_id, status, reasons, created_at, updated_at) VALUES (?, ?, ?, 'ACTIVE', '[]', ?, ?)";
    let values: Vec<sea_orm::Value> = vec![
        Uuid::now_v7().into(),
        Uuid::now_v7().into(),
        Uuid::now_v7().into(),
        now.into(),
        now.into(),
    ];
    assert!(
        !accepts(&app.db, orphan, values).await,
        "unknown programme and mentor"
    );
    let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
    let mentor = insert_employee(&app.db, Person::new("Alice Junior", 2)).await;
    let pairing = Uuid::now_v7();
    let ok: Vec<sea_orm::Value> = vec![
        pairing.into(),
        programme.into(),
        mentor.into(),
        now.into(),
        now.into(),
    ];
    assert!(accepts(&app.db, orphan, ok).await);
    let session = Uuid::now_v7();
    let insert_session = "INSERT INTO mentoring_sessions (id, pairing_id, starts_at, ends_at, mode, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'VIDEO', 'HELD', ?, ?)";
    let backwards: Vec<sea_orm::Value> = vec![
        Uuid::now_v7().into(),
        pairing.into(),
        now.into(),
        (now - chrono::Duration::hours(1)).into(),
        now.into(),
        now.into(),
    ];
    assert!(
        !accepts(&app.db, insert_session, backwards).await,
        "a session ends after it starts"
    );
    let forwards: Vec<sea_orm::Value> = vec![
        session.into(),
        pairing.into(),
        now.into(),
        (now + chrono::Duration::hours(1)).into(),
        now.into(),
        now.into(),
    ];
    assert!(accepts(&app.db, insert_session, forwards).await);
    let feedback = "INSERT INTO session_feedback (id, session_id, author_id, rating, recommend, submitted_at) VALUES (?, ?, ?, ?, ?, ?)";
    let rating = |rating: i32, recommend: i32| -> Vec<sea_orm::Value> {
        vec![
            Uuid::now_v7().into(),
            session.into(),
            mentor.into(),
            rating.into(),
            recommend.into(),
            now.into(),
        ]
    };
    assert!(!accepts(&app.db, feedback, rating(6, 5)).await, "rating 6");
    assert!(!accepts(&app.db, feedback, rating(0, 5)).await, "rating 0");
    assert!(
        !accepts(&app.db, feedback, rating(4, 11)).await,
        "recommend 11"
    );
    assert!(accepts(&app.db, feedback, rating(4, 10)).await);
    assert!(
        !accepts(&app.db, feedback, rating(5, 9)).await,
        "once per participant"
    );
}

both!(
    profile_levels_are_0_to_4,
    emails_are_unique_case_insensitively,
    one_live_enrolment_per_employee_programme_and_role,
    references_and_ratings_are_enforced,
);

/// Two transactions that each hold a row the other wants: PostgreSQL kills
/// one of them (deadlock, `40P01`). Tandem reads that as a Retry, shown to
/// clients as CONFLICT ("try again"), never INTERNAL; the other commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_lost_to_a_deadlock_is_a_conflict() {
    use sea_orm::TransactionTrait;
    use tandem::error::AppError;
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = TestApp::spawn(backend).await;
    let first = insert_employee(&app.db, Person::new("First Row", 3)).await;
    let second = insert_employee(&app.db, Person::new("Second Row", 3)).await;
    let touch = |id: Uuid| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE employees SET availability_version = availability_version + 1 WHERE id = $1",
            [id.into()],
        )
    };
    let (one, other) = (app.db.begin().await.unwrap(), app.db.begin().await.unwrap());
    one.execute_raw(touch(first)).await.unwrap();
    other.execute_raw(touch(second)).await.unwrap();
    let crossing = |txn: sea_orm::DatabaseTransaction, id: Uuid| {
        let statement = touch(id);
        tokio::spawn(async move {
            match txn.execute_raw(statement).await {
                Ok(_) => txn.commit().await.map_err(AppError::from),
                Err(err) => Err(AppError::from(err)),
            }
        })
    };
    let (one, other) = (crossing(one, second), crossing(other, first));
    let outcomes = [one.await.unwrap(), other.await.unwrap()];
    let lost: Vec<&AppError> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(lost.len(), 1, "exactly one transaction is sacrificed");
    assert!(
        matches!(lost[0], AppError::Retry),
        "a deadlock is a Retry, not a business CONFLICT: {:?}",
        lost[0]
    );
    assert!(lost[0].to_string().contains("try again"), "{}", lost[0]);
}
