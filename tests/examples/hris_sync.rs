//! Benchmark of `syncEmployees`: a first load and an unchanged re-sync of
//! 20,000 and 100,000 employees (with 200 departments and a management
//! tree), sent over HTTP as the HRIS would, on SQLite and PostgreSQL; and,
//! as the baseline, a plain `COPY` of the same rows into an empty table of
//! the same shape on the same PostgreSQL server.
//!
//! ```text
//! cargo run --release -p tandem-tests --example hris_sync -- [repeats]
//! ```
//! `BENCH_PG_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! is where the benchmark creates, and then drops, its own databases.
//! `BENCH_SIZES` (e.g. `100000`) and `BENCH_BACKENDS` (e.g. `PostgreSQL`),
//! comma-separated, run only those cases (for a profiler).

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::startup::{self, Application};

#[path = "support/memory.rs"]
mod memory;
use memory::{reset_peak, status_kib};

const SYNC: &str = "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { state created updated unchanged failed } }";
const ZONES: [&str; 4] = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Europe/London",
];
const DEPARTMENTS: usize = 200;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let repeats: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    let admin_url = std::env::var("BENCH_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    println!(
        "| backend | employees | first load | rows/s | unchanged re-sync | rows/s | first ÷ re-sync | COPY (PostgreSQL) | first load ÷ COPY | peak RSS growth in the first load |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let sizes: Vec<usize> = chosen("BENCH_SIZES", "20000,100000")
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let backends = chosen("BENCH_BACKENDS", "SQLite,PostgreSQL");
    for size in sizes {
        let variables = company(size);
        let mut copy_times = Vec::new();
        for _ in 0..repeats {
            copy_times.push(copy_baseline(&admin_url, size).await?);
        }
        let copy = median(&mut copy_times);
        for backend in backends.iter().map(String::as_str) {
            let (mut loads, mut resyncs, mut peak) = (Vec::new(), Vec::new(), 0);
            for _ in 0..repeats {
                let (load, resync, growth) = run(backend, &admin_url, &variables, size).await?;
                loads.push(load);
                resyncs.push(resync);
                peak = peak.max(growth);
            }
            let (load, resync) = (median(&mut loads), median(&mut resyncs));
            println!(
                "| {backend} | {size} | {} | {:.0} | {} | {:.0} | {:.1}× | {} | {:.1}× | {} MiB |",
                secs(load),
                size as f64 / load.as_secs_f64(),
                secs(resync),
                size as f64 / resync.as_secs_f64(),
                load.as_secs_f64() / resync.as_secs_f64(),
                secs(copy),
                load.as_secs_f64() / copy.as_secs_f64(),
                peak / 1024
            );
        }
    }
    Ok(())
}

/// The GraphQL variables of a company of `size` employees.
fn company(size: usize) -> Value {
    let departments: Vec<Value> = (0..DEPARTMENTS)
        .map(|d| {
            let parent = (d > 0).then(|| format!("D-{:03}", (d - 1) / 10));
            json!({ "externalId": format!("D-{d:03}"), "name": format!("Department {d}"), "parentExternalId": parent })
        })
        .collect();
    let employees: Vec<Value> = (0..size)
        .map(|i| {
            json!({
                "externalId": format!("EMP-{i:06}"),
                "email": format!("given{i}.family{i}@corp.example"),
                "givenName": format!("Given{i}"),
                "familyName": format!("Family{i}"),
                "jobTitle": "Consultant",
                "departmentExternalId": format!("D-{:03}", i % DEPARTMENTS),
                "managerExternalId": (i > 0).then(|| format!("EMP-{:06}", (i - 1) / 8)),
                "seniorityLevel": (i % 12) + 1,
                "birthYear": 1960 + (i % 45),
                "timezone": ZONES[i % ZONES.len()],
            })
        })
        .collect();
    json!({ "input": { "mode": "FULL_SNAPSHOT", "source": "benchmark",
        "departments": departments, "employees": employees } })
}

/// One fresh database: (first load, unchanged re-sync), timed by the client.
async fn run(
    backend: &str,
    admin_url: &str,
    variables: &Value,
    size: usize,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let dir = tempfile::tempdir()?;
    let pg = (backend == "PostgreSQL")
        .then(|| format!("tandem_bench_hris_{}", uuid::Uuid::new_v4().simple()));
    let url = match &pg {
        Some(name) => {
            let admin = Database::connect(admin_url).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            with_database(admin_url, name)
        }
        None => format!("sqlite://{}?mode=rwc", dir.path().join("hris.db").display()),
    };
    let env = HashMap::from([
        ("DATABASE_URL".to_owned(), url),
        ("AUTH_DEV_MODE".to_owned(), "true".to_owned()),
        ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
    ]);
    let config = Config::from_source(&env).expect("benchmark configuration");
    let db = startup::connect(&config.database).await?;
    startup::migrate(&db).await?;
    let key = DevKey::load_or_create(&db).await?;
    let token = dev::issue(
        &key,
        &DevTokenRequest {
            email: None,
            roles: vec!["hris".to_owned()],
            ttl_secs: 3600,
        },
    )?;
    let listener = std::net::TcpListener::bind(config.bind_addr)?;
    let app = Application::with_listener(config, db.clone(), listener).await?;
    let address = format!("http://127.0.0.1:{}/graphql", app.port());
    let server = tokio::spawn(app.run());
    let body = serde_json::to_vec(&json!({ "query": SYNC, "variables": variables }))?;
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    // The peak RSS grows from here; the client's copy of the body is in
    // this process too, already allocated.
    reset_peak();
    let rss_before = status_kib("VmRSS:");
    let mut growth = 0;
    for expected in ["created", "unchanged"] {
        let started = Instant::now();
        let answer: Value = client
            .post(&address)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?
            .json()
            .await?;
        times.push(started.elapsed());
        if expected == "created" {
            growth = status_kib("VmHWM:").saturating_sub(rss_before);
        }
        let run = &answer["data"]["syncEmployees"];
        anyhow::ensure!(
            run[expected].as_u64() == Some((size + DEPARTMENTS) as u64) && run["failed"] == 0,
            "{backend}: unexpected answer {answer}"
        );
    }
    server.abort();
    db.close().await?;
    if let Some(name) = pg {
        let admin = Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await?;
    }
    Ok((times[0], times[1], growth))
}

/// `COPY` of the same employees into an empty table shaped like `employees`
/// (its columns, CHECKs and unique indexes; no foreign keys).
async fn copy_baseline(admin_url: &str, size: usize) -> anyhow::Result<Duration> {
    use sea_orm::sqlx::postgres::PgPoolCopyExt as _;
    let name = format!("tandem_bench_copy_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    let db: DatabaseConnection = Database::connect(with_database(admin_url, &name)).await?;
    startup::migrate(&db).await?;
    db.execute_unprepared(
        "CREATE TABLE copy_baseline (LIKE employees INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    )
    .await?;
    let ids: Vec<uuid::Uuid> = (0..size).map(|_| uuid::Uuid::now_v7()).collect();
    let departments: Vec<uuid::Uuid> = (0..DEPARTMENTS).map(|_| uuid::Uuid::now_v7()).collect();
    let now = chrono::Utc::now().to_rfc3339();
    let mut csv = String::with_capacity(size * 250);
    for i in 0..size {
        let manager = if i > 0 {
            ids[(i - 1) / 8].to_string()
        } else {
            String::new()
        };
        csv.push_str(&format!(
            "{},EMP-{i:06},given{i}.family{i}@corp.example,Given{i},Family{i},Given{i} Family{i},Consultant,{},{manager},GEN_X,{},{},ACTIVE,0,{now},{now}\n",
            ids[i],
            departments[i % DEPARTMENTS],
            (i % 12) + 1,
            ZONES[i % ZONES.len()],
        ));
    }
    let pool = db.get_postgres_connection_pool();
    let started = Instant::now();
    let mut copy = pool
        .copy_in_raw(
            "COPY copy_baseline (id, external_id, email, given_name, family_name, display_name, job_title, department_id, manager_id, generation, seniority_level, timezone, status, availability_version, created_at, updated_at) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    copy.send(csv.as_bytes()).await?;
    let copied = copy.finish().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(copied == size as u64, "COPY wrote {copied} rows");
    db.close().await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await?;
    Ok(elapsed)
}

/// The comma-separated values of `variable`, or of `default` when unset.
fn chosen(variable: &str, default: &str) -> Vec<String> {
    std::env::var(variable)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn with_database(url: &str, name: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}")
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}
