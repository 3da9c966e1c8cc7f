//! The `tandem` binary as an operator runs it: configuration errors, the
//! dev-token output and the schema export. (The HTTP API is tested black-box
//! in the workspace's `tests/` crate; these need the binary itself.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

mod otlp;

fn tandem() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    for variable in [
        "DATABASE_URL",
        "AUTH_DEV_MODE",
        "AUTH_JWKS_URL",
        "RUST_LOG",
        "LOG_FORMAT",
        "REDIS_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "SSL_CERT_FILE",
        "NOTES_ENCRYPTION_KEYS",
    ] {
        command.env_remove(variable);
    }
    command
}

#[test]
fn an_invalid_setting_stops_with_exit_code_2_and_one_line_naming_it() {
    let output = tandem()
        .arg("migrate")
        .env("MIN_GROUP_SIZE", "few")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MIN_GROUP_SIZE"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn dev_token_prints_only_a_token_and_needs_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let output = tandem()
        .args(["dev-token", "--email", "a@corp.example", "--role", "admin"])
        .env("DATABASE_URL", &url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.trim_end_matches('\n');
    assert!(!token.contains('\n'), "only the token on stdout: {stdout}");
    assert_eq!(token.split('.').count(), 3, "a compact JWT: {token}");
    let refused = tandem()
        .args(["dev-token", "--role", "admin"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn export_schema_prints_the_committed_schema() {
    let output = tandem().arg("export-schema").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let output = tandem()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
    }
}

/// Sends one raw HTTP request and answers the response text.
fn http(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// A private `redis-server` on a free port (killed when dropped).
struct PrivateRedis {
    child: std::process::Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} (set REDIS_SERVER_BIN): {e}"));
        wait_for_port(port);
        Self { child }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tandem serve` in dev mode over the database at `url`, on `port`.
fn serve_dev(url: &str, port: u16) -> Command {
    let mut command = tandem();
    command
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("AUTH_DEV_MODE", "true")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"));
    command
}

fn free_port() -> u16 {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    free.local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn readiness(port: u16) -> String {
    http(
        port,
        "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
}

/// Polls `/readyz` until the cache reports `state`.
fn wait_for_cache(port: u16, state: &str) -> String {
    let wanted = format!(r#""cache":"{state}""#);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let response = readiness(port);
        if response.contains(&wanted) || std::time::Instant::now() > deadline {
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_redis_outage_is_logged_once_and_its_end_once() {
    if std::env::var("TEST_REDIS_URL").is_err() {
        eprintln!("TEST_REDIS_URL unset: Redis test not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let log_path = dir.path().join("tandem.log");
    let (redis_port, port) = (free_port(), free_port());
    let redis = PrivateRedis::start(redis_port);
    let mut server = serve_dev(&url, port)
        .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
        .env("LOG_FORMAT", "json")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port);
    assert!(readiness(port).contains(r#""cache":"ok""#));

    drop(redis);
    for _ in 0..5 {
        let response = readiness(port);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(r#""cache":"degraded""#), "{response}");
    }
    let redis = PrivateRedis::start(redis_port);
    assert!(wait_for_cache(port, "ok").contains(r#""cache":"ok""#));
    drop(redis);
    assert!(wait_for_cache(port, "degraded").contains(r#""cache":"degraded""#));

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let count = |text: &str| log.lines().filter(|l| l.contains(text)).count();
    assert_eq!(
        count("Redis is unreachable"),
        2,
        "one warning per outage:\n{log}"
    );
    assert_eq!(
        count("Redis answers again"),
        1,
        "one notice per recovery:\n{log}"
    );
    for line in log.lines().filter(|l| l.contains("Redis is unreachable")) {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["level"], "WARN", "{line}");
    }
}

/// `tandem healthcheck` against the server on `port`, as the Dockerfile runs it.
fn healthcheck(port: u16) -> std::process::ExitStatus {
    tandem()
        .arg("healthcheck")
        .env("BIND_ADDR", format!("0.0.0.0:{port}"))
        .status()
        .unwrap()
}

#[test]
fn sigterm_turns_readiness_off_first_and_drops_no_request() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let port = free_port();
    let mut server = serve_dev(&url, port)
        .env("SHUTDOWN_DRAIN_SECS", "2")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    assert!(
        healthcheck(port).success(),
        "the image's HEALTHCHECK passes"
    );
    let draining = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (draining, answers) = (draining.clone(), answers.clone());
            std::thread::spawn(move || {
                // Like a load balancer: keep sending until readiness says draining.
                while !draining.load(Ordering::Acquire) {
                    let response = http(
                        port,
                        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    );
                    answers
                        .lock()
                        .unwrap()
                        .push(response.starts_with("HTTP/1.1 200"));
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut readiness_seen = String::new();
    while std::time::Instant::now() < deadline {
        readiness_seen = readiness(port);
        if readiness_seen.starts_with("HTTP/1.1 503") {
            break;
        }
    }
    assert!(readiness_seen.contains("draining"), "{readiness_seen}");
    let after_unready = readiness(port);
    assert!(
        after_unready.starts_with("HTTP/1.1 503"),
        "still serving while draining"
    );
    draining.store(true, Ordering::Release);
    for client in clients {
        client.join().unwrap();
    }
    let status = server.wait().unwrap();
    assert!(status.success(), "exit 0 after draining: {status:?}");
    assert_eq!(
        healthcheck(port).code(),
        Some(1),
        "and fails once it is gone"
    );
    let answers = answers.lock().unwrap();
    assert!(answers.len() > 10, "{} requests", answers.len());
    assert!(answers.iter().all(|ok| *ok), "every request answered 200");
}

#[test]
fn a_token_header_cannot_forge_a_pretty_log_line() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let port = free_port();
    let log_path = dir.path().join("tandem.log");
    let mut server = serve_dev(&url, port)
        .env("LOG_FORMAT", "pretty")
        .env("SHUTDOWN_DRAIN_SECS", "0")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let header = encode(
        r#"{"alg":"HS256\n2026-12-01T00:00:00.000000Z  INFO tandem: FORGED admin login","typ":"JWT"}"#,
    );
    let token = format!("{header}.{}.c2ln", encode("{}"));
    let response = http(
        port,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let log = stop_and_read_log(&mut server, &log_path);
    assert!(
        log.contains("request refused"),
        "the refusal is logged: {log}"
    );
    for line in log.lines() {
        assert!(
            !line.contains("INFO tandem: FORGED") || line.contains("request refused"),
            "forged line: {line}"
        );
    }
    assert!(
        log.contains("\\n2026-12-01"),
        "the line break is escaped: {log}"
    );
}

/// A dev-mode token from the binary (`dev-token` with `args`).
fn dev_token(database_url: &str, args: &[&str]) -> String {
    let output = tandem()
        .arg("dev-token")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("AUTH_DEV_MODE", "true")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `POST /graphql` over a raw connection; answers the JSON body.
fn graphql(port: u16, token: &str, body: &serde_json::Value) -> serde_json::Value {
    let body = body.to_string();
    let response = http(
        port,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let (_, json) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(json).unwrap_or_else(|_| panic!("{response}"))
}

#[test]
fn a_calendar_feed_token_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let seeded = tandem()
        .args(["seed-demo", "--employees", "20", "--seed", "5"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let port = free_port();
    let log_path = dir.path().join("tandem.log");
    let mut server = serve_dev(&url, port)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .env("SHUTDOWN_DRAIN_SECS", "0")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let admin = dev_token(&url, &["--role", "admin"]);
    let people = graphql(
        port,
        &admin,
        &serde_json::json!({ "query": "{ employees(first: 20) { edges { node { email status } } } }" }),
    );
    let email = people["data"]["employees"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["status"] == "ACTIVE")
        .and_then(|edge| edge["node"]["email"].as_str())
        .unwrap_or_else(|| panic!("an active employee: {people}"))
        .to_owned();
    let me = dev_token(&url, &["--email", &email]);
    let rotated = graphql(
        port,
        &me,
        &serde_json::json!({ "query": "mutation { rotateCalendarFeed }" }),
    );
    let feed_url = rotated["data"]["rotateCalendarFeed"]
        .as_str()
        .unwrap_or_else(|| panic!("{rotated}"));
    let path = feed_url
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("PUBLIC_BASE_URL defaults to BIND_ADDR: {feed_url}"))
        .to_owned();
    let token = path
        .trim_start_matches("/calendar/")
        .trim_end_matches(".ics")
        .to_owned();
    let get = |path: &str| {
        http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        )
    };
    let served = get(&path);
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(served.contains("BEGIN:VCALENDAR"), "{served}");
    let wrong = format!("/calendar/{}.ics", "Z".repeat(43));
    assert!(get(&wrong).starts_with("HTTP/1.1 404"));
    let log = stop_and_read_log(&mut server, &log_path);
    assert!(
        log.contains("/calendar/{token}.ics"),
        "the request spans name the route: {log}"
    );
    assert!(!log.contains(&token), "the token is in the log:\n{log}");
    assert!(
        !log.contains(&"Z".repeat(43)),
        "a tried token is in the log"
    );
}

/// Stops the server with SIGTERM, checks it exits cleanly, and answers its log.
fn stop_and_read_log(server: &mut std::process::Child, log_path: &std::path::Path) -> String {
    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(server.wait().unwrap().success());
    std::fs::read_to_string(log_path).unwrap()
}

/// An SMTP server on a thread: accepts every message, answers how many.
fn smtp_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let received = mails.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = received.clone();
            std::thread::spawn(move || {
                let mut write = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = write.write_all(b"220 sink ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n");
                            return;
                        }
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n");
                            let mut raw = String::new();
                            loop {
                                line.clear();
                                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                raw.push_str(&line);
                            }
                            received.lock().unwrap().push(raw);
                            b"250 queued\r\n"
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, mails)
}

/// `tandem notify --once --now …` over the demo company: the passes of
/// six weeks, day by day, send its reminders and nudges; the same passes
/// again send nothing (each thing once); the log names no address.
#[test]
fn notify_once_at_chosen_instants_sends_each_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let seeded = tandem()
        .args([
            "seed-demo",
            "--employees",
            "40",
            "--seed",
            "7",
            "--anchor",
            "2026-11-23",
        ])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let (port, mails) = smtp_sink();
    let pass = |day: i64| {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            + chrono::Duration::days(day);
        let output = tandem()
            .args(["notify", "--once", "--now", &now.to_rfc3339()])
            .env("DATABASE_URL", &url)
            .env("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
            .env("NOTIFY_ADMIN_EMAILS", "mentoring@corp.example")
            .env("LOG_FORMAT", "json")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let logs = String::from_utf8(output.stderr).unwrap();
        assert!(
            !logs.contains("@corp.example"),
            "no address in the log: {logs}"
        );
        stdout
    };
    let mut reminders = 0;
    for day in 0..42 {
        let report = pass(day);
        let raised: u64 = report
            .strip_prefix("raised ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{report}"));
        reminders += raised;
    }
    let sent = mails.lock().unwrap().len();
    assert!(sent > 0, "six weeks of the demo programme send something");
    assert!(reminders > 0, "including session reminders");
    for day in [0, 13, 41] {
        let report = pass(day);
        assert!(report.contains("sent 0,"), "{report}");
    }
    assert_eq!(mails.lock().unwrap().len(), sent, "nothing twice");
    let refused = tandem()
        .args(["notify", "--now", "2026-11-23T12:00:00Z"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "--now needs --once");
    let garbage = tandem()
        .args(["notify", "--once", "--now", "yesterday"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(garbage.status.code(), Some(2));
}

#[test]
fn notes_keys_of_the_wrong_length_or_encoding_stop_with_exit_code_2_naming_the_variable() {
    for keys in [
        "k1:AAAA",
        "k1:not base64!",
        "no-colon",
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ] {
        let output = tandem()
            .arg("migrate")
            .env("NOTES_ENCRYPTION_KEYS", keys)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{keys}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("NOTES_ENCRYPTION_KEYS"), "{stderr}");
        assert!(!stderr.contains("AAECAwQF"), "no key echoed: {stderr}");
    }
}

#[test]
fn the_embedded_default_keeps_its_notes_key_beside_the_database_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let key_path = dir.path().join("t.db.notes-key");
    for _ in 0..2 {
        let output = tandem()
            .args(["rotate-notes-key"])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        // Without NOTES_ENCRYPTION_KEYS there is nothing to rotate to.
        assert_eq!(output.status.code(), Some(2));
    }
    let port = free_port();
    let mut server = serve_dev(&url, port)
        .env("NOTIFY", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    // Answered once the service is built (the key is made before serving).
    let ready = readiness(port);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let spec = std::fs::read_to_string(&key_path).expect("a key file was created");
    assert!(spec.starts_with("local-1:"), "{spec}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn retention_once_at_a_chosen_instant_says_what_it_erased() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let output = tandem()
        .args(["retention", "--once", "--now", "2031-01-01T00:00:00Z"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        "retention as of 2031-01-01T00:00:00+00:00: erased 0 notes, 0 comments, 0 leavers"
    );
    let refused = tandem()
        .args(["retention", "--now", "2031-01-01T00:00:00Z"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "--now needs --once");
}
