//! The `tandem` binary as an operator runs it: configuration errors, the
//! dev-token output and the schema export. (The HTTP API is tested black-box
//! in the workspace's `tests/` crate; these need the binary itself.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn tandem() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    for variable in [
        "DATABASE_URL",
        "AUTH_DEV_MODE",
        "AUTH_JWKS_URL",
        "RUST_LOG",
        "LOG_FORMAT",
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
