//! One typed [`Config`], read from the environment once at start.
//!
//! Every variable of docs/configuration.md is parsed here and nowhere else. An
//! invalid value is a [`ConfigError`] naming the variable; `main` prints it on
//! one line and exits with code 2, so a misconfigured pod fails fast and says why.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::domain::matching::Weights;
use crate::domain::pairings::PairingRules;
use crate::domain::settings::RuleSettings;

/// A configuration value that could not be accepted.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// Why its value was refused (never the value itself when it may be a secret).
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

/// How logs are written: humans read `pretty`, log collectors read `json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Multi-line, coloured output for a terminal.
    Pretty,
    /// One JSON object per line, with span fields.
    Json,
}

/// How traces travel to the collector (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies, the specification's default (port 4318).
    HttpProtobuf,
    /// OTLP/gRPC over HTTP/2 (port 4317), what many collectors listen on first.
    Grpc,
}

/// Settings of the database pool(s).
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// Primary database (`sqlite://…` or `postgres://…`).
    pub url: String,
    /// Optional read replica used by metrics queries.
    pub read_url: Option<String>,
    /// Maximum connections per pool.
    pub pool_size: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Longest a single SQL statement may run (PostgreSQL `statement_timeout`,
    /// SQLite busy timeout).
    pub statement_timeout: Duration,
}

/// How bearer tokens are verified.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The SSO provider's JWKS endpoint.
    pub jwks_url: Option<String>,
    /// A JWKS file (air-gapped sites), instead of the endpoint.
    pub jwks_file: Option<std::path::PathBuf>,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Accepted audiences (`AUTH_AUDIENCE`, comma-separated).
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// JWKS refresh interval when the provider sends no max-age.
    pub jwks_refresh: Duration,
    /// Least time between two JWKS fetches triggered by unknown kids.
    pub jwks_cooldown: Duration,
    /// Claim naming the employee: `email` (matched to the work email, and
    /// refused when `email_verified` is false), or any other claim, e.g.
    /// Entra's immutable `oid` or `employee_id`, matched to the externalId.
    pub identity_claim: String,
    /// Token subjects (`sub`) that are service principals: the only tokens
    /// naming no employee whose roles count (`AUTH_SERVICE_SUBJECTS`).
    pub service_subjects: std::collections::BTreeSet<String>,
    /// Accepted JOSE `typ` headers, lower case without `application/`;
    /// `none` accepts a token without one (`AUTH_TOKEN_TYPES`).
    pub token_types: Vec<String>,
    /// Dotted path to the roles claim, e.g. `realm_access.roles`.
    pub roles_claim: String,
    /// Tandem role → provider role names (`admin=HR.Mentoring.Admin`).
    pub role_map: HashMap<String, Vec<String>>,
    /// Local only: the service signs and accepts its own tokens.
    pub dev_mode: bool,
}

/// Limits that protect the GraphQL endpoint (OWASP GraphQL cheat sheet).
#[derive(Clone, Debug)]
pub struct GraphqlConfig {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum query complexity (lists cost `first × child`).
    pub max_complexity: usize,
    /// Maximum nesting of the parser's recursion (fragments, lists of lists).
    pub max_recursive_depth: usize,
    /// Maximum directives on one field.
    pub max_directives: usize,
    /// Deepest bracket nesting (`{ [ (`) of a document, checked before parsing.
    pub max_nesting: usize,
    /// Most aliased fields in one operation (fragments expanded).
    pub max_aliases: usize,
    /// Most root fields in one operation (fragments expanded).
    pub max_root_fields: usize,
    /// Most root query fields of one caller resolving at once (all requests).
    pub max_parallel_per_caller: usize,
    /// Maximum operations in one JSON batch request (1 = batches refused).
    pub max_batch: usize,
    /// Introspection and "Did you mean" suggestions.
    pub introspection: bool,
    /// Whether `GET /graphql` serves the embedded GraphiQL page (`GRAPHIQL`,
    /// default: dev mode only).
    pub graphiql: bool,
    /// Whether the schema is an Apollo Federation v2 subgraph
    /// (`GRAPHQL_FEDERATION`, default off).
    pub federation: bool,
    /// Whether the main screen's known document is answered from one
    /// statement (`graphql::compiled`; `GRAPHQL_COMPILED_READS`, default on).
    pub compiled_reads: bool,
    /// Largest request body accepted, after decompression.
    pub body_limit: usize,
    /// Longest one operation may run.
    pub execution_timeout: Duration,
    /// Largest body the HRIS account may send (a whole company in one push).
    pub hris_body_limit: usize,
    /// Longest an HRIS account's operation may run.
    pub hris_execution_timeout: Duration,
    /// The trusted documents and their mode (`GRAPHQL_TRUSTED_DOCUMENTS*`).
    pub trusted: std::sync::Arc<crate::graphql::trusted::TrustedDocuments>,
}

impl GraphqlConfig {
    /// The limits every operation's text passes before execution.
    pub fn shape_limits(&self) -> crate::graphql::limits::ShapeLimits {
        crate::graphql::limits::ShapeLimits {
            max_nesting: self.max_nesting,
            max_fields: self.max_complexity,
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
        }
    }
}

/// Where free time is cached and how long a cache call may take.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// `redis://…`; None selects the in-process cache.
    pub redis_url: Option<String>,
    /// Longest any one Redis call may hold a request before the service
    /// answers from the database instead.
    pub redis_timeout: Duration,
    /// How stale a programme metric may be (`METRICS_CACHE_SECS`, at most
    /// 60 s; zero computes every request afresh).
    pub metrics_staleness: Duration,
}

/// The service's absolute URL as its users reach it (`PUBLIC_BASE_URL`):
/// an `http://` or `https://` URL, possibly with a path, never a trailing
/// slash, query or fragment. Links handed out (calendar feeds) start with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    /// The URL, valid by construction.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = raw.trim().trim_end_matches('/');
        let usage = "expected an http:// or https:// URL without query or fragment, e.g. https://tandem.example.com";
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| usage.to_owned())?;
        let host = rest.split('/').next().unwrap_or_default();
        let refused =
            |c: char| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '\\');
        if host.is_empty() || host.starts_with(':') || rest.contains(refused) {
            return Err(usage.to_owned());
        }
        Ok(Self(url.to_owned()))
    }

    /// `http://<addr>`: the default, right for a service reached directly.
    pub fn of_listener(addr: SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }

    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value that must never reach a log: `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Where signed webhooks go.
#[derive(Clone, Debug)]
pub struct WebhookTarget {
    /// `WEBHOOK_URL`.
    pub url: String,
    /// The signing key: the base64-decoded part of `WEBHOOK_SECRET` (`whsec_…`).
    pub key: Secret<Vec<u8>>,
}

/// The notifier's settings (`NOTIFY*`, `SMTP_URL`, `WEBHOOK_*`).
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// Whether `serve` runs the notifier loop (`NOTIFY=off` in a replica
    /// that should not, or when a CronJob runs `tandem notify --once`).
    pub enabled: bool,
    /// Seconds between two passes of the loop.
    pub interval: Duration,
    /// The relay (`smtp://…`, `smtps://…`); None: emails are SUPPRESSED.
    pub smtp_url: Option<Secret<String>>,
    /// The sender (`NOTIFY_FROM`), also the invitations' organiser.
    pub from: lettre::message::Mailbox,
    /// The programme team's mailbox(es) (`NOTIFY_ADMIN_EMAILS`).
    pub admin_emails: Vec<String>,
    /// Signed webhooks; None: webhook rows are SUPPRESSED.
    pub webhook: Option<WebhookTarget>,
    /// Longest an SMTP command or a webhook POST may take.
    pub send_timeout: Duration,
    /// The rules (language, digest wait, attempts).
    pub settings: crate::domain::notifications::NotifySettings,
}

/// Rate limits per caller (`RATE_LIMIT_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per minute of a caller without a role; None: unlimited.
    pub per_minute: Option<u32>,
    /// Per role (`RATE_LIMIT_ROLES`); None: unlimited (the HRIS account
    /// by default).
    pub by_role: Vec<(crate::auth::Role, Option<u32>)>,
}

impl RateLimitConfig {
    /// Whether any caller is limited.
    pub fn enabled(&self) -> bool {
        self.per_minute.is_some() || self.by_role.iter().any(|(_, n)| n.is_some())
    }
}

/// Personal data: the keys notes are sealed with and how long data is kept.
#[derive(Clone, Debug)]
pub struct PrivacyConfig {
    /// `NOTES_ENCRYPTION_KEYS` (`id:base64,…`, checked here); None: the
    /// embedded default's key file, or no sealing (see README).
    pub notes_keys: Option<Secret<String>>,
    /// `RETENTION_NOTES_DAYS`: notes and comments are erased that long
    /// after their pairing ended.
    pub retention_notes_days: i64,
    /// `RETENTION_LEAVERS_DAYS`: a leaver's personal data is erased that
    /// long after termination.
    pub retention_leavers_days: i64,
}

/// Everything the service reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Database pools.
    pub database: DatabaseConfig,
    /// The availability cache.
    pub cache: CacheConfig,
    /// Where the HTTP server listens.
    pub bind_addr: SocketAddr,
    /// Where `/metrics` (Prometheus text) listens (`METRICS_ADDR`); None:
    /// no such endpoint. Never the API's address.
    pub metrics_addr: Option<SocketAddr>,
    /// The service's URL as users reach it (feed links).
    pub public_base_url: PublicBaseUrl,
    /// Token verification.
    pub auth: AuthConfig,
    /// What the business rules obey (matching, HRIS, metrics).
    pub rules: RuleSettings,
    /// Notifications.
    pub notify: NotifyConfig,
    /// Sealed notes and retention.
    pub privacy: PrivacyConfig,
    /// Rate limits.
    pub rate_limit: RateLimitConfig,
    /// How long the service keeps serving, unready, after SIGTERM (so the
    /// load balancer stops routing to it before it stops accepting).
    pub shutdown_drain: Duration,
    /// How long in-flight requests may then take to finish.
    pub shutdown_timeout: Duration,
    /// GraphQL limits.
    pub graphql: GraphqlConfig,
    /// OTLP endpoint; no exporter when unset.
    pub otel_endpoint: Option<String>,
    /// OTLP transport.
    pub otel_protocol: OtlpProtocol,
    /// `service.name` of exported traces.
    pub otel_service_name: String,
    /// `RUST_LOG` filter.
    pub log_filter: String,
    /// What spans are exported (`OTEL_TRACES_LEVEL`, `RUST_LOG` syntax),
    /// independent of the log level: `RUST_LOG=warn` keeps every trace.
    pub traces_filter: String,
    /// Log output format.
    pub log_format: LogFormat,
    /// The CSV exports' field delimiter (`EXPORT_CSV_DELIMITER`: `,` by
    /// default, `;` for spreadsheets set to French and other locales whose
    /// decimal mark is a comma).
    pub export_csv_delimiter: u8,
}

/// Where variables come from: the process environment, or a map in tests.
pub trait Source {
    /// The raw value of `name`, if set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
}

impl Config {
    /// Reads and validates the whole configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    /// Reads and validates the whole configuration from `env`.
    pub fn from_source(env: &dyn Source) -> Result<Self, ConfigError> {
        let dev_mode = parse_or(env, "AUTH_DEV_MODE", false, parse_bool)?;
        let database = DatabaseConfig {
            url: database_url(env, "DATABASE_URL")?
                .unwrap_or_else(|| "sqlite://tandem.db?mode=rwc".to_owned()),
            read_url: database_url(env, "DATABASE_READ_URL")?,
            pool_size: parse_or(env, "DATABASE_POOL_SIZE", 10, |v| in_range(v, 1, 500))?,
            acquire_timeout: seconds_or(env, "DATABASE_ACQUIRE_TIMEOUT_SECS", 5)?,
            statement_timeout: seconds_or(env, "DATABASE_STATEMENT_TIMEOUT_SECS", 15)?,
        };
        let auth = auth_config(env, dev_mode)?;
        let graphql = GraphqlConfig {
            max_depth: parse_or(env, "GRAPHQL_MAX_DEPTH", 12, |v| in_range(v, 2, 64))?,
            max_complexity: parse_or(env, "GRAPHQL_MAX_COMPLEXITY", 2000, |v| {
                in_range(v, 10, 1_000_000)
            })?,
            max_recursive_depth: parse_or(env, "GRAPHQL_MAX_RECURSIVE_DEPTH", 32, |v| {
                in_range(v, 4, 256)
            })?,
            max_directives: parse_or(env, "GRAPHQL_MAX_DIRECTIVES", 5, |v| in_range(v, 0, 50))?,
            max_nesting: parse_or(env, "GRAPHQL_MAX_NESTING", 64, |v| in_range(v, 8, 256))?,
            max_aliases: parse_or(env, "GRAPHQL_MAX_ALIASES", 30, |v| in_range(v, 0, 1000))?,
            max_root_fields: parse_or(env, "GRAPHQL_MAX_ROOT_FIELDS", 30, |v| {
                in_range(v, 1, 1000)
            })?,
            // A quarter of the pool by default (at least one place).
            max_parallel_per_caller: parse_or(
                env,
                "GRAPHQL_MAX_PARALLEL_PER_CALLER",
                database.pool_size.div_ceil(4) as usize,
                |v| in_range(v, 1, 500),
            )?,
            max_batch: parse_or(env, "GRAPHQL_MAX_BATCH", 5, |v| in_range(v, 1, 50))?,
            introspection: parse_or(env, "GRAPHQL_INTROSPECTION", dev_mode, parse_bool)?,
            graphiql: parse_or(env, "GRAPHIQL", dev_mode, parse_bool)?,
            federation: parse_or(env, "GRAPHQL_FEDERATION", false, parse_bool)?,
            compiled_reads: parse_or(env, "GRAPHQL_COMPILED_READS", true, parse_bool)?,
            body_limit: parse_or(env, "GRAPHQL_BODY_LIMIT_BYTES", 1024 * 1024, |v| {
                in_range(v, 1024, 512 * 1024 * 1024)
            })?,
            execution_timeout: seconds_or(env, "GRAPHQL_TIMEOUT_SECS", 30)?,
            hris_body_limit: parse_or(env, "HRIS_BODY_LIMIT_BYTES", 128 * 1024 * 1024, |v| {
                in_range(v, 1024 * 1024, 1024 * 1024 * 1024)
            })?,
            hris_execution_timeout: seconds_or(env, "HRIS_TIMEOUT_SECS", 600)?,
            trusted: std::sync::Arc::new(trusted_documents(env)?),
        };
        let bind_addr = parse_or(
            env,
            "BIND_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            |v| {
                v.parse()
                    .map_err(|_| "expected host:port, e.g. 0.0.0.0:8080".to_owned())
            },
        )?;
        let metrics_addr = parse_or(env, "METRICS_ADDR", None, |v| {
            v.parse()
                .map(Some)
                .map_err(|_| "expected host:port, e.g. 0.0.0.0:9464".to_owned())
        })?;
        if metrics_addr.is_some_and(|addr: SocketAddr| addr == bind_addr && addr.port() != 0) {
            return Err(ConfigError::new(
                "METRICS_ADDR",
                "must differ from BIND_ADDR: /metrics is never served with the API".to_owned(),
            ));
        }
        Ok(Self {
            metrics_addr,
            database,
            cache: CacheConfig {
                redis_url: redis_url(env)?,
                redis_timeout: parse_or(env, "REDIS_TIMEOUT_MS", 100, |v| in_range(v, 5, 5000))
                    .map(Duration::from_millis)?,
                metrics_staleness: parse_or(env, "METRICS_CACHE_SECS", 60, |v| in_range(v, 0, 60))
                    .map(Duration::from_secs)?,
            },
            bind_addr,
            public_base_url: parse_or(
                env,
                "PUBLIC_BASE_URL",
                PublicBaseUrl::of_listener(bind_addr),
                PublicBaseUrl::parse,
            )?,
            auth,
            shutdown_drain: parse_or(env, "SHUTDOWN_DRAIN_SECS", 5, |v| in_range(v, 0, 300))
                .map(Duration::from_secs)?,
            shutdown_timeout: seconds_or(env, "SHUTDOWN_TIMEOUT_SECS", 30)?,
            rules: rule_settings(env)?,
            notify: notify_config(env)?,
            privacy: privacy_config(env)?,
            rate_limit: rate_limit_config(env)?,
            graphql,
            otel_endpoint: url_value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", OTLP_SCHEMES)?
                .or(url_value(env, "OTEL_EXPORTER_OTLP_ENDPOINT", OTLP_SCHEMES)?),
            otel_protocol: otlp_protocol(env)?,
            otel_service_name: otel_service_name(env),
            log_filter: env.get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            traces_filter: parse_or(env, "OTEL_TRACES_LEVEL", "info".to_owned(), |v| {
                tracing_subscriber::EnvFilter::builder()
                    .parse(v)
                    .map(|_| v.to_owned())
                    .map_err(|_| {
                        "expected a level or RUST_LOG-style directives, e.g. info".to_owned()
                    })
            })?,
            log_format: parse_or(env, "LOG_FORMAT", LogFormat::Pretty, |v| match v {
                "json" => Ok(LogFormat::Json),
                "pretty" | "text" => Ok(LogFormat::Pretty),
                _ => Err("expected json or pretty".to_owned()),
            })?,
            export_csv_delimiter: parse_or(env, "EXPORT_CSV_DELIMITER", b',', |v| match v {
                "," => Ok(b','),
                ";" => Ok(b';'),
                _ => Err("expected , or ;".to_owned()),
            })?,
        })
    }
}

fn auth_config(env: &dyn Source, dev_mode: bool) -> Result<AuthConfig, ConfigError> {
    let jwks_url = url_value(env, "AUTH_JWKS_URL", &["http", "https"])?;
    let jwks_file = env.get("AUTH_JWKS_FILE").map(std::path::PathBuf::from);
    if jwks_url.is_some() && jwks_file.is_some() {
        return Err(ConfigError::new(
            "AUTH_JWKS_FILE",
            "set AUTH_JWKS_URL or AUTH_JWKS_FILE, not both",
        ));
    }
    let sso = jwks_url.is_some() || jwks_file.is_some();
    let issuer = env.get("AUTH_ISSUER");
    let audiences = comma_list(env, "AUTH_AUDIENCE");
    if sso && dev_mode {
        return Err(ConfigError::new(
            "AUTH_DEV_MODE",
            "dev mode signs its own tokens and cannot be combined with AUTH_JWKS_URL or AUTH_JWKS_FILE",
        ));
    }
    if sso && issuer.is_none() {
        return Err(ConfigError::new(
            "AUTH_ISSUER",
            "required when AUTH_JWKS_URL or AUTH_JWKS_FILE is set",
        ));
    }
    if sso && audiences.is_empty() {
        return Err(ConfigError::new(
            "AUTH_AUDIENCE",
            "required when AUTH_JWKS_URL or AUTH_JWKS_FILE is set",
        ));
    }
    let leeway = Duration::from_secs(parse_or(env, "AUTH_LEEWAY_SECS", 60, |v| {
        in_range(v, 0, 300)
    })?);
    let jwks_refresh = seconds_or(env, "AUTH_JWKS_REFRESH_SECS", 3600)?;
    let jwks_cooldown = seconds_or(env, "AUTH_JWKS_COOLDOWN_SECS", 30)?;
    let identity_claim = env
        .get("AUTH_IDENTITY_CLAIM")
        .unwrap_or_else(|| "email".to_owned());
    let claim_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.');
    if !identity_claim.chars().all(claim_name) {
        return Err(ConfigError::new(
            "AUTH_IDENTITY_CLAIM",
            "expected a claim name: email, oid, employee_id …",
        ));
    }
    let service_subjects = comma_list(env, "AUTH_SERVICE_SUBJECTS")
        .into_iter()
        .collect();
    let mut token_types: Vec<String> = comma_list(env, "AUTH_TOKEN_TYPES")
        .iter()
        .map(|t| normalized_token_type(t))
        .collect();
    if token_types.is_empty() {
        token_types = ["jwt", "at+jwt", "none"].map(str::to_owned).to_vec();
    }
    let roles_claim = env
        .get("AUTH_ROLES_CLAIM")
        .unwrap_or_else(|| "roles".to_owned());
    if roles_claim.split('.').any(str::is_empty) {
        return Err(ConfigError::new(
            "AUTH_ROLES_CLAIM",
            "expected a dotted path such as realm_access.roles",
        ));
    }
    let role_map = match env.get("AUTH_ROLE_MAP") {
        Some(raw) => {
            parse_role_map(&raw).map_err(|reason| ConfigError::new("AUTH_ROLE_MAP", reason))?
        }
        None => HashMap::new(),
    };
    Ok(AuthConfig {
        jwks_url,
        jwks_file,
        issuer,
        audiences,
        leeway,
        jwks_refresh,
        jwks_cooldown,
        identity_claim,
        service_subjects,
        token_types,
        roles_claim,
        role_map,
        dev_mode,
    })
}

/// The trimmed, non-empty items of a comma-separated setting (none when unset).
fn comma_list(env: &dyn Source, name: &str) -> Vec<String> {
    env.get(name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A JOSE `typ` as compared: lower case, without the `application/` prefix
/// (RFC 7515 §4.1.9 allows both spellings).
pub fn normalized_token_type(typ: &str) -> String {
    let lower = typ.trim().to_ascii_lowercase();
    lower
        .strip_prefix("application/")
        .map_or(lower.clone(), str::to_owned)
}

/// The Tandem roles a token can carry (after `AUTH_ROLE_MAP`).
pub const TANDEM_ROLES: &[&str] = &["admin", "analyst", "hris"];

/// Parses `admin=HR.Admin|HR.Owner,analyst=HR.Analytics`.
fn parse_role_map(raw: &str) -> Result<HashMap<String, Vec<String>>, String> {
    let mut map = HashMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (role, provider) = pair
            .split_once('=')
            .ok_or_else(|| format!("expected role=ProviderRole pairs, got `{pair}`"))?;
        let role = role.trim();
        if !TANDEM_ROLES.contains(&role) {
            return Err(format!(
                "unknown role `{role}` (expected one of {})",
                TANDEM_ROLES.join(", ")
            ));
        }
        let names: Vec<String> = provider
            .split('|')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            return Err(format!("role `{role}` maps to no provider role"));
        }
        map.entry(role.to_owned())
            .or_insert_with(Vec::new)
            .extend(names);
    }
    Ok(map)
}

fn parse_or<T>(
    env: &dyn Source,
    name: &'static str,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match env.get(name) {
        Some(raw) => parse(raw.trim()).map_err(|reason| ConfigError::new(name, reason)),
        None => Ok(default),
    }
}

fn seconds_or(env: &dyn Source, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    parse_or(env, name, default, |v| in_range(v, 1, 3600)).map(Duration::from_secs)
}

/// Rate limits; see README "Rate limits". `0` means unlimited.
fn rate_limit_config(env: &dyn Source) -> Result<RateLimitConfig, ConfigError> {
    let limit = |n: u32| (n > 0).then_some(n);
    let per_minute = parse_or(env, "RATE_LIMIT_PER_MINUTE", 600, |v| {
        in_range(v, 0, 60_000)
    })?;
    let roles = env
        .get("RATE_LIMIT_ROLES")
        .unwrap_or_else(|| "hris=0".to_owned());
    let mut by_role = Vec::new();
    for entry in roles.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('=').and_then(|(name, n)| {
            let role = crate::auth::Role::from_name(name.trim())?;
            let n: u32 = n.trim().parse().ok().filter(|n| *n <= 60_000)?;
            Some((role, limit(n)))
        });
        by_role.push(parsed.ok_or_else(|| {
            ConfigError::new(
                "RATE_LIMIT_ROLES",
                "expected role=requests per minute, e.g. admin=1200,hris=0 (0: unlimited)",
            )
        })?);
    }
    Ok(RateLimitConfig {
        per_minute: limit(per_minute),
        by_role,
    })
}

/// The trusted documents' manifest and mode; see README "Trusted documents".
fn trusted_documents(
    env: &dyn Source,
) -> Result<crate::graphql::trusted::TrustedDocuments, ConfigError> {
    use crate::graphql::trusted::{Mode, TrustedDocuments};
    let mode = parse_or(env, "GRAPHQL_TRUSTED_DOCUMENTS_MODE", Mode::Off, |v| {
        Mode::parse(v).ok_or_else(|| "expected off, log or enforce".to_owned())
    })?;
    let Some(path) = env.get("GRAPHQL_TRUSTED_DOCUMENTS") else {
        if mode != Mode::Off {
            return Err(ConfigError::new(
                "GRAPHQL_TRUSTED_DOCUMENTS",
                "required when GRAPHQL_TRUSTED_DOCUMENTS_MODE is log or enforce",
            ));
        }
        return Ok(TrustedDocuments::default());
    };
    let json = std::fs::read_to_string(path.trim()).map_err(|_| {
        ConfigError::new(
            "GRAPHQL_TRUSTED_DOCUMENTS",
            "the manifest file cannot be read",
        )
    })?;
    let trusted = TrustedDocuments::from_manifest(mode, &json)
        .map_err(|reason| ConfigError::new("GRAPHQL_TRUSTED_DOCUMENTS", reason))?;
    if trusted.is_empty() && mode != Mode::Off {
        return Err(ConfigError::new(
            "GRAPHQL_TRUSTED_DOCUMENTS",
            "the manifest holds no document",
        ));
    }
    Ok(trusted)
}

/// Sealed notes and retention; see README "Personal data".
fn privacy_config(env: &dyn Source) -> Result<PrivacyConfig, ConfigError> {
    let notes_keys = match env.get("NOTES_ENCRYPTION_KEYS") {
        Some(spec) => {
            crate::domain::seal::Keyring::parse(&spec)
                .map_err(|reason| ConfigError::new("NOTES_ENCRYPTION_KEYS", reason))?;
            Some(Secret(spec))
        }
        None => None,
    };
    Ok(PrivacyConfig {
        notes_keys,
        retention_notes_days: parse_or(env, "RETENTION_NOTES_DAYS", 365, |v| {
            in_range(v, 1, 36_500)
        })?,
        retention_leavers_days: parse_or(env, "RETENTION_LEAVERS_DAYS", 730, |v| {
            in_range(v, 1, 36_500)
        })?,
    })
}

/// The notifier's settings; see README "Notifications".
fn notify_config(env: &dyn Source) -> Result<NotifyConfig, ConfigError> {
    use crate::domain::notifications::{Language, NotifySettings};
    let defaults = NotifySettings::default();
    let smtp_url = match env.get("SMTP_URL") {
        Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => Some(Secret(url)),
        Some(_) => {
            return Err(ConfigError::new(
                "SMTP_URL",
                "expected smtp://host:port or smtps://user:password@host:465",
            ));
        }
        None => None,
    };
    let from = parse_or(
        env,
        "NOTIFY_FROM",
        lettre::message::Mailbox::new(
            Some("Tandem".to_owned()),
            lettre::Address::new("tandem", "localhost")
                .map_err(|_| ConfigError::new("NOTIFY_FROM", "no default sender"))?,
        ),
        |v| {
            v.parse()
                .map_err(|_| "expected an address, e.g. Tandem <tandem@example.com>".to_owned())
        },
    )?;
    let admin_emails = comma_list(env, "NOTIFY_ADMIN_EMAILS");
    if admin_emails
        .iter()
        .any(|a| a.parse::<lettre::Address>().is_err())
    {
        return Err(ConfigError::new(
            "NOTIFY_ADMIN_EMAILS",
            "expected comma-separated addresses, e.g. mentoring@example.com",
        ));
    }
    let webhook_url = url_value(env, "WEBHOOK_URL", &["http", "https"])?;
    let webhook = match (webhook_url, env.get("WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => {
            let key = crate::notify::webhook::key_of(&secret).ok_or_else(|| {
                ConfigError::new(
                    "WEBHOOK_SECRET",
                    "expected whsec_ followed by 16 to 128 bytes in base64 (Standard Webhooks)",
                )
            })?;
            Some(WebhookTarget {
                url,
                key: Secret(key),
            })
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "WEBHOOK_SECRET",
                "required when WEBHOOK_URL is set: webhooks are always signed",
            ));
        }
        (None, _) => None,
    };
    Ok(NotifyConfig {
        enabled: parse_or(env, "NOTIFY", true, |v| match v {
            "on" | "true" => Ok(true),
            "off" | "false" => Ok(false),
            _ => Err("expected on or off".to_owned()),
        })?,
        interval: seconds_or(env, "NOTIFY_INTERVAL_SECS", 60)?,
        smtp_url,
        from,
        admin_emails,
        webhook,
        send_timeout: parse_or(env, "NOTIFY_SEND_TIMEOUT_SECS", 10, |v| in_range(v, 1, 60))
            .map(Duration::from_secs)?,
        settings: NotifySettings {
            default_language: parse_or(
                env,
                "NOTIFY_DEFAULT_LANGUAGE",
                defaults.default_language,
                |v| Language::parse(v).ok_or_else(|| "expected fr or en".to_owned()),
            )?,
            enrolment_wait_days: parse_or(
                env,
                "NOTIFY_ENROLMENT_WAIT_DAYS",
                defaults.enrolment_wait_days,
                |v| in_range(v, 1, 90),
            )?,
            max_attempts: parse_or(env, "NOTIFY_MAX_ATTEMPTS", defaults.max_attempts, |v| {
                in_range(v, 1, 50)
            })?,
        },
    })
}

/// The business rules' settings; unset variables keep [`RuleSettings`]'s defaults.
fn rule_settings(env: &dyn Source) -> Result<RuleSettings, ConfigError> {
    let defaults = RuleSettings::default();
    Ok(RuleSettings {
        pairing: PairingRules {
            excluded_chain_depth: parse_or(
                env,
                "MATCH_EXCLUDED_CHAIN_DEPTH",
                defaults.pairing.excluded_chain_depth,
                |v| in_range(v, 0, 20),
            )?,
        },
        match_weights: parse_or(env, "MATCH_WEIGHTS", defaults.match_weights, parse_weights)?,
        hris_max_deactivation_ratio: parse_or(
            env,
            "HRIS_MAX_DEACTIVATION_RATIO",
            defaults.hris_max_deactivation_ratio,
            parse_ratio,
        )?,
        min_group_size: parse_or(env, "MIN_GROUP_SIZE", defaults.min_group_size, |v| {
            in_range(v, 2, 1000)
        })?,
    })
}

/// `skills=0.4,availability=0.2,department=0.15,timezone=0.15,generation=0.1`;
/// names left out keep their default, and at least one weight is positive.
fn parse_weights(raw: &str) -> Result<Weights, String> {
    let mut weights = Weights::default();
    let usage = "expected name=weight pairs, e.g. skills=0.4,availability=0.2,department=0.15,timezone=0.15,generation=0.1";
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').ok_or_else(|| usage.to_owned())?;
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("weight of {} must be a number ≥ 0", name.trim()))?;
        match name.trim() {
            "skills" => weights.skills = value,
            "availability" => weights.availability = value,
            "department" => weights.department = value,
            "timezone" => weights.timezone = value,
            "generation" => weights.generation = value,
            other => return Err(format!("unknown weight `{other}`; {usage}")),
        }
    }
    let total = weights.skills
        + weights.availability
        + weights.department
        + weights.timezone
        + weights.generation;
    if total <= 0.0 {
        return Err("at least one weight must be positive".to_owned());
    }
    Ok(weights)
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_ratio(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("expected a number between 0 and 1".to_owned()),
    }
}

fn in_range<T>(raw: &str, low: T, high: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match raw.parse::<T>() {
        Ok(v) if v >= low && v <= high => Ok(v),
        _ => Err(format!("expected a whole number from {low} to {high}")),
    }
}

fn database_url(env: &dyn Source, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(url) = env.get(name) else {
        return Ok(None);
    };
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(Some(url))
    } else {
        Err(ConfigError::new(
            name,
            "expected a sqlite:… or postgres://… URL",
        ))
    }
}

fn redis_url(env: &dyn Source) -> Result<Option<String>, ConfigError> {
    let Some(url) = env.get("REDIS_URL") else {
        return Ok(None);
    };
    redis::parse_redis_url(&url)
        .map(|_| Some(url))
        .ok_or_else(|| ConfigError::new("REDIS_URL", "expected a redis://… URL"))
}

const OTLP_SCHEMES: &[&str] = &["http", "https"];

/// `OTEL_SERVICE_NAME`, else a `service.name` in `OTEL_RESOURCE_ATTRIBUTES`
/// (the specification's order), else `tandem`.
fn otel_service_name(env: &dyn Source) -> String {
    env.get("OTEL_SERVICE_NAME")
        .or_else(|| {
            env.get("OTEL_RESOURCE_ATTRIBUTES")?
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.trim() == "service.name")
                .map(|(_, value)| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        })
        .unwrap_or_else(|| "tandem".to_owned())
}

/// The traces-specific variable wins over the general one, as the OpenTelemetry
/// specification says. `http/json` is refused rather than silently replaced.
fn otlp_protocol(env: &dyn Source) -> Result<OtlpProtocol, ConfigError> {
    let name = if env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    } else {
        "OTEL_EXPORTER_OTLP_PROTOCOL"
    };
    parse_or(env, name, OtlpProtocol::HttpProtobuf, |v| {
        match v.to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "grpc" => Ok(OtlpProtocol::Grpc),
            _ => Err("expected grpc or http/protobuf".to_owned()),
        }
    })
}

fn url_value(
    env: &dyn Source,
    name: &'static str,
    schemes: &[&str],
) -> Result<Option<String>, ConfigError> {
    let Some(url) = env.get(name) else {
        return Ok(None);
    };
    let scheme_ok = schemes.iter().any(|s| url.starts_with(&format!("{s}://")));
    if scheme_ok && url.len() > "https://".len() {
        Ok(Some(url))
    } else {
        Err(ConfigError::new(
            name,
            format!("expected a {} URL", schemes.join(" or ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_design_table() {
        let config = Config::from_source(&env(&[])).unwrap();
        assert_eq!(config.database.url, "sqlite://tandem.db?mode=rwc");
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.rules, RuleSettings::default());
        assert_eq!(config.graphql.max_depth, 12);
        assert_eq!(config.graphql.max_complexity, 2000);
        assert!(!config.graphql.introspection);
        assert!(!config.auth.dev_mode);
        assert_eq!(config.auth.identity_claim, "email");
        assert_eq!(config.otel_service_name, "tandem");
        assert_eq!(config.otel_protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(config.otel_endpoint, None);
    }

    #[test]
    fn the_public_base_url_defaults_to_the_listener_and_loses_its_trailing_slash() {
        let default = Config::from_source(&env(&[("BIND_ADDR", "127.0.0.1:9000")])).unwrap();
        assert_eq!(default.public_base_url.as_str(), "http://127.0.0.1:9000");
        let set = Config::from_source(&env(&[(
            "PUBLIC_BASE_URL",
            "https://intranet.example.com/tandem/",
        )]))
        .unwrap();
        assert_eq!(
            set.public_base_url.as_str(),
            "https://intranet.example.com/tandem"
        );
    }

    #[test]
    fn the_traces_specific_otlp_settings_win() {
        let config = Config::from_source(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]))
        .unwrap();
        assert_eq!(config.otel_endpoint.as_deref(), Some("http://traces:4317"));
        assert_eq!(config.otel_protocol, OtlpProtocol::Grpc);
        let general =
            Config::from_source(&env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC")])).unwrap();
        assert_eq!(general.otel_protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn the_service_name_can_come_from_the_resource_attributes() {
        let attributes = (
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=hr, service.name=tandem-eu",
        );
        let config = Config::from_source(&env(&[attributes])).unwrap();
        assert_eq!(config.otel_service_name, "tandem-eu");
        let named =
            Config::from_source(&env(&[attributes, ("OTEL_SERVICE_NAME", "tandem-us")])).unwrap();
        assert_eq!(named.otel_service_name, "tandem-us");
    }

    #[test]
    fn introspection_follows_dev_mode_unless_set() {
        let dev = Config::from_source(&env(&[("AUTH_DEV_MODE", "true")])).unwrap();
        assert!(dev.graphql.introspection);
        let off = Config::from_source(&env(&[
            ("AUTH_DEV_MODE", "true"),
            ("GRAPHQL_INTROSPECTION", "false"),
        ]))
        .unwrap();
        assert!(!off.graphql.introspection);
    }

    #[test]
    fn the_export_delimiter_is_a_comma_or_a_semicolon() {
        assert_eq!(
            Config::from_source(&env(&[])).unwrap().export_csv_delimiter,
            b','
        );
        let french = Config::from_source(&env(&[("EXPORT_CSV_DELIMITER", ";")])).unwrap();
        assert_eq!(french.export_csv_delimiter, b';');
        let tab = Config::from_source(&env(&[("EXPORT_CSV_DELIMITER", "|")]));
        assert_eq!(tab.unwrap_err().variable, "EXPORT_CSV_DELIMITER");
    }

    #[test]
    fn metrics_have_their_own_address_or_none() {
        assert_eq!(Config::from_source(&env(&[])).unwrap().metrics_addr, None);
        let on = Config::from_source(&env(&[("METRICS_ADDR", "0.0.0.0:9464")])).unwrap();
        assert_eq!(on.metrics_addr.map(|a| a.port()), Some(9464));
        let same = Config::from_source(&env(&[
            ("BIND_ADDR", "0.0.0.0:8080"),
            ("METRICS_ADDR", "0.0.0.0:8080"),
        ]));
        assert_eq!(same.unwrap_err().variable, "METRICS_ADDR");
        let bad = Config::from_source(&env(&[("METRICS_ADDR", "9464")]));
        assert_eq!(bad.unwrap_err().variable, "METRICS_ADDR");
    }

    #[test]
    fn graphiql_follows_dev_mode_unless_set() {
        assert!(!Config::from_source(&env(&[])).unwrap().graphql.graphiql);
        let dev = Config::from_source(&env(&[("AUTH_DEV_MODE", "true")])).unwrap();
        assert!(dev.graphql.graphiql);
        let on = Config::from_source(&env(&[("GRAPHIQL", "true")])).unwrap();
        assert!(on.graphql.graphiql);
        let off = Config::from_source(&env(&[("AUTH_DEV_MODE", "true"), ("GRAPHIQL", "no")]));
        assert!(!off.unwrap().graphql.graphiql);
    }

    #[test]
    fn match_weights_override_only_the_terms_named() {
        let config =
            Config::from_source(&env(&[("MATCH_WEIGHTS", "skills=0.7, timezone=0")])).unwrap();
        let weights = config.rules.match_weights;
        assert_eq!(
            (weights.skills, weights.timezone, weights.availability),
            (0.7, 0.0, 0.2)
        );
    }

    #[test]
    fn an_empty_manifest_cannot_be_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, "{}").unwrap();
        let path = path.display().to_string();
        let refused = Config::from_source(&env(&[
            ("GRAPHQL_TRUSTED_DOCUMENTS", &path),
            ("GRAPHQL_TRUSTED_DOCUMENTS_MODE", "enforce"),
        ]))
        .unwrap_err();
        assert_eq!(refused.variable, "GRAPHQL_TRUSTED_DOCUMENTS");
        assert!(Config::from_source(&env(&[("GRAPHQL_TRUSTED_DOCUMENTS", &path)])).is_ok());
    }

    #[test]
    fn enforcing_trusted_documents_needs_a_manifest() {
        let refused = Config::from_source(&env(&[("GRAPHQL_TRUSTED_DOCUMENTS_MODE", "enforce")]))
            .unwrap_err();
        assert_eq!(refused.variable, "GRAPHQL_TRUSTED_DOCUMENTS");
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        let cases = [
            ("MIN_GROUP_SIZE", "zero"),
            ("GRAPHQL_TRUSTED_DOCUMENTS_MODE", "sometimes"),
            ("RATE_LIMIT_PER_MINUTE", "many"),
            ("RATE_LIMIT_ROLES", "root=10"),
            ("GRAPHQL_TRUSTED_DOCUMENTS", "/nonexistent/manifest.json"),
            ("NOTES_ENCRYPTION_KEYS", "k1:short"),
            ("RETENTION_NOTES_DAYS", "0"),
            ("BIND_ADDR", "localhost"),
            ("HRIS_MAX_DEACTIVATION_RATIO", "1.5"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("AUTH_DEV_MODE", "maybe"),
            ("AUTH_ROLE_MAP", "root=Admins"),
            ("LOG_FORMAT", "xml"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317"),
            ("PUBLIC_BASE_URL", "tandem.example.com"),
            ("PUBLIC_BASE_URL", "ftp://tandem.example.com"),
            ("PUBLIC_BASE_URL", "https://"),
            ("PUBLIC_BASE_URL", "https://tandem.example.com/?x=1"),
            ("PUBLIC_BASE_URL", "https://tandem example.com"),
            ("REDIS_TIMEOUT_MS", "0"),
            ("METRICS_CACHE_SECS", "61"),
            ("METRICS_CACHE_SECS", "-1"),
            ("HRIS_BODY_LIMIT_BYTES", "10"),
            ("MATCH_WEIGHTS", "skills=-1"),
            ("MATCH_WEIGHTS", "charisma=0.5"),
            (
                "MATCH_WEIGHTS",
                "skills=0,availability=0,department=0,timezone=0,generation=0",
            ),
        ];
        for (variable, value) in cases {
            let err = Config::from_source(&env(&[(variable, value)])).unwrap_err();
            assert_eq!(err.variable, variable, "{value}");
        }
    }

    #[test]
    fn sso_needs_issuer_and_audience_and_excludes_dev_mode() {
        let missing =
            Config::from_source(&env(&[("AUTH_JWKS_URL", "https://idp/keys")])).unwrap_err();
        assert_eq!(missing.variable, "AUTH_ISSUER");
        let both = Config::from_source(&env(&[
            ("AUTH_JWKS_URL", "https://idp/keys"),
            ("AUTH_ISSUER", "https://idp"),
            ("AUTH_AUDIENCE", "tandem"),
            ("AUTH_DEV_MODE", "true"),
        ]))
        .unwrap_err();
        assert_eq!(both.variable, "AUTH_DEV_MODE");
    }

    #[test]
    fn a_jwks_file_is_sso_too() {
        let file = [("AUTH_JWKS_FILE", "/etc/tandem/jwks.json")];
        assert_eq!(
            Config::from_source(&env(&file)).unwrap_err().variable,
            "AUTH_ISSUER"
        );
        let with_dev = [
            ("AUTH_JWKS_FILE", "/etc/tandem/jwks.json"),
            ("AUTH_ISSUER", "https://idp"),
            ("AUTH_AUDIENCE", "tandem, tandem-api"),
            ("AUTH_DEV_MODE", "true"),
        ];
        assert_eq!(
            Config::from_source(&env(&with_dev)).unwrap_err().variable,
            "AUTH_DEV_MODE"
        );
        let ok = Config::from_source(&env(&with_dev[..3])).unwrap();
        assert_eq!(ok.auth.audiences, ["tandem", "tandem-api"]);
        assert_eq!(ok.auth.leeway.as_secs(), 60);
    }

    #[test]
    fn role_map_accepts_several_provider_roles() {
        let config = Config::from_source(&env(&[(
            "AUTH_ROLE_MAP",
            "admin=HR.Mentoring.Admin|HR.Owner, analyst=HR.Analytics",
        )]))
        .unwrap();
        assert_eq!(
            config.auth.role_map["admin"],
            vec!["HR.Mentoring.Admin", "HR.Owner"]
        );
        assert_eq!(config.auth.role_map["analyst"], vec!["HR.Analytics"]);
    }
}
