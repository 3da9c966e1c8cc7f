//! Benchmark of `GET /calendar/<token>.ics` for an executive with 200
//! sessions in the feed's window, among 50 other pairings with 200 sessions
//! each (10,200 sessions in all), over HTTP on loopback:
//!
//! - `200`: the whole feed (lookup, five more statements, rendering, ETag);
//! - `304`: the same request with the current ETag in `If-None-Match`
//!   (the same work on the server, no body on the wire).
//!
//! The two kinds of request are interleaved, so each sees the same machine
//! noise; the first 50 rounds warm up and are not counted.
//!
//! ```text
//! cargo run --release -p tandem-tests --example calendar_feed -- [rounds]
//! ```
//! `BENCH_DATABASE_URL` (default: a temporary SQLite file; otherwise an
//! empty database) chooses the database.

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use entity::enums::*;
use entity::{employee, mentoring_session, pairing, pairing_mentee, programme};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::json;
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::startup::{self, Application};
use uuid::Uuid;

/// Sessions of the executive in the window.
const SESSIONS: i64 = 200;
/// Other pairings, each with as many sessions.
const OTHER_PAIRINGS: usize = 50;
const WARM_UP: usize = 50;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(1000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let database_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let config = Config::from_source(&HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.clone()),
        ("AUTH_DEV_MODE".to_owned(), "true".to_owned()),
        ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
    ]))?;
    let db = startup::connect(&config.database).await?;
    startup::migrate(&db).await?;
    let executive = seed(&db).await?;
    let listener = std::net::TcpListener::bind(config.bind_addr)?;
    let app = Application::with_listener(config, db.clone(), listener).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());

    let key = DevKey::load_or_create(&db).await?;
    let token = dev::issue(
        &key,
        &DevTokenRequest {
            email: Some(executive),
            roles: Vec::new(),
            ttl_secs: 3600,
        },
    )?;
    let client = reqwest::Client::new();
    let rotated: serde_json::Value = client
        .post(format!("{address}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { rotateCalendarFeed }" }))
        .send()
        .await?
        .json()
        .await?;
    // The link starts with PUBLIC_BASE_URL (here BIND_ADDR's port 0).
    let link = rotated["data"]["rotateCalendarFeed"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no feed: {rotated}"))?;
    let path = link
        .find("/calendar/")
        .map(|at| &link[at..])
        .ok_or_else(|| anyhow::anyhow!("not a feed link: {link}"))?;
    let url = format!("{address}{path}");

    let first = client.get(&url).send().await?;
    anyhow::ensure!(first.status() == StatusCode::OK, "{}", first.status());
    let etag = first.headers()["etag"].to_str()?.to_owned();
    let body = first.text().await?;
    let events = body.matches("BEGIN:VEVENT").count();
    anyhow::ensure!(events == SESSIONS as usize, "{events} events");

    let (mut full, mut unchanged) = (Vec::new(), Vec::new());
    for round in 0..rounds + WARM_UP {
        let started = Instant::now();
        let response = client.get(&url).send().await?;
        anyhow::ensure!(response.status() == StatusCode::OK);
        response.bytes().await?;
        let took = started.elapsed();
        let started = Instant::now();
        let response = client
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await?;
        anyhow::ensure!(response.status() == StatusCode::NOT_MODIFIED);
        response.bytes().await?;
        if round >= WARM_UP {
            full.push(took);
            unchanged.push(started.elapsed());
        }
    }
    println!(
        "{events} events, {} bytes; {rounds} requests of each kind, interleaved, after {WARM_UP} rounds of warm-up\n",
        body.len()
    );
    println!("| request | median | p99 | max | mean |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, times) in [
        ("200 (whole feed)", &full),
        ("304 (If-None-Match)", &unchanged),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 99.0)),
            ms(percentile(times, 100.0)),
            ms(times.iter().sum::<Duration>() / times.len().max(1) as u32),
        );
    }
    Ok(())
}

/// The executive (mentee of one pairing with 200 sessions in the window,
/// a tenth of them cancelled) and 50 other pairings; answers the
/// executive's email.
async fn seed(db: &DatabaseConnection) -> anyhow::Result<String> {
    let now = Utc::now();
    let programme = Uuid::now_v7();
    programme::ActiveModel {
        id: Set(programme),
        name: Set("Executive Committee Digital Tandems".into()),
        purpose: Set("Digital literacy".into()),
        status: Set(ProgrammeStatus::Active),
        format: Set(ProgrammeFormat::Group),
        max_mentees_per_mentor: Set(3),
        session_cadence_days: Set(14),
        target_sessions: Set(6),
        requires_mentor_training: Set(false),
        starts_on: Set(None),
        ends_on: Set(None),
        sponsor_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let anchor = now.duration_trunc(chrono::Duration::hours(1))? - chrono::Duration::days(29);
    let mut executive = String::new();
    for n in 0..=OTHER_PAIRINGS {
        let mentor = person(db, &format!("Mentor {n}"), 2).await?;
        let mentee = person(db, &format!("Executive {n}"), 9).await?;
        let peer = person(db, &format!("Director {n}"), 8).await?;
        if n == 0 {
            executive = format!("executive.{n}@bench.example");
        }
        let id = Uuid::now_v7();
        pairing::ActiveModel {
            id: Set(id),
            programme_id: Set(programme),
            mentor_id: Set(mentor),
            status: Set(PairingStatus::Active),
            score: Set(None),
            reasons: Set(json!([])),
            end_reason: Set(None),
            decided_at: Set(Some(now)),
            ended_at: Set(None),
            paused_at: Set(None),
            pause_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        for mentee in [mentee, peer] {
            pairing_mentee::ActiveModel {
                pairing_id: Set(id),
                mentee_id: Set(mentee),
            }
            .insert(db)
            .await?;
        }
        let rows: Vec<mentoring_session::ActiveModel> = (0..SESSIONS)
            .map(|i| {
                let starts = anchor + chrono::Duration::hours(i * 24 + (i % 8));
                mentoring_session::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    pairing_id: Set(id),
                    starts_at: Set(starts),
                    ends_at: Set(starts + chrono::Duration::hours(1)),
                    mode: Set(SessionMode::Video),
                    status: Set(match i {
                        i if i % 10 == 0 => SessionStatus::Cancelled,
                        i if i < 29 => SessionStatus::Held,
                        _ => SessionStatus::Scheduled,
                    }),
                    agenda: Set(Some("A long agenda that the feed never reads".repeat(20))),
                    private_notes: Set(Some("Private notes the feed never reads".repeat(50))),
                    cancel_reason: Set(None),
                    sequence: Set((i % 3) as i32),
                    created_by: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
            })
            .collect();
        for chunk in rows.chunks(100) {
            mentoring_session::Entity::insert_many(chunk.to_vec())
                .exec(db)
                .await?;
        }
    }
    Ok(executive)
}

async fn person(db: &DatabaseConnection, name: &str, level: i32) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let handle = name.to_lowercase().replace(' ', ".");
    employee::ActiveModel {
        id: Set(id),
        external_id: Set(format!("B-{handle}")),
        email: Set(format!("{handle}@bench.example")),
        given_name: Set(None),
        family_name: Set(None),
        display_name: Set(name.to_owned()),
        job_title: Set(None),
        department_id: Set(None),
        manager_id: Set(None),
        generation: Set(Generation::Unknown),
        seniority_level: Set(Some(level)),
        timezone: Set("Europe/Paris".into()),
        status: Set(EmployeeStatus::Active),
        availability_version: Set(0),
        terminated_at: Set(None),
        erased_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(id)
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
