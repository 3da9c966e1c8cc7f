//! Benchmark of `Pairing.nextCommonSlots` for a pairing of one mentor and
//! three mentees in four time zones, over the coming eight weeks.
//!
//! One seeded company (2,000 employees, their programmes and sessions) and
//! four servers over the same database, differing only in the cache:
//!
//! - `database only`: Redis unreachable, so every answer is computed from
//!   the database (the cache's circuit breaker is open);
//! - `cold Redis`: the participants' entries are deleted before each request
//!   (a miss: computed, then stored);
//! - `warm Redis` and `warm in-process`: served from the cache.
//!
//! Requests to the four servers are interleaved, so each sees the same
//! machine noise. Latency is measured by the client over HTTP on loopback.
//!
//! ```text
//! cargo run --release -p tandem-tests --example common_slots -- [rounds] [seconds]
//! ```
//! `BENCH_DATABASE_URL` (default: a temporary SQLite file) and
//! `BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`) choose the parts.

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::enums::PairingStatus;
use entity::{employee, pairing, pairing_mentee};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::domain::seed::{self, SeedOptions};
use tandem::startup::{self, Application};
use uuid::Uuid;

const SET: &str = "mutation($tz: String!, $s: [WeeklySlotInput!]!) { setWeeklyAvailability(timezone: $tz, slots: $s) { weekday } }";
const AWAY: &str =
    "mutation($s: DateTime!, $e: DateTime!) { addUnavailability(startsAt: $s, endsAt: $e) { id } }";
const COMMON: &str = "query($p: UUID!, $f: DateTime!, $t: DateTime!) { pairing(id: $p) { nextCommonSlots(durationMinutes: 60, from: $f, to: $t, limit: 20) { startsAt endsAt } } }";

/// Each participant's zone and working hours (local, Monday to Friday):
/// together they share 13:00–17:00 Paris time on weekdays.
const PATTERNS: [(&str, &str, &str); 4] = [
    ("Europe/Paris", "09:00", "18:00"),
    ("America/New_York", "07:00", "13:00"),
    ("Europe/London", "09:00", "17:00"),
    ("Asia/Kolkata", "11:00", "21:30"),
];

struct Server {
    name: &'static str,
    address: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let database_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let redis_url =
        std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());

    let db = startup::connect(&config(&database_url, None).database).await?;
    startup::migrate(&db).await?;
    let options = SeedOptions {
        employees: 2000,
        seed: 7,
        anchor: Utc::now().date_naive(),
    };
    let summary = seed::seed_demo(&db, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let dead_redis = format!("redis://127.0.0.1:{}", unused_port()?);
    let servers = vec![
        start("database only", &database_url, Some(&dead_redis)).await?,
        start("cold Redis", &database_url, Some(&redis_url)).await?,
        start("warm Redis", &database_url, Some(&redis_url)).await?,
        start("warm in-process", &database_url, None).await?,
    ];
    let client = reqwest::Client::new();
    let (pairing, people) = group_pairing(&db).await?;
    let key = DevKey::load_or_create(&db).await?;
    prepare_calendars(&client, &servers[0], &db, &key, &people).await?;
    let reader = token(&key, &db, people[0]).await?;
    let from = Utc::now();
    let variables = json!({ "p": pairing, "f": from, "t": from + chrono::Duration::weeks(8) });

    let expected = common_slots(&client, &servers[0], &reader, &variables).await?;
    for server in &servers {
        let answer = common_slots(&client, server, &reader, &variables).await?;
        anyhow::ensure!(answer == expected, "{} answers differently", server.name);
    }
    let redis = redis::Client::open(redis_url.as_str())?;
    let mut redis = redis.get_multiplexed_async_connection().await?;

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); servers.len()];
    for round in 0..rounds + 20 {
        for (i, server) in servers.iter().enumerate() {
            if server.name == "cold Redis" {
                forget(&mut redis, &people).await?;
            }
            let started = Instant::now();
            common_slots(&client, server, &reader, &variables).await?;
            if round >= 20 {
                samples[i].push(started.elapsed());
            }
        }
    }

    println!(
        "seeded {} employees, {} pairings, {} sessions; {} slots found; {rounds} requests per server, interleaved\n",
        summary.employees,
        summary.pairings,
        summary.sessions,
        expected.as_array().map_or(0, Vec::len)
    );
    println!("| server | median | p99 | max | over 20 ms | mean | vs database only (median) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let baseline = percentile(&samples[0], 50.0);
    for (server, times) in servers.iter().zip(&samples) {
        let median = percentile(times, 50.0);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1}× faster |",
            server.name,
            ms(median),
            ms(percentile(times, 99.0)),
            ms(percentile(times, 100.0)),
            times.iter().filter(|t| t.as_millis() > 20).count(),
            ms(times.iter().sum::<Duration>() / times.len().max(1) as u32),
            baseline.as_secs_f64() / median.as_secs_f64()
        );
    }
    println!("\n| server | requests/s (8 concurrent clients, {seconds} s) |");
    println!("| --- | ---: |");
    for server in servers.iter().filter(|s| s.name != "cold Redis") {
        let rate = throughput(&client, server, &reader, &variables, seconds).await?;
        println!("| {} | {rate:.0} |", server.name);
    }
    Ok(())
}

fn config(database_url: &str, redis_url: Option<&str>) -> Config {
    let mut env = HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("AUTH_DEV_MODE".to_owned(), "true".to_owned()),
        ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("DATABASE_POOL_SIZE".to_owned(), "16".to_owned()),
        // One caller sends thousands of requests a minute: measured, not limited.
        ("RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
    ]);
    if let Some(url) = redis_url {
        env.insert("REDIS_URL".to_owned(), url.to_owned());
    }
    Config::from_source(&env).expect("benchmark configuration")
}

async fn start(
    name: &'static str,
    database_url: &str,
    redis_url: Option<&str>,
) -> anyhow::Result<Server> {
    let config = config(database_url, redis_url);
    let db = startup::connect(&config.database).await?;
    let listener = std::net::TcpListener::bind(config.bind_addr)?;
    let app = Application::with_listener(config, db, listener).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    Ok(Server { name, address })
}

fn unused_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// An ACTIVE seeded pairing of one mentor and three mentees: its id and its
/// participants, mentor first.
async fn group_pairing(db: &DatabaseConnection) -> anyhow::Result<(Uuid, Vec<Uuid>)> {
    let mut mentees: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in pairing_mentee::Entity::find().all(db).await? {
        mentees
            .entry(row.pairing_id)
            .or_default()
            .push(row.mentee_id);
    }
    let active = pairing::Entity::find()
        .filter(pairing::Column::Status.eq(PairingStatus::Active))
        .all(db)
        .await?;
    let chosen = active
        .into_iter()
        .find(|p| mentees.get(&p.id).is_some_and(|m| m.len() == 3))
        .ok_or_else(|| anyhow::anyhow!("the seed has no ACTIVE pairing of three mentees"))?;
    let mut people = vec![chosen.mentor_id];
    people.extend(mentees.remove(&chosen.id).unwrap_or_default());
    Ok((chosen.id, people))
}

async fn token(key: &DevKey, db: &DatabaseConnection, person: Uuid) -> anyhow::Result<String> {
    let found = employee::Entity::find_by_id(person)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no employee {person}"))?;
    let request = DevTokenRequest {
        email: Some(found.email),
        roles: Vec::new(),
        ttl_secs: 3600,
    };
    dev::issue(key, &request)
}

/// Gives each participant their zone and working hours, and four
/// unavailabilities each over the eight weeks.
async fn prepare_calendars(
    client: &reqwest::Client,
    server: &Server,
    db: &DatabaseConnection,
    key: &DevKey,
    people: &[Uuid],
) -> anyhow::Result<()> {
    for (n, (person, (zone, start, end))) in people.iter().zip(PATTERNS).enumerate() {
        let token = token(key, db, *person).await?;
        let slots: Vec<Value> = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
            .iter()
            .map(|day| json!({ "weekday": day, "start": start, "end": end }))
            .collect();
        call(
            client,
            server,
            &token,
            SET,
            json!({ "tz": zone, "s": slots }),
        )
        .await?;
        for week in 0..4 {
            let starts = Utc::now() + chrono::Duration::days(week * 14 + n as i64 * 2 + 1);
            let window = json!({ "s": starts, "e": starts + chrono::Duration::hours(3) });
            call(client, server, &token, AWAY, window).await?;
        }
    }
    Ok(())
}

async fn call(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let body: Value = client
        .post(format!("{}/graphql", server.address))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "{}: {body}", server.name);
    Ok(body["data"].clone())
}

async fn common_slots(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    variables: &Value,
) -> anyhow::Result<Value> {
    let data = call(client, server, token, COMMON, variables.clone()).await?;
    Ok(data["pairing"]["nextCommonSlots"].clone())
}

/// Deletes the participants' cached free time from Redis.
async fn forget(
    redis: &mut redis::aio::MultiplexedConnection,
    people: &[Uuid],
) -> anyhow::Result<()> {
    for person in people {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("tandem:free:*:{person}:*"))
            .query_async(redis)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(keys).query_async::<()>(redis).await?;
        }
    }
    Ok(())
}

/// Completed requests per second with 8 clients for `seconds`.
async fn throughput(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    variables: &Value,
    seconds: u64,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, token, variables) = (client.clone(), token.to_owned(), variables.clone());
        let server = Server {
            name: server.name,
            address: server.address.clone(),
        };
        workers.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                common_slots(&client, &server, &token, &variables).await?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut total = 0;
    while let Some(done) = workers.join_next().await {
        total += done??;
    }
    Ok(total as f64 / seconds as f64)
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * (sorted.len().saturating_sub(1)) as f64).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
