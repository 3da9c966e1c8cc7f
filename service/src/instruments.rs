//! The service's own measurements, for the platform's dashboards:
//! OpenTelemetry metrics named after the semantic conventions, read two
//! ways: over OTLP beside the traces (when an endpoint is set), and as
//! Prometheus text on `/metrics` of `METRICS_ADDR` (off by default, its own
//! port, so it is never exposed with the API).
//!
//! | instrument | kind | attributes |
//! | --- | --- | --- |
//! | `http.server.request.duration` (s) | histogram | `http.request.method`, `http.route`, `http.response.status_code` |
//! | `graphql.server.operations` | counter | `graphql.operation.type`, `graphql.operation.name`, `outcome` (`ok`, `error`, `invalid`) |
//! | `db.client.connection.count` | gauge | `db.client.connection.pool.name`, `db.client.connection.state` (`used`, `idle`) |
//! | `tandem.cache.breaker.open` | gauge (1 open, 0 closed) | `backend` (`redis`, `in-process`) |
//! | `tandem.notifications.queue` | gauge | notifications waiting, after each notifier pass |
//! | `tandem.notifications.deliveries` | counter | `outcome` (`sent`, `suppressed`, `retried`, `failed`) |
//!
//! sqlx tells how many connections are used and idle, not how many requests
//! wait for one: waiting shows as `used` at the pool's size.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    Counter, Gauge, Histogram, Meter, MeterProvider as _, ObservableGauge,
};
use sea_orm::DatabaseConnection;

use crate::cache::FreeTimeCache;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

/// Distinct operation names counted apart (the front-end's documents are
/// far fewer); the rest count as `other`.
const MAX_OPERATION_NAMES: usize = 200;

/// Histogram bounds of request durations, in seconds (the conventions'
/// advice for `http.server.request.duration`).
const DURATION_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The instruments of one running service, and where they are read.
pub struct Metrics {
    provider: SdkMeterProvider,
    /// The reader `/metrics` collects from (None: only OTLP).
    scrape: Option<Arc<ManualReader>>,
    request_duration: Histogram<f64>,
    operations: Counter<u64>,
    compiled_reads: Counter<u64>,
    deliveries: Counter<u64>,
    queue: Gauge<u64>,
    /// Operation names seen so far: past [`MAX_OPERATION_NAMES`] others
    /// count as `other` (a client choosing names cannot grow the series).
    operation_names: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Observed on each collection; kept so their callbacks stay registered.
    _observed: Vec<ObservableGauge<i64>>,
}

impl Metrics {
    /// The instruments, when `METRICS_ADDR` or an OTLP endpoint asks for
    /// them (None: nothing is measured, nothing costs).
    pub fn start(
        config: &crate::config::Config,
        db: &DatabaseConnection,
        cache: &FreeTimeCache,
    ) -> Option<Arc<Self>> {
        let prometheus = config.metrics_addr.is_some();
        let otlp = config.otel_endpoint.as_ref().and_then(|endpoint| {
            match otlp_exporter(config.otel_protocol, endpoint) {
                Ok(exporter) => Some(exporter),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics will not be exported over OTLP");
                    None
                }
            }
        });
        if !prometheus && otlp.is_none() {
            return None;
        }
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(config.otel_service_name.clone())
            .build();
        let mut builder = SdkMeterProvider::builder().with_resource(resource);
        let scrape = prometheus.then(|| Arc::new(ManualReader::builder().build()));
        if let Some(reader) = &scrape {
            builder = builder.with_reader(SharedReader(reader.clone()));
        }
        if let Some(exporter) = otlp {
            builder = builder.with_periodic_exporter(exporter);
        }
        let provider = builder.build();
        let meter = provider.meter("tandem");
        let observed = vec![pool_gauge(&meter, db), cache_gauge(&meter, cache)];
        Some(Arc::new(Self {
            request_duration: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            operations: meter
                .u64_counter("graphql.server.operations")
                .with_description("GraphQL operations by type, name and outcome.")
                .build(),
            compiled_reads: meter
                .u64_counter("tandem.graphql.compiled_reads")
                .with_description("Compiled reads of known documents, by outcome.")
                .build(),
            deliveries: meter
                .u64_counter("tandem.notifications.deliveries")
                .with_description("Notification delivery attempts by outcome.")
                .build(),
            queue: meter
                .u64_gauge("tandem.notifications.queue")
                .with_description(
                    "Notifications waiting for delivery, after the last notifier pass.",
                )
                .build(),
            operation_names: std::sync::Mutex::default(),
            _observed: observed,
            provider,
            scrape,
        }))
    }

    /// The current figures as Prometheus text (None when `/metrics` is off).
    pub fn prometheus_text(&self) -> Option<String> {
        let reader = self.scrape.as_ref()?;
        let mut collected = ResourceMetrics::default();
        if let Err(err) = reader.collect(&mut collected) {
            tracing::warn!(error = %err, "metrics collection failed");
            return Some(String::new());
        }
        Some(prometheus_text(&collected))
    }

    /// Flushes and stops the exporters (at shutdown).
    pub fn shutdown(&self) {
        let _ = self.provider.shutdown();
    }

    /// Records one HTTP request (`route`: the matched pattern, never the
    /// path; a method outside HTTP's own is `_OTHER`, as the conventions
    /// say, so no client can grow the series).
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        const KNOWN: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ];
        let method = KNOWN
            .iter()
            .find(|known| **known == method)
            .copied()
            .unwrap_or("_OTHER");
        self.request_duration.record(
            seconds,
            &[
                KeyValue::new("http.request.method", method),
                KeyValue::new("http.route", route.to_owned()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ],
        );
    }

    /// Records one GraphQL operation. `name`: a GraphQL name (checked
    /// before execution) or empty; `outcome`: `ok`, `error` or `invalid`.
    pub fn graphql_operation(&self, kind: &'static str, name: Option<&str>, outcome: &'static str) {
        let name = self.bounded_name(name.unwrap_or(""));
        self.operations.add(
            1,
            &[
                KeyValue::new("graphql.operation.type", kind),
                KeyValue::new("graphql.operation.name", name),
                KeyValue::new("outcome", outcome),
            ],
        );
    }

    /// Records one compiled read (`graphql::compiled`) by outcome:
    /// `answered`, `declined` (a rule or the database sent it to the
    /// executor) or `failed` (an error, then the executor answered).
    pub fn compiled_read(&self, outcome: &'static str) {
        self.compiled_reads
            .add(1, &[KeyValue::new("outcome", outcome)]);
    }

    /// `name`, or `other` once [`MAX_OPERATION_NAMES`] names were seen.
    fn bounded_name(&self, name: &str) -> String {
        if name.len() > crate::graphql::limits::MAX_OPERATION_NAME {
            return "other".to_owned();
        }
        let Ok(mut seen) = self.operation_names.lock() else {
            return "other".to_owned();
        };
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() < MAX_OPERATION_NAMES {
            seen.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }

    /// Records a notifier pass: its delivery outcomes and the queue left.
    pub fn notifier_pass(
        &self,
        sent: u64,
        suppressed: u64,
        retried: u64,
        failed: u64,
        waiting: u64,
    ) {
        for (outcome, count) in [
            ("sent", sent),
            ("suppressed", suppressed),
            ("retried", retried),
            ("failed", failed),
        ] {
            if count > 0 {
                self.deliveries
                    .add(count, &[KeyValue::new("outcome", outcome)]);
            }
        }
        self.queue.record(waiting, &[]);
    }
}

/// `db.client.connection.count` by state, and `db.client.connection.max`,
/// read from the pool on each collection.
fn pool_gauge(meter: &Meter, db: &DatabaseConnection) -> ObservableGauge<i64> {
    let db = db.clone();
    meter
        .i64_observable_gauge("db.client.connection.count")
        .with_description("Connections of the database pool, by state.")
        .with_callback(move |observer| {
            let (size, idle, name) = pool_figures(&db);
            let pool = KeyValue::new("db.client.connection.pool.name", name);
            let size = i64::from(size);
            let idle = i64::try_from(idle).unwrap_or(i64::MAX).min(size);
            observer.observe(
                size - idle,
                &[
                    pool.clone(),
                    KeyValue::new("db.client.connection.state", "used"),
                ],
            );
            observer.observe(
                idle,
                &[pool, KeyValue::new("db.client.connection.state", "idle")],
            );
        })
        .build()
}

/// The pool's open connections, idle ones, and its name.
fn pool_figures(db: &DatabaseConnection) -> (u32, usize, &'static str) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle(), "postgresql")
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle(), "sqlite")
        }
        _ => (0, 0, "none"),
    }
}

/// `tandem.cache.breaker.open`: 1 while Redis is skipped after a failure.
fn cache_gauge(meter: &Meter, cache: &FreeTimeCache) -> ObservableGauge<i64> {
    let cache = cache.clone();
    meter
        .i64_observable_gauge("tandem.cache.breaker.open")
        .with_description(
            "1 while the Redis circuit breaker is open (answers come from the database).",
        )
        .with_callback(move |observer| {
            observer.observe(
                i64::from(cache.breaker_open()),
                &[KeyValue::new("backend", cache.backend())],
            );
        })
        .build()
}

/// The OTLP metric exporter for `protocol`, from the standard variables.
fn otlp_exporter(
    protocol: crate::config::OtlpProtocol,
    endpoint: &str,
) -> anyhow::Result<opentelemetry_otlp::MetricExporter> {
    crate::telemetry::otlp_exporter!(opentelemetry_otlp::MetricExporter, protocol, endpoint)
}

/// The provider owns its readers; the scrape handler needs the same one.
#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// `http.server.request.duration` → `http_server_request_duration`, with
/// the unit appended as Prometheus names it (`_seconds`).
fn prometheus_name(name: &str, unit: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match unit {
        "s" => out.push_str("_seconds"),
        "By" => out.push_str("_bytes"),
        _ => {}
    }
    out
}

/// Label values escaped as the text format asks (`\`, `"`, newline).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels<'a>(
    attributes: impl Iterator<Item = &'a KeyValue>,
    extra: Option<(&str, &str)>,
) -> String {
    let mut parts: Vec<String> = attributes
        .map(|kv| {
            format!(
                "{}=\"{}\"",
                prometheus_name(kv.key.as_str(), ""),
                escape_label(&kv.value.as_str())
            )
        })
        .collect();
    if let Some((key, value)) = extra {
        parts.push(format!("{key}=\"{value}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// A number as the text format writes it (`+Inf` for infinity).
fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// The collected metrics in the Prometheus text exposition format 0.0.4.
pub fn prometheus_text(collected: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in collected.scope_metrics() {
        for metric in scope.metrics() {
            let name = prometheus_name(metric.name(), metric.unit());
            match metric.data() {
                AggregatedMetrics::F64(data) => {
                    write_data(&mut out, &name, metric.description(), data)
                }
                AggregatedMetrics::U64(data) => {
                    write_data(&mut out, &name, metric.description(), data)
                }
                AggregatedMetrics::I64(data) => {
                    write_data(&mut out, &name, metric.description(), data)
                }
            }
        }
    }
    out
}

fn write_data<T: Copy + Into<Number>>(
    out: &mut String,
    name: &str,
    help: &str,
    data: &MetricData<T>,
) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    match data {
        MetricData::Gauge(gauge) => {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for point in gauge.data_points() {
                let value: Number = point.value().into();
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    labels(point.attributes(), None),
                    value.0
                );
            }
        }
        MetricData::Sum(sum) => {
            let (kind, series) = if sum.is_monotonic() {
                ("counter", format!("{name}_total"))
            } else {
                ("gauge", name.to_owned())
            };
            let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} {kind}");
            for point in sum.data_points() {
                let value: Number = point.value().into();
                let _ = writeln!(
                    out,
                    "{series}{} {}",
                    labels(point.attributes(), None),
                    value.0
                );
            }
        }
        MetricData::Histogram(histogram) => {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for point in histogram.data_points() {
                let mut cumulative = 0u64;
                let bounds: Vec<f64> = point.bounds().collect();
                for (index, count) in point.bucket_counts().enumerate() {
                    cumulative = cumulative.saturating_add(count);
                    let bound = bounds.get(index).copied().unwrap_or(f64::INFINITY);
                    let le = number(bound);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {cumulative}",
                        labels(point.attributes(), Some(("le", &le)))
                    );
                }
                let sum: Number = point.sum().into();
                let tags = labels(point.attributes(), None);
                let _ = writeln!(out, "{name}_sum{tags} {}", sum.0);
                let _ = writeln!(out, "{name}_count{tags} {}", point.count());
            }
        }
        // Not used by any instrument here.
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// A sample value as text.
pub struct Number(String);

impl From<f64> for Number {
    fn from(value: f64) -> Self {
        Number(number(value))
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Self {
        Number(value.to_string())
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Number(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        assert_eq!(
            prometheus_name("http.server.request.duration", "s"),
            "http_server_request_duration_seconds"
        );
        assert_eq!(
            prometheus_name("db.client.connection.count", ""),
            "db_client_connection_count"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn infinity_is_written_as_the_format_spells_it() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.25), "0.25");
    }
}
