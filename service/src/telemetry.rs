//! Logs and traces. A `tracing` subscriber writes pretty or JSON lines
//! (sqlx's per-statement INFO logs silenced); when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported with OTLP
//! over HTTP/protobuf, honouring the standard `OTEL_*` variables (service name,
//! resource attributes, sampler, headers, batch settings). Unset, nothing is
//! exported and the OpenTelemetry layer is not installed at all.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes the last spans.
#[must_use = "dropping the guard without shutdown loses the last spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporter (call once on exit).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("tandem: trace export did not shut down cleanly: {err}");
        }
    }
}

/// Installs the global subscriber; a second call (tests) keeps the first.
pub fn init(config: &Config) -> Telemetry {
    let directives = if config.log_filter.contains("sqlx") {
        config.log_filter.clone()
    } else {
        format!("{},sqlx=warn", config.log_filter)
    };
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_span_events(FmtSpan::CLOSE)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let provider = config.otel_endpoint.as_ref().and_then(|_| {
        match tracer_provider(&config.otel_service_name) {
            Ok(provider) => Some(provider),
            Err(err) => {
                eprintln!("tandem: traces will not be exported: {err}");
                None
            }
        }
    });
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("tandem"))
            .boxed()
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .with(filter)
        .try_init();
    Telemetry { provider }
}

/// An OTLP/HTTP exporter configured from the standard environment variables.
fn tracer_provider(service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
