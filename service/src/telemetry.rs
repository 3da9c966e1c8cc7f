//! Logs and traces. A `tracing` subscriber writes pretty or JSON lines
//! (sqlx's per-statement INFO logs silenced, SQL spans kept for traces); when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported with OTLP
//! over HTTP/protobuf, or gRPC when `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`,
//! honouring the standard `OTEL_*` variables (service name, resource
//! attributes, sampler, headers, timeout, batch settings). Unset, nothing is
//! exported and the OpenTelemetry layer is not installed at all.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat, OtlpProtocol};

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

/// `text` made safe for a log line: control characters and the Unicode
/// line and paragraph separators and bidi controls escaped (`\n`, `\u{1b}`),
/// at most 200 characters. Anything a client wrote passes through it before
/// it is logged, so a line break in a token or a variable's name never forges
/// a log line.
pub fn escaped(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut escaped = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_CHARS {
            escaped.push('…');
            break;
        }
        if c.is_control() || is_line_or_bidi_control(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// U+2028/2029 end lines in some log viewers; bidi controls reorder them.
fn is_line_or_bidi_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Crates the span exporter runs on; their spans are never exported.
const EXPORTER_TARGETS: &[&str] = &["opentelemetry", "tonic", "tower", "h2", "hyper", "reqwest"];

/// Installs the global subscriber; a second call (tests) keeps the first.
/// Call it inside the Tokio runtime: the gRPC exporter's channel lives there.
pub fn init(config: &Config) -> Telemetry {
    // Each layer has its own filter: a global one would also drop the spans
    // the exporter needs whenever the log level is above them.
    let log_filter = with_quiet_sqlx(&config.log_filter);
    let traces_filter = with_quiet_sqlx(&config.traces_filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // One span per SQL statement goes to the trace exporter, not to the log:
    // a log line per statement would drown the rest.
    let not_sql_spans = filter_fn(|meta| !(meta.is_span() && meta.target().starts_with("sea_orm")));
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_span_events(FmtSpan::CLOSE)
            .with_filter(not_sql_spans)
            .with_filter(log_filter)
            .boxed(),
        LogFormat::Pretty => fmt
            .with_filter(not_sql_spans)
            .with_filter(log_filter)
            .boxed(),
    };
    let provider = config.otel_endpoint.as_ref().and_then(|endpoint| {
        match tracer_provider(config.otel_protocol, endpoint, &config.otel_service_name) {
            Ok(provider) => Some(provider),
            Err(err) => {
                eprintln!("tandem: traces will not be exported: {err}");
                None
            }
        }
    });
    // The exporter's own HTTP/gRPC client must not trace itself (with
    // RUST_LOG=debug every export would produce spans to export).
    let not_the_exporter = filter_fn(|meta| {
        !EXPORTER_TARGETS
            .iter()
            .any(|target| meta.target().starts_with(target))
    });
    let traces = provider.as_ref().map(|p| {
        // Thread, source location and busy/idle time on every span would
        // add little for a reader and much to each span (measured in
        // docs/benchmarks.md): the span names and the trace say where.
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("tandem"))
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_filter(not_the_exporter)
            .with_filter(traces_filter)
            .boxed()
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
    Telemetry { provider }
}

/// `directives` with sqlx's per-statement INFO logs silenced (unless the
/// directives name sqlx themselves); validated by the configuration.
fn with_quiet_sqlx(directives: &str) -> EnvFilter {
    let directives = if directives.contains("sqlx") {
        directives.to_owned()
    } else {
        format!("{directives},sqlx=warn")
    };
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
}

/// Builds an OTLP exporter of `$exporter` (spans or metrics: the builders
/// share their method names, not a trait) for `$protocol` and `$endpoint`;
/// evaluates to `anyhow::Result<exporter>`. The transport is chosen here,
/// not left to the exporter crate; gRPC over `https://` trusts the system's
/// store (and `SSL_CERT_FILE`), as OTLP/HTTP does.
macro_rules! otlp_exporter {
    ($exporter:path, $protocol:expr, $endpoint:expr) => {{
        use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithTonicConfig as _};
        let builder = <$exporter>::builder();
        let built: anyhow::Result<_> = match $protocol {
            $crate::config::OtlpProtocol::HttpProtobuf => builder
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build()
                .map_err(anyhow::Error::from),
            $crate::config::OtlpProtocol::Grpc if $endpoint.starts_with("https://") => {
                let tls = opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                    .with_native_roots();
                builder
                    .with_tonic()
                    .with_protocol(Protocol::Grpc)
                    .with_tls_config(tls)
                    .build()
                    .map_err(anyhow::Error::from)
            }
            $crate::config::OtlpProtocol::Grpc => builder
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .build()
                .map_err(anyhow::Error::from),
        };
        built
    }};
}
pub(crate) use otlp_exporter;

/// An OTLP exporter configured from the standard environment variables.
/// The transport is chosen here, not left to the exporter crate, so a
/// protocol it cannot speak is a configuration error at start (see
/// `config::otlp_protocol`) rather than a silent fallback.
fn tracer_provider(
    protocol: OtlpProtocol,
    endpoint: &str,
    service_name: &str,
) -> anyhow::Result<SdkTracerProvider> {
    let exporter = otlp_exporter!(opentelemetry_otlp::SpanExporter, protocol, endpoint)?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Continues the caller's W3C trace (`traceparent`) in `span`, and records
/// the trace id on it so every log line of the request carries it. A
/// malformed header is ignored (a new trace starts), as the spec asks.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if let Some(parent) = traceparent.and_then(parse_traceparent) {
        let context = opentelemetry::Context::new().with_remote_span_context(parent);
        // Without an exporter there is no OpenTelemetry layer to attach to.
        let _ = span.set_parent(context);
    }
    let current = span.context();
    let trace_id = current.span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    } else if let Some(parent) = traceparent.and_then(parse_traceparent) {
        span.record("trace_id", tracing::field::display(parent.trace_id()));
    }
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, ids not all zero.
fn parse_traceparent(header: &str) -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if version != "00"
        || parts.next().is_some()
        || !lower_hex(trace, 32)
        || !lower_hex(parent, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    let trace_id = TraceId::from_hex(trace)
        .ok()
        .filter(|t| *t != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(parent)
        .ok()
        .filter(|s| *s != SpanId::INVALID)?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1);
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_read_and_a_bad_one_ignored() {
        let parent =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(parent.is_sampled() && parent.is_remote());
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }
}
