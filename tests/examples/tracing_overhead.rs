//! What tracing costs a request: the release `tandem` binary run three
//! times over one seeded database, differing only in the OpenTelemetry
//! settings:
//!
//! - `no exporter`: `OTEL_EXPORTER_OTLP_ENDPOINT` unset (the default);
//! - `sampled out`: the exporter set up but `OTEL_TRACES_SAMPLER=always_off`;
//! - `OTLP/HTTP export`: every span exported to a receiver in this process.
//!
//! The request is the README's first query (programmes with their sponsors:
//! a GraphQL operation, a DataLoader and a few SQL statements, so ~10 spans).
//! Requests to the three servers are interleaved, so each sees the same
//! machine noise; then each gets 8 concurrent clients for a few seconds.
//!
//! ```text
//! cargo build --release -p tandem
//! cargo run --release -p tandem-tests --example tracing_overhead -- [rounds] [seconds]
//! ```
//! `TANDEM_BIN` (default `target/release/tandem`) and `BENCH_DATABASE_URL`
//! (default: a temporary SQLite file) choose the binary and the database.

// Start-up awaited here nests async-graphql's futures past 128 levels.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const QUERY: &str =
    "{ programmes(first: 5) { edges { node { name status sponsor { displayName } } } } }";

struct Server {
    name: &'static str,
    address: String,
    process: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Bytes and requests the OTLP receiver was sent.
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    bytes: AtomicU64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let binary = std::env::var("TANDEM_BIN")
        .unwrap_or_else(|_| format!("{}/../target/release/tandem", env!("CARGO_MANIFEST_DIR")));
    let dir = tempfile::tempdir()?;
    let database_url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let cli = |args: &[&str]| -> anyhow::Result<String> {
        let output = Command::new(&binary)
            .args(args)
            .env("DATABASE_URL", &database_url)
            .env("AUTH_DEV_MODE", "true")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()?;
        anyhow::ensure!(output.status.success(), "tandem {args:?} failed");
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    };
    cli(&["seed-demo", "--employees", "200"])?;
    let token = cli(&["dev-token", "--role", "admin"])?;
    let (receiver_port, received) = otlp_receiver()?;
    let endpoint = format!("http://127.0.0.1:{receiver_port}");
    let servers = [
        start("no exporter", &binary, &database_url, &[])?,
        start(
            "sampled out",
            &binary,
            &database_url,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_TRACES_SAMPLER", "always_off"),
            ],
        )?,
        start(
            "OTLP/HTTP export",
            &binary,
            &database_url,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
        )?,
    ];
    let client = reqwest::Client::new();
    for server in &servers {
        wait_until_listening(&client, server).await?;
    }
    let expected = call(&client, &servers[0], &token).await?;
    for server in &servers {
        anyhow::ensure!(
            call(&client, server, &token).await? == expected,
            "{} answers differently",
            server.name
        );
    }

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); servers.len()];
    for round in 0..rounds + 50 {
        for (i, server) in servers.iter().enumerate() {
            let started = Instant::now();
            call(&client, server, &token).await?;
            if round >= 50 {
                samples[i].push(started.elapsed());
            }
        }
    }
    println!("{rounds} requests per server, interleaved\n");
    println!("| server | median | p99 | mean | median vs no exporter |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let baseline = percentile(&samples[0], 50.0);
    for (server, times) in servers.iter().zip(&samples) {
        let median = percentile(times, 50.0);
        println!(
            "| {} | {} | {} | {} | {:+.1} % |",
            server.name,
            ms(median),
            ms(percentile(times, 99.0)),
            ms(times.iter().sum::<Duration>() / times.len().max(1) as u32),
            (median.as_secs_f64() / baseline.as_secs_f64() - 1.0) * 100.0
        );
    }
    println!("\n| server | requests/s (8 concurrent clients, {seconds} s) | vs no exporter |");
    println!("| --- | ---: | ---: |");
    let mut baseline_rate = None;
    for server in &servers {
        let rate = throughput(&client, server, &token, seconds).await?;
        let base = *baseline_rate.get_or_insert(rate);
        println!(
            "| {} | {rate:.0} | {:+.1} % |",
            server.name,
            (rate / base - 1.0) * 100.0
        );
    }
    // Let the last batch go out before reading what arrived.
    tokio::time::sleep(Duration::from_secs(6)).await;
    println!(
        "\nthe receiver got {} export requests, {:.1} MB of spans",
        received.requests.load(Ordering::Relaxed),
        received.bytes.load(Ordering::Relaxed) as f64 / 1e6
    );
    Ok(())
}

fn start(
    name: &'static str,
    binary: &str,
    database_url: &str,
    settings: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let process = Command::new(binary)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("AUTH_DEV_MODE", "true")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_POOL_SIZE", "16")
        .env("LOG_FORMAT", "json")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_TRACES_SAMPLER")
        .envs(settings.iter().copied())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Server {
        name,
        address: format!("http://127.0.0.1:{port}"),
        process,
    })
}

async fn wait_until_listening(client: &reqwest::Client, server: &Server) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "{} never listened", server.name);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// An OTLP/HTTP receiver that answers 200 and counts what it was sent.
fn otlp_receiver() -> anyhow::Result<(u16, Arc<Received>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(Received::default());
    let counts = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = counts.clone();
            std::thread::spawn(move || receive(stream, &counts));
        }
    });
    Ok((port, received))
}

fn receive(stream: std::net::TcpStream, counts: &Received) {
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let (mut reader, mut writer) = (BufReader::new(reading), stream);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        counts.requests.fetch_add(1, Ordering::Relaxed);
        counts.bytes.fetch_add(length as u64, Ordering::Relaxed);
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

async fn call(client: &reqwest::Client, server: &Server, token: &str) -> anyhow::Result<Value> {
    let body: Value = client
        .post(format!("{}/graphql", server.address))
        .bearer_auth(token)
        .json(&json!({ "query": QUERY }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "{}: {body}", server.name);
    Ok(body["data"].clone())
}

/// Completed requests per second with 8 clients for `seconds`.
async fn throughput(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    seconds: u64,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (client, address, token) = (client.clone(), server.address.clone(), token.to_owned());
        clients.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let response = client
                    .post(format!("{address}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({ "query": QUERY }))
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status().is_success()) {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for handle in clients {
        total += handle.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
