//! Logs and spans: a `tracing` subscriber writing pretty or JSON lines.
//! sqlx's per-statement INFO logs are silenced unless asked for.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(config: &Config) {
    let directives = if config.log_filter.contains("sqlx") {
        config.log_filter.clone()
    } else {
        format!("{},sqlx=warn", config.log_filter)
    };
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_span_events(FmtSpan::CLOSE)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
