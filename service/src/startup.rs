//! Builds the running service from a [`Config`]: pools, migrations, schema,
//! authenticator and the actix server bound to a listener whose port is known
//! (tests bind port 0).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::{Server, Service as _};
use actix_web::{App, HttpMessage as _, HttpServer, web};
use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tracing::Instrument as _;

use crate::auth::Authenticator;
use crate::cache::{self, FreeTimeCache};
use crate::config::{Config, DatabaseConfig};
use crate::domain::metrics::MetricsSource;
use crate::domain::retention::{self, RetentionSettings};
use crate::domain::seal::Keyring;
use crate::domain::sealed_notes;
use crate::domain::skills;
use crate::graphql::fair_share::CallerShare;
use crate::graphql::{SchemaSettings, build_schema};
use crate::http::{AppState, RequestId, routes};
use crate::instruments::Metrics;
use crate::notify::Notifier;

/// How long a pooled connection may sit idle before it is pinged on its
/// way out of the pool. A busy pool hands its connections out without a
/// round trip (sea-orm's default pings on every checkout, and our patched
/// sqlx-core no longer pings a PostgreSQL connection on every return:
/// vendor/README.md); one idle
/// for a second or more, which a restarted server or a firewall may have
/// closed, is checked first.
pub const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens a pool with explicit size, acquire timeout and statement timeout.
pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<DatabaseConnection> {
    let statement_ms = config.statement_timeout.as_millis().to_string();
    let busy_timeout = config.statement_timeout;
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.pool_size)
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout)
        .connect_timeout(config.acquire_timeout)
        .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |pg| pg.options([("statement_timeout", statement_ms.clone())]))
        .map_sqlx_sqlite_opts(move |lite| {
            lite.busy_timeout(busy_timeout)
                .foreign_keys(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        });
    Database::connect(options)
        .await
        .context("cannot connect to the database (DATABASE_URL)")
}

/// Applies pending migrations and the reference data the service needs.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("migrations failed")?;
    skills::ensure_catalogue(db)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("skill catalogue")?;
    Ok(())
}

/// The pool metrics read from: a replica at `DATABASE_READ_URL`, else the primary.
async fn read_pool(
    config: &Config,
    primary: &DatabaseConnection,
) -> anyhow::Result<DatabaseConnection> {
    match &config.database.read_url {
        Some(url) => {
            let replica = DatabaseConfig {
                url: url.clone(),
                ..config.database.clone()
            };
            connect(&replica)
                .await
                .context("cannot connect to the read replica (DATABASE_READ_URL)")
        }
        None => Ok(primary.clone()),
    }
}

/// A built, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on `METRICS_ADDR`: its port and server.
    metrics_server: Option<(u16, Server)>,
    /// The instruments (flushed at the end).
    metrics: Option<Arc<Metrics>>,
    draining: Arc<AtomicBool>,
    drain: std::time::Duration,
    /// The scheduler (notifier and retention loops), stopped with the server.
    notifier: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the scheduler beside the server unless `NOTIFY=off`: the
/// notifier loop, and retention every hour.
fn spawn_notifier(
    config: &Config,
    db: &DatabaseConnection,
    metrics: Option<Arc<Metrics>>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !config.notify.enabled {
        tracing::info!("notifier off (NOTIFY=off)");
        return Ok(None);
    }
    let notifier =
        Notifier::new(db.clone(), &config.notify, &config.public_base_url)?.with_metrics(metrics);
    let interval = config.notify.interval;
    let retention = retention_loop(db.clone(), retention_settings(config));
    Ok(Some(tokio::spawn(async move {
        tokio::join!(notifier.run(interval), retention);
    })))
}

/// The retention limits of `config`.
pub fn retention_settings(config: &Config) -> RetentionSettings {
    RetentionSettings {
        notes_days: config.privacy.retention_notes_days,
        leavers_days: config.privacy.retention_leavers_days,
    }
}

/// How often `serve` applies retention.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Applies retention now and then every hour (each pass recorded; a
/// failed pass is logged and tried again at the next).
pub async fn retention_loop(db: DatabaseConnection, settings: RetentionSettings) {
    let mut ticks = tokio::time::interval(RETENTION_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = retention::run(&db, settings, chrono::Utc::now()).await {
            tracing::warn!(error = ?error, "retention pass failed");
        }
    }
}

/// The keys private notes and comments are sealed with:
/// `NOTES_ENCRYPTION_KEYS` when set; else, for a SQLite file (the embedded
/// default), a key file beside the database, created on first start (0600)
/// with a warning; else none — and then the service refuses to start if the
/// database already holds sealed values, which it could not read.
pub async fn notes_keyring(config: &Config, db: &DatabaseConnection) -> anyhow::Result<Keyring> {
    if let Some(spec) = &config.privacy.notes_keys {
        return Keyring::parse(spec.expose())
            .map_err(|reason| anyhow::anyhow!("NOTES_ENCRYPTION_KEYS: {reason}"));
    }
    if let Some(path) = sqlite_file(&config.database.url) {
        let path = format!("{path}.notes-key");
        if !std::path::Path::new(&path).exists() && sealed_notes::any_sealed(db).await? {
            anyhow::bail!(
                "NOTES_ENCRYPTION_KEYS is required: the database holds sealed notes and the key file {path} is missing (restore it, or set the keys they were sealed with)"
            );
        }
        return key_file(&path);
    }
    if sealed_notes::any_sealed(db).await? {
        anyhow::bail!(
            "NOTES_ENCRYPTION_KEYS is required: the database holds sealed notes that cannot be read without their keys"
        );
    }
    tracing::warn!(
        "NOTES_ENCRYPTION_KEYS is not set: private notes and feedback comments are stored in plain text"
    );
    Ok(Keyring::none())
}

/// The file of a `sqlite://<path>?…` URL; None for memory databases and
/// other databases.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// Reads the embedded default's key file, or creates it (owner-only).
fn key_file(path: &str) -> anyhow::Result<Keyring> {
    match std::fs::read_to_string(path) {
        Ok(spec) => Keyring::parse(spec.trim())
            .map_err(|reason| anyhow::anyhow!("the notes key file {path}: {reason}")),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let spec = Keyring::generate_spec("local-1").map_err(anyhow::Error::msg)?;
            write_owner_only(path, &spec)
                .with_context(|| format!("cannot create the notes key file {path}"))?;
            tracing::warn!(
                path,
                "created a notes key beside the SQLite database: keep it with the database (and out of its backups), or set NOTES_ENCRYPTION_KEYS"
            );
            Keyring::parse(&spec).map_err(anyhow::Error::msg)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read the notes key file {path}")),
    }
}

fn write_owner_only(path: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// How many distinct GraphQL texts each replica keeps parsed: the
/// front-ends' queries and a margin. With texts of at most 4 KiB, under
/// 10 MiB even when filled with the largest documents.
const PARSED_DOCUMENTS_KEPT: usize = 64;

impl Application {
    /// Connects, migrates, and binds `config.bind_addr`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = connect(&config.database).await?;
        migrate(&db).await?;
        let listener = TcpListener::bind(config.bind_addr)
            .with_context(|| format!("cannot listen on {} (BIND_ADDR)", config.bind_addr))?;
        Self::with_listener(config, db, listener).await
    }

    /// Serves on an already bound listener over an already migrated database.
    pub async fn with_listener(
        mut config: Config,
        db: DatabaseConnection,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let authenticator = Authenticator::new(&config.auth, &db).await?;
        let store = cache::from_config(&config.cache)?;
        let metrics_cache = cache::metrics_cache(&config.cache, &store);
        let cache = FreeTimeCache::new(store);
        let metrics_db = MetricsSource {
            db: read_pool(&config, &db).await?,
            cache: metrics_cache,
        };
        let keyring = Arc::new(notes_keyring(&config, &db).await?);
        let metrics = Metrics::start(&config, &db, &cache);
        let caller_share = CallerShare::new(config.graphql.max_parallel_per_caller);
        let schema = build_schema(
            &config.graphql,
            config.rules,
            db.clone(),
            metrics_db.clone(),
            cache.clone(),
            SchemaSettings {
                public_base_url: config.public_base_url.clone(),
                notify: config.notify.settings,
                keyring,
                caller_share: caller_share.clone(),
            },
        );
        let notifier = spawn_notifier(&config, &db, metrics.clone())?;
        let metrics_server = match (config.metrics_addr, &metrics) {
            (Some(addr), Some(metrics)) => Some(metrics_server(addr, metrics.clone())?),
            _ => None,
        };
        let draining = Arc::new(AtomicBool::new(false));
        let (drain, timeout) = (config.shutdown_drain, config.shutdown_timeout);
        let limiter = Arc::new(crate::rate_limit::RateLimiter::new(
            &config.rate_limit,
            config.cache.redis_url.as_deref(),
            config.cache.redis_timeout,
        )?);
        let input_types = Arc::new(schema.input_type_names());
        let documents = crate::graphql::limits::ParsedDocuments::new(
            config.graphql.shape_limits(),
            PARSED_DOCUMENTS_KEPT,
        );
        // SQLite has no compiled read: each would only fall back.
        config.graphql.compiled_reads &= db.get_database_backend() == sea_orm::DbBackend::Postgres;
        let state = web::Data::new(AppState {
            draining: draining.clone(),
            schema,
            input_types,
            authenticator,
            db,
            metrics_db,
            cache,
            config: Arc::new(config),
            limiter,
            documents,
            metrics: metrics.clone(),
            caller_share,
            compiled_within_limits: Arc::default(),
        });
        let recorder = metrics.clone();
        let server = HttpServer::new(move || {
            let recorder = recorder.clone();
            App::new()
                .app_data(state.clone())
                .wrap_fn(move |req, srv| {
                    let request_id = RequestId::from_header(req.headers());
                    let route = req.match_pattern().unwrap_or_default();
                    // Only with metrics on: nothing is copied per request otherwise.
                    let measured = recorder.clone().map(|recorder| {
                        let method = req.method().to_string();
                        (recorder, method, route.clone(), std::time::Instant::now())
                    });
                    // Semantic conventions: a server span named "{method} {route}".
                    let span_name = match route.as_str() {
                        "" => req.method().to_string(),
                        route => format!("{} {route}", req.method()),
                    };
                    let span = tracing::info_span!(
                        "http.request",
                        otel.name = span_name,
                        otel.kind = "server",
                        otel.status_code = tracing::field::Empty,
                        http.request.method = %req.method(),
                        http.route = route,
                        http.response.status_code = tracing::field::Empty,
                        request_id = %request_id.0,
                        trace_id = tracing::field::Empty,
                    );
                    let traceparent = req
                        .headers()
                        .get("traceparent")
                        .and_then(|v| v.to_str().ok());
                    crate::telemetry::continue_trace(&span, traceparent);
                    req.extensions_mut().insert(request_id.clone());
                    let call = srv.call(req);
                    async move {
                        let mut response = call.await?;
                        let span = tracing::Span::current();
                        span.record(
                            "http.response.status_code",
                            i64::from(response.status().as_u16()),
                        );
                        if response.status().is_server_error() {
                            span.record("otel.status_code", "ERROR");
                        }
                        request_id.stamp(response.headers_mut());
                        if let Some((recorder, method, route, started)) = measured {
                            recorder.http_request(
                                &method,
                                &route,
                                response.status().as_u16(),
                                started.elapsed().as_secs_f64(),
                            );
                        }
                        Ok(response)
                    }
                    .instrument(span)
                })
                .configure(routes)
        })
        .shutdown_timeout(timeout.as_secs())
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            draining,
            drain,
            notifier,
            metrics_server,
            metrics,
        })
    }

    /// The port actually bound (useful when asking for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` listens on, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Serves until the process ends, without handling signals (tests and
    /// benchmarks, where Ctrl-C must still stop the whole process).
    pub async fn run(self) -> std::io::Result<()> {
        let metrics_handle = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(notifier) = self.notifier {
            notifier.abort();
        }
        stop_metrics(metrics_handle, self.metrics).await;
        served
    }

    /// Serves until SIGTERM or SIGINT, then shuts down without dropping a
    /// request: readiness turns 503 at once, requests are still served for
    /// `SHUTDOWN_DRAIN_SECS` (while the load balancer takes the replica out),
    /// then the listener closes and in-flight requests get up to
    /// `SHUTDOWN_TIMEOUT_SECS` to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (draining, drain) = (self.draining, self.drain);
        let notifier = self.notifier;
        tokio::spawn(async move {
            if let Err(error) = wait_for_stop_signal().await {
                tracing::error!(%error, "cannot listen for SIGTERM: stop by other means");
                return;
            }
            draining.store(true, Ordering::Release);
            tracing::info!(
                ?drain,
                "stop requested: draining before closing the listener"
            );
            tokio::time::sleep(drain).await;
            handle.stop(true).await;
        });
        let metrics_handle = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(notifier) = notifier {
            // A delivery cut short keeps its lease and is sent by a later pass.
            notifier.abort();
        }
        stop_metrics(metrics_handle, self.metrics).await;
        served
    }
}

/// Stops `/metrics` and flushes the last figures to the OTLP collector.
async fn stop_metrics(handle: Option<actix_web::dev::ServerHandle>, metrics: Option<Arc<Metrics>>) {
    if let Some(handle) = handle {
        handle.stop(true).await;
    }
    if let Some(metrics) = metrics {
        metrics.shutdown();
    }
}

/// `GET /metrics` (Prometheus text) on its own listener, one worker:
/// never on the API's address.
fn metrics_server(
    addr: std::net::SocketAddr,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} (METRICS_ADDR)"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let text = metrics.prometheus_text().unwrap_or_default();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(text)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((port, server))
}

/// Resolves on the first SIGTERM or SIGINT.
async fn wait_for_stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
