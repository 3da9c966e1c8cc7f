//! `TestApp`: the real server on port 0, over its own fresh database, with
//! real signed tokens — exactly what clients talk to.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use entity::enums::*;
use entity::{employee, enrolment, mentoring_session, pairing, pairing_mentee, programme};
use reqwest::StatusCode;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait as _, Set,
};
use serde_json::{Value, json};
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::startup::{self, Application};
use uuid::Uuid;

use crate::idp::{self, TestIdp, TestKey};

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server `TEST_DATABASE_URL` points at.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set (CI always sets it).
    pub fn postgres() -> Option<Self> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("TEST_DATABASE_URL unset: PostgreSQL variant not run");
                None
            }
        }
    }
}

/// Runs an async test body once per backend: `both!(name)` defines
/// `name::sqlite` and `name::postgres` calling `async fn name(Backend)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    )+};
}

/// A database that exists for one test and is removed afterwards.
enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let TestDatabase::Postgres { admin_url, name } = self else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

/// Replaces the database name (path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

async fn fresh_database(backend: &Backend) -> (String, TestDatabase) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("tandem.db").display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
        Backend::Postgres(admin_url) => {
            let name = format!("tandem_test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(admin_url)
                .await
                .expect("TEST_DATABASE_URL is set but PostgreSQL cannot be reached");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let guard = TestDatabase::Postgres {
                admin_url: admin_url.clone(),
                name: name.clone(),
            };
            (with_database(admin_url, &name), guard)
        }
    }
}

/// The running service under test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Where `/metrics` answers, when `METRICS_ADDR` was set.
    pub metrics_address: Option<String>,
    /// A direct connection to the app's database, for arranging data.
    pub db: DatabaseConnection,
    /// The identity provider the service trusts (unused in dev mode).
    pub idp: TestIdp,
    /// The key the provider signs tokens with.
    pub key: TestKey,
    dev_mode: bool,
    statements: Arc<AtomicU64>,
    /// The configuration the service runs with (the notifier's settings).
    pub config: Config,
    client: reqwest::Client,
    _database: TestDatabase,
}

impl TestApp {
    /// Starts the service trusting a fresh test identity provider.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts the service trusting a fresh test identity provider, with extra settings.
    pub async fn spawn_with(backend: Backend, settings: &[(&str, &str)]) -> Self {
        let key = TestKey::es256("test-key-1");
        let idp = TestIdp::start(&[&key]).await;
        Self::start(backend, idp, key, false, settings).await
    }

    /// Starts the service in dev mode (it signs and accepts its own tokens).
    pub async fn spawn_dev(backend: Backend, settings: &[(&str, &str)]) -> Self {
        let key = TestKey::es256("unused");
        let idp = TestIdp::start(&[]).await;
        Self::start(backend, idp, key, true, settings).await
    }

    /// Starts the service trusting `idp`, whose tokens `key` signs.
    pub async fn start(
        backend: Backend,
        idp: TestIdp,
        key: TestKey,
        dev_mode: bool,
        settings: &[(&str, &str)],
    ) -> Self {
        let (url, database) = fresh_database(&backend).await;
        let mut env: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), url),
            ("BIND_ADDR".into(), "127.0.0.1:0".into()),
            ("DATABASE_POOL_SIZE".into(), "4".into()),
            // Tests that need the notifier loop turn it on; the others count
            // statements and must not share the database with it.
            ("NOTIFY".into(), "off".into()),
            // Tests that count requests turn rate limits on; the others send
            // bursts (races) that the default limit would cut.
            ("RATE_LIMIT_PER_MINUTE".into(), "0".into()),
        ]);
        if dev_mode {
            env.insert("AUTH_DEV_MODE".into(), "true".into());
        } else {
            env.extend(idp.settings());
        }
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if env.contains_key("AUTH_JWKS_FILE") {
            env.remove("AUTH_JWKS_URL"); // air-gapped: keys from a file instead
        }
        let config = Config::from_source(&env).expect("test configuration");
        let mut db = startup::connect(&config.database).await.expect("connect");
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        startup::migrate(&db).await.expect("migrate");
        let listener = std::net::TcpListener::bind(config.bind_addr).expect("bind port 0");
        let notifier_config = config.clone();
        let app = Application::with_listener(config, db.clone(), listener)
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        tokio::spawn(app.run());
        Self {
            address,
            metrics_address,
            db,
            idp,
            key,
            dev_mode,
            statements,
            config: notifier_config,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .expect("HTTP client"),
            _database: database,
        }
    }

    /// A valid token for `email` (None: a service account) with `roles`:
    /// signed by the test provider, or by the service's dev key in dev mode.
    pub async fn token(&self, email: Option<&str>, roles: &[&str]) -> String {
        if self.dev_mode {
            self.dev_token(email, roles, 3600).await
        } else {
            self.key.sign(&idp::claims(email, roles))
        }
    }

    /// A token signed with the dev-mode key stored in the database.
    pub async fn dev_token(&self, email: Option<&str>, roles: &[&str], ttl_secs: i64) -> String {
        let key = DevKey::load_or_create(&self.db).await.expect("dev key");
        let request = DevTokenRequest {
            email: email.map(str::to_owned),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ttl_secs,
        };
        dev::issue(&key, &request).expect("issue token")
    }

    /// One notifier pass at `now` over the app's database, as
    /// `tandem notify --once --now` runs it.
    pub async fn notify_pass(&self, now: chrono::DateTime<Utc>) -> tandem::notify::PassReport {
        let notifier = tandem::notify::Notifier::new(
            self.db.clone(),
            &self.config.notify,
            &self.config.public_base_url,
        )
        .expect("notifier");
        notifier.pass(now).await.expect("notifier pass")
    }

    /// How many SQL statements the service (and this test's `db`) ran so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }

    /// A client to send requests by hand.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `POST /graphql` with a JSON body; answers the status and the JSON body.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> (StatusCode, Value) {
        self.post_graphql(token, json!({ "query": query, "variables": variables }))
            .await
    }

    /// `POST /graphql` with `body` as it is (an operation name, a trusted
    /// document's id); answers the status and the JSON body.
    pub async fn post_graphql(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// `POST /graphql` as a GraphQL multipart request (the specification
    /// upload clients follow): the operation, a map putting the one file at
    /// `variables.<variable>`, and the file's bytes.
    pub async fn upload(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        variable: &str,
        file: &[u8],
    ) -> (StatusCode, Value) {
        const BOUNDARY: &str = "tandem-test-boundary-7f3a9c";
        let operations = json!({ "query": query, "variables": variables }).to_string();
        let map = json!({ "0": [format!("variables.{variable}")] }).to_string();
        let mut body = Vec::with_capacity(file.len() + 1024);
        for (name, value) in [("operations", operations), ("map", map)] {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"diary.ics\"\r\nContent-Type: text/calendar\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// The `data` of a query that must succeed.
    pub async fn query_ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Sends all the requests `(token, query, variables)` at once (none waits
    /// for another) and answers their bodies in the order of the requests.
    pub async fn send_at_once(&self, requests: Vec<(String, &str, Value)>) -> Vec<Value> {
        let mut running = tokio::task::JoinSet::new();
        for (index, (token, query, variables)) in requests.into_iter().enumerate() {
            let request = self
                .client
                .post(format!("{}/graphql", self.address))
                .bearer_auth(token)
                .json(&json!({ "query": query, "variables": variables }));
            running.spawn(async move {
                let response = request.send().await.expect("request");
                (index, response.json::<Value>().await.expect("JSON body"))
            });
        }
        let mut bodies = running.join_all().await;
        bodies.sort_by_key(|(index, _)| *index);
        bodies.into_iter().map(|(_, body)| body).collect()
    }

    /// Sends all the requests at once and checks that exactly `n` succeed and
    /// every other one is refused as a CONFLICT a person understands (see
    /// [`assert_understood_conflict`]); answers the bodies in request order.
    pub async fn assert_exactly_n_win(
        &self,
        requests: Vec<(String, &str, Value)>,
        n: usize,
    ) -> Vec<Value> {
        let bodies = self.send_at_once(requests).await;
        let winners = bodies.iter().filter(|body| won(body)).count();
        let outcomes: Vec<String> = bodies.iter().map(outcome).collect();
        assert_eq!(
            winners,
            n,
            "exactly {n} of {} requests win: {outcomes:?}",
            bodies.len()
        );
        for body in bodies.iter().filter(|body| !won(body)) {
            assert_understood_conflict(body);
        }
        bodies
    }

    /// Sends all the requests at once and checks that exactly one succeeds and
    /// every other answers CONFLICT.
    pub async fn assert_exactly_one_wins(&self, requests: Vec<(String, &str, Value)>) {
        self.assert_exactly_n_win(requests, 1).await;
    }

    /// The single error code of a query that must fail.
    pub async fn query_error_code(&self, token: &str, query: &str, variables: Value) -> String {
        let (_, body) = self.graphql(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error: {body}"))
            .to_owned()
    }
}

/// Whether a GraphQL response succeeded (answered no error).
pub fn won(body: &Value) -> bool {
    body.get("errors").is_none()
}

/// "won", or the error's code and message: what a response came to.
pub fn outcome(body: &Value) -> String {
    if won(body) {
        return "won".to_owned();
    }
    let error = &body["errors"][0];
    let code = error["extensions"]["code"].as_str().unwrap_or("no code");
    format!("{code}: {}", error["message"].as_str().unwrap_or_default())
}

/// The response is a refusal with code CONFLICT and a message for a person:
/// not empty and not the generic "internal error".
pub fn assert_understood_conflict(body: &Value) {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{body}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty() && !message.to_lowercase().contains("internal"),
        "a message a person understands: {body}"
    );
}

/// A person to insert.
pub struct Person<'a> {
    pub name: &'a str,
    pub level: i32,
    pub manager: Option<Uuid>,
    pub status: EmployeeStatus,
}

impl<'a> Person<'a> {
    /// An active employee at `level` with no manager.
    pub fn new(name: &'a str, level: i32) -> Self {
        Self {
            name,
            level,
            manager: None,
            status: EmployeeStatus::Active,
        }
    }

    /// The email derived from the name (`alice@corp.example`).
    pub fn email(name: &str) -> String {
        format!("{}@corp.example", name.to_lowercase().replace(' ', "."))
    }
}

/// Inserts an employee and answers their id.
pub async fn insert_employee(db: &DatabaseConnection, person: Person<'_>) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    employee::ActiveModel {
        id: Set(id),
        external_id: Set(format!("X-{}", person.name.replace(' ', "-"))),
        email: Set(Person::email(person.name)),
        given_name: Set(None),
        family_name: Set(None),
        display_name: Set(person.name.to_owned()),
        job_title: Set(None),
        department_id: Set(None),
        manager_id: Set(person.manager),
        generation: Set(Generation::Unknown),
        seniority_level: Set(Some(person.level)),
        timezone: Set("Europe/Paris".to_owned()),
        status: Set(person.status),
        availability_version: Set(0),
        terminated_at: Set(None),
        erased_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert employee");
    id
}

/// Inserts a programme in `status` and answers its id.
pub async fn insert_programme(
    db: &DatabaseConnection,
    name: &str,
    status: ProgrammeStatus,
) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    programme::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        purpose: Set("Learn digital practice".to_owned()),
        status: Set(status),
        format: Set(ProgrammeFormat::Group),
        max_mentees_per_mentor: Set(3),
        session_cadence_days: Set(14),
        target_sessions: Set(6),
        requires_mentor_training: Set(true),
        starts_on: Set(None),
        ends_on: Set(None),
        sponsor_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert programme");
    id
}

/// Inserts a pairing of `mentor` with `mentees` in `status`.
pub async fn insert_pairing(
    db: &DatabaseConnection,
    programme_id: Uuid,
    mentor: Uuid,
    mentees: &[Uuid],
    status: PairingStatus,
) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    pairing::ActiveModel {
        id: Set(id),
        programme_id: Set(programme_id),
        mentor_id: Set(mentor),
        status: Set(status),
        score: Set(None),
        reasons: Set(json!([])),
        end_reason: Set(None),
        decided_at: Set(None),
        ended_at: Set(None),
        paused_at: Set(None),
        pause_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert pairing");
    for mentee in mentees {
        pairing_mentee::ActiveModel {
            pairing_id: Set(id),
            mentee_id: Set(*mentee),
        }
        .insert(db)
        .await
        .expect("insert pairing mentee");
    }
    id
}

/// Inserts an approved mentor enrolment supervised by `supervisor`.
pub async fn insert_supervised_mentor(
    db: &DatabaseConnection,
    programme_id: Uuid,
    mentor: Uuid,
    supervisor: Uuid,
) {
    let now = Utc::now();
    enrolment::ActiveModel {
        id: Set(Uuid::now_v7()),
        programme_id: Set(programme_id),
        employee_id: Set(mentor),
        role: Set(ParticipantRole::Mentor),
        status: Set(EnrolmentStatus::Approved),
        consented_at: Set(now),
        motivation: Set(None),
        training_completed_at: Set(Some(now)),
        supervisor_id: Set(Some(supervisor)),
        capacity: Set(3),
        decided_at: Set(Some(now)),
        decision_reason: Set(None),
        withdrawn_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert enrolment");
}

/// The id of the employee with `email`.
pub async fn employee_id(db: &DatabaseConnection, email: &str) -> Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    employee::Entity::find()
        .filter(employee::Column::Email.eq(email))
        .one(db)
        .await
        .expect("query")
        .expect("employee exists")
        .id
}

/// Inserts an APPROVED enrolment; mentors get `capacity` and, when
/// `supervisor` is given, completed training and that supervisor.
pub async fn insert_approved(
    db: &DatabaseConnection,
    programme_id: Uuid,
    employee_id: Uuid,
    role: ParticipantRole,
    capacity: i32,
    supervisor: Option<Uuid>,
) {
    let now = Utc::now();
    enrolment::ActiveModel {
        id: Set(Uuid::now_v7()),
        programme_id: Set(programme_id),
        employee_id: Set(employee_id),
        role: Set(role),
        status: Set(EnrolmentStatus::Approved),
        consented_at: Set(now),
        motivation: Set(None),
        training_completed_at: Set(supervisor.map(|_| now)),
        supervisor_id: Set(supervisor),
        capacity: Set(capacity),
        decided_at: Set(Some(now)),
        decision_reason: Set(None),
        withdrawn_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert enrolment");
}

/// Inserts a one-hour video session of `pairing` starting at `starts_at`.
pub async fn insert_session(
    db: &DatabaseConnection,
    pairing: Uuid,
    starts_at: chrono::DateTime<Utc>,
    status: SessionStatus,
    private_notes: Option<&str>,
) -> Uuid {
    let now = Utc::now();
    let session = mentoring_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        pairing_id: Set(pairing),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + chrono::Duration::hours(1)),
        mode: Set(SessionMode::Video),
        status: Set(status),
        agenda: Set(None),
        private_notes: Set(private_notes.map(str::to_owned)),
        cancel_reason: Set(None),
        sequence: Set(0),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert session");
    // As every write that changes free time does, so cached free time is not served stale.
    let pairing = entity::pairing::Entity::find_by_id(pairing)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let participants = tandem::domain::pairings::participants(db, &pairing)
        .await
        .unwrap();
    tandem::domain::employees::bump_availability(db, &participants)
        .await
        .unwrap();
    session.id
}
