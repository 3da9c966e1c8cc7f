//! Benchmark of the notifier (issue #14) over a company of 12,000
//! participants in 4,000 ACTIVE pairings (a mentor and two mentees each)
//! with 150,000 sessions:
//!
//! - an *idle pass*: nothing due (every pair met ten days ago and meets
//!   again in five; nobody awaits a decision);
//! - a *due pass*: 4,000 reminders come due at once (the mentors', a day
//!   ahead; the mentees chose an hour), raised and delivered to a local SMTP
//!   server and a webhook receiver (8,000 messages): time and messages/s;
//! - `pairingsNeedingAttention(first: 20)` over the 4,000 pairings, by an
//!   admin over HTTP, against `pairing(id) { id }` as the baseline, the two
//!   interleaved.
//!
//! ```text
//! cargo run --release -p tandem-tests --example notifier -- [rounds]
//! ```
//! `BENCH_DATABASE_URL` (default: a temporary SQLite file; otherwise an
//! empty database) chooses the database.

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../api/notify_peers.rs"]
#[allow(dead_code)]
mod notify_peers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound as _, Utc};
use entity::enums::*;
use entity::{
    employee, mentoring_session, notification_preference, pairing, pairing_mentee, programme,
};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::json;
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::notify::Notifier;
use tandem::startup::{self, Application};
use uuid::Uuid;

const PAIRINGS: usize = 4_000;
/// Sessions per pairing: 37 held (weekly, the last ten days ago), one to come.
const HELD: i64 = 37;
const WARM_UP: usize = 5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(30), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let database_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let sink = notify_peers::SmtpSink::start().await;
    let hook = notify_peers::WebhookReceiver::start().await;
    let config = Config::from_source(&HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.clone()),
        ("AUTH_DEV_MODE".to_owned(), "true".to_owned()),
        ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("NOTIFY".to_owned(), "off".to_owned()),
        ("SMTP_URL".to_owned(), sink.url()),
        ("WEBHOOK_URL".to_owned(), hook.url()),
        (
            "WEBHOOK_SECRET".to_owned(),
            notify_peers::WEBHOOK_SECRET.to_owned(),
        ),
    ]))?;
    let db = startup::connect(&config.database).await?;
    startup::migrate(&db).await?;
    let now = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let started = Instant::now();
    let (programme_id, next_start) = seed(&db, now).await?;
    println!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    let notifier = Notifier::new(db.clone(), &config.notify, &config.public_base_url)?;

    // Idle passes, with a trivial statement as the baseline, interleaved.
    let (mut idle, mut baseline) = (Vec::new(), Vec::new());
    for round in 0..rounds + WARM_UP {
        let started = Instant::now();
        let report = notifier
            .pass(now)
            .await
            .map_err(|err| anyhow::anyhow!("idle pass: {err:?}"))?;
        let took = started.elapsed();
        anyhow::ensure!(
            report == Default::default(),
            "an idle pass did something: {report:?}"
        );
        let started = Instant::now();
        programme::Entity::find_by_id(programme_id).one(&db).await?;
        if round >= WARM_UP {
            idle.push(took);
            baseline.push(started.elapsed());
        }
    }
    println!(
        "\n{PAIRINGS} ACTIVE pairings, {} participants, {} sessions; {rounds} passes after {WARM_UP} of warm-up\n",
        PAIRINGS * 3,
        PAIRINGS as i64 * (HELD + 1)
    );
    table(&[
        ("idle pass", &idle),
        ("baseline: one primary-key read", &baseline),
    ]);

    // 4,000 reminders due: the mentors' (a day ahead), 16 hours before the
    // first session (the last starts eight hours later); the mentees' lead
    // of an hour has not begun.
    let due_at = next_start - chrono::Duration::hours(16);
    let started = Instant::now();
    let report = notifier
        .pass(due_at)
        .await
        .map_err(|err| anyhow::anyhow!("due pass: {err:?}"))?;
    let took = started.elapsed();
    let sent = report.sent;
    anyhow::ensure!(
        report.raised.reminders == (PAIRINGS * 2) as u64,
        "{report:?}"
    );
    anyhow::ensure!(
        sink.mails().len() == PAIRINGS,
        "{} mails",
        sink.mails().len()
    );
    anyhow::ensure!(
        hook.deliveries().len() == PAIRINGS,
        "{} webhooks",
        hook.deliveries().len()
    );
    println!(
        "\ndue pass: {} reminders raised and {sent} messages delivered ({} emails, {} webhooks) in {:.2} s: {:.0} messages/s",
        PAIRINGS,
        sink.mails().len(),
        hook.deliveries().len(),
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );

    // The attention list over HTTP, against a one-pairing read.
    let listener = std::net::TcpListener::bind(config.bind_addr)?;
    let app = Application::with_listener(config, db.clone(), listener).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let key = DevKey::load_or_create(&db).await?;
    let token = dev::issue(
        &key,
        &DevTokenRequest {
            email: None,
            roles: vec!["admin".into()],
            ttl_secs: 3600,
        },
    )?;
    let one_pairing: Uuid = pairing::Entity::find()
        .one(&db)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| anyhow::anyhow!("no pairing"))?;
    let client = reqwest::Client::new();
    let post = |query: &'static str, variables: serde_json::Value| {
        client
            .post(format!("{address}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };
    let (mut attention, mut single) = (Vec::new(), Vec::new());
    for round in 0..rounds * 3 + WARM_UP {
        let started = Instant::now();
        let body: serde_json::Value = post(
            "query($p: UUID!) { pairingsNeedingAttention(programmeId: $p, first: 20) { edges { node { id health } } } }",
            json!({ "p": programme_id }),
        )
        .await?
        .json()
        .await?;
        let took = started.elapsed();
        anyhow::ensure!(body.get("errors").is_none(), "{body}");
        let started = Instant::now();
        let body: serde_json::Value = post(
            "query($id: UUID!) { pairing(id: $id) { id } }",
            json!({ "id": one_pairing }),
        )
        .await?
        .json()
        .await?;
        anyhow::ensure!(body.get("errors").is_none(), "{body}");
        if round >= WARM_UP {
            attention.push(took);
            single.push(started.elapsed());
        }
    }
    println!();
    table(&[
        ("pairingsNeedingAttention (4,000 pairings)", &attention),
        ("baseline: pairing(id) { id }", &single),
    ]);
    Ok(())
}

fn table(rows: &[(&str, &Vec<Duration>)]) {
    println!("| what | median | p99 | max |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, times) in rows {
        println!(
            "| {name} | {} | {} | {} |",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 99.0)),
            ms(percentile(times, 100.0)),
        );
    }
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let index = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The company; answers the programme and when every pair meets next.
async fn seed(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> anyhow::Result<(Uuid, DateTime<Utc>)> {
    let programme_id = Uuid::now_v7();
    programme::ActiveModel {
        id: Set(programme_id),
        name: Set("Group Digital Tandems".into()),
        purpose: Set("Digital literacy".into()),
        status: Set(ProgrammeStatus::Active),
        format: Set(ProgrammeFormat::Group),
        max_mentees_per_mentor: Set(3),
        session_cadence_days: Set(14),
        target_sessions: Set(40),
        requires_mentor_training: Set(false),
        starts_on: Set(None),
        ends_on: Set(None),
        sponsor_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let long_ago = now - chrono::Duration::days(400);
    let next_start = now + chrono::Duration::days(5);
    let mut people = Vec::new();
    let mut pairings = Vec::new();
    let mut members = Vec::new();
    let mut sessions = Vec::new();
    let mut preferences = Vec::new();
    for n in 0..PAIRINGS {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for (k, id) in ids.iter().enumerate() {
            people.push(employee::ActiveModel {
                id: Set(*id),
                external_id: Set(format!("E{n}-{k}")),
                email: Set(format!("p{n}.{k}@bench.example")),
                given_name: Set(None),
                family_name: Set(None),
                display_name: Set(format!("Person {n}-{k}")),
                job_title: Set(None),
                department_id: Set(None),
                manager_id: Set(None),
                generation: Set(Generation::Unknown),
                seniority_level: Set(Some(if k == 0 { 2 } else { 8 })),
                timezone: Set("Europe/Paris".into()),
                status: Set(EmployeeStatus::Active),
                availability_version: Set(0),
                terminated_at: Set(None),
                erased_at: Set(None),
                created_at: Set(long_ago),
                updated_at: Set(long_ago),
            });
        }
        for mentee in &ids[1..] {
            preferences.push(notification_preference::ActiveModel {
                employee_id: Set(*mentee),
                session_reminders: Set(true),
                reminder_lead_minutes: Set(60),
                nudges: Set(true),
                language: Set("fr".into()),
                updated_at: Set(long_ago),
            });
        }
        let pairing_id = Uuid::now_v7();
        pairings.push(pairing::ActiveModel {
            id: Set(pairing_id),
            programme_id: Set(programme_id),
            mentor_id: Set(ids[0]),
            status: Set(PairingStatus::Active),
            score: Set(None),
            reasons: Set(json!([])),
            end_reason: Set(None),
            decided_at: Set(Some(long_ago)),
            ended_at: Set(None),
            paused_at: Set(None),
            pause_reason: Set(None),
            created_at: Set(long_ago),
            updated_at: Set(long_ago),
        });
        for mentee in &ids[1..] {
            members.push(pairing_mentee::ActiveModel {
                pairing_id: Set(pairing_id),
                mentee_id: Set(*mentee),
            });
        }
        let stagger = chrono::Duration::minutes((n % 480) as i64);
        for week in 0..=HELD {
            let (starts, status) = if week == HELD {
                (next_start + stagger, SessionStatus::Scheduled)
            } else {
                let back = chrono::Duration::days(10 + 7 * (HELD - 1 - week));
                (now - back + stagger, SessionStatus::Held)
            };
            sessions.push(mentoring_session::ActiveModel {
                id: Set(Uuid::now_v7()),
                pairing_id: Set(pairing_id),
                starts_at: Set(starts),
                ends_at: Set(starts + chrono::Duration::hours(1)),
                mode: Set(SessionMode::Video),
                status: Set(status),
                agenda: Set(None),
                private_notes: Set(None),
                cancel_reason: Set(None),
                sequence: Set(0),
                created_by: Set(None),
                created_at: Set(long_ago),
                updated_at: Set(long_ago),
            });
        }
    }
    for chunk in people.chunks(1_000) {
        employee::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for chunk in preferences.chunks(2_000) {
        notification_preference::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for chunk in pairings.chunks(1_000) {
        pairing::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for chunk in members.chunks(5_000) {
        pairing_mentee::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for chunk in sessions.chunks(2_000) {
        mentoring_session::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok((programme_id, next_start))
}
