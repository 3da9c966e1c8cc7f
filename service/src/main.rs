//! The `tandem` command line: serve, migrate, seed-demo, notify, export-schema, dev-token.

// The layout of async-graphql's field futures nests past the default 128
// levels when a release build inlines the server's start-up into `main`.
#![recursion_limit = "256"]

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use tandem::auth::dev::{self, DevKey, DevTokenRequest};
use tandem::config::Config;
use tandem::domain::seed::{self, SeedOptions};
use tandem::domain::{retention, sealed_notes};
use tandem::error::AppError;
use tandem::notify::Notifier;
use tandem::startup::{self, Application};

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "Reverse-mentoring programme service (GraphQL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve GraphQL (the default).
    Serve {
        /// Seed the demo company first when the database holds no employee.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Fill an empty database with a deterministic synthetic company.
    SeedDemo {
        /// Number of employees.
        #[arg(long, default_value_t = 200)]
        employees: usize,
        /// Random seed: the same seed gives the same company.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Day the calendars are placed around (default: today, UTC).
        #[arg(long)]
        anchor: Option<NaiveDate>,
    },
    /// Run the notifier: raise what is due and deliver it (a loop, or one
    /// pass with --once, e.g. from a Kubernetes CronJob).
    Notify {
        /// Run exactly one pass, then exit.
        #[arg(long)]
        once: bool,
        /// The pass's clock (RFC 3339), instead of the current time; needs --once.
        #[arg(long, requires = "once")]
        now: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
    /// Apply retention: erase notes and comments of pairings ended longer
    /// than RETENTION_NOTES_DAYS ago and leavers gone longer than
    /// RETENTION_LEAVERS_DAYS (a loop every hour, or one pass with --once).
    Retention {
        /// Run exactly one pass, then exit.
        #[arg(long)]
        once: bool,
        /// The instant the limits are measured from (RFC 3339); needs --once.
        #[arg(long, requires = "once")]
        now: Option<chrono::DateTime<chrono::FixedOffset>>,
    },
    /// Re-seal every private note and feedback comment under the first key
    /// of NOTES_ENCRYPTION_KEYS, in batches, while the service runs.
    RotateNotesKey {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
    },
    /// Print the GraphQL schema (SDL).
    ExportSchema,
    /// Exit 0 when the local server answers /healthz (the image's HEALTHCHECK).
    Healthcheck,
    /// Print a dev-mode token (needs AUTH_DEV_MODE=true).
    DevToken {
        /// Employee email the token names; omit for a service account.
        #[arg(long)]
        email: Option<String>,
        /// Role to carry: admin, analyst or hris (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ExportSchema) = cli.command {
        print!("{}", tandem::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tandem: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Healthcheck) = cli.command {
        // Before the runtime and telemetry: it runs every few seconds.
        return healthcheck(&config);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tandem: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: the OTLP/gRPC exporter's connection is a Tokio task.
    let telemetry = {
        let _inside = runtime.enter();
        tandem::telemetry::init(&config)
    };
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    let code = match runtime.block_on(run(command, config)) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = ?err, "tandem stopped");
            eprintln!("tandem: {err:#}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { demo } => {
            if demo {
                seed_if_empty(&config).await?;
            }
            let app = Application::build(config.clone()).await?;
            tracing::info!(addr = %config.bind_addr, dev_mode = config.auth.dev_mode, "tandem listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            tracing::info!("migrations applied");
        }
        Command::SeedDemo {
            employees,
            seed,
            anchor,
        } => {
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            let options = SeedOptions {
                employees,
                seed,
                anchor: anchor.unwrap_or_else(|| Utc::now().date_naive()),
            };
            let summary = seed::seed_demo(&db, &options).await.map_err(describe)?;
            println!("{summary:?}");
        }
        Command::DevToken {
            email,
            roles,
            ttl_hours,
        } => {
            if !config.auth.dev_mode {
                eprintln!(
                    "tandem: invalid configuration: AUTH_DEV_MODE: dev-token needs AUTH_DEV_MODE=true"
                );
                return Ok(ExitCode::from(2));
            }
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            let key = DevKey::load_or_create(&db).await?;
            let request = DevTokenRequest {
                email,
                roles,
                ttl_secs: ttl_hours.max(1) * 3600,
            };
            println!("{}", dev::issue(&key, &request)?);
        }
        Command::Notify { once, now } => {
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            let notifier = Notifier::new(db, &config.notify, &config.public_base_url)?;
            if !once {
                tracing::info!(interval = ?config.notify.interval, "notifier running");
                notifier.run(config.notify.interval).await;
                return Ok(ExitCode::SUCCESS);
            }
            let now = now.map_or_else(Utc::now, |at| at.with_timezone(&Utc));
            let report = notifier.pass(now).await.map_err(describe)?;
            tracing::info!(?report, %now, "notifier pass");
            println!(
                "raised {} reminders, {} feedback requests, {} nudges, {} digests; sent {}, suppressed {}, retrying {}, failed {}",
                report.raised.reminders,
                report.raised.feedback_requests,
                report.raised.nudges,
                report.raised.digests,
                report.sent,
                report.suppressed,
                report.retrying,
                report.failed
            );
        }
        Command::Retention { once, now } => {
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            let settings = startup::retention_settings(&config);
            if !once {
                startup::retention_loop(db, settings).await;
                return Ok(ExitCode::SUCCESS);
            }
            let as_of = now.map_or_else(Utc::now, |at| at.with_timezone(&Utc));
            let run = retention::run(&db, settings, as_of)
                .await
                .map_err(describe)?;
            println!(
                "retention as of {}: erased {} notes, {} comments, {} leavers",
                run.as_of.to_rfc3339(),
                run.notes_erased,
                run.comments_erased,
                run.people_erased
            );
        }
        Command::RotateNotesKey { batch } => {
            if config.privacy.notes_keys.is_none() {
                eprintln!(
                    "tandem: invalid configuration: NOTES_ENCRYPTION_KEYS: rotate-notes-key needs the keys (the new one first)"
                );
                return Ok(ExitCode::from(2));
            }
            let db = startup::connect(&config.database).await?;
            startup::migrate(&db).await?;
            let keyring = startup::notes_keyring(&config, &db).await?;
            let done = sealed_notes::rotate(&db, &keyring, batch.clamp(1, 10_000))
                .await
                .map_err(describe)?;
            println!(
                "re-sealed {} notes and {} comments under `{}`; {} could not be opened",
                done.notes,
                done.comments,
                keyring.current_id().unwrap_or_default(),
                done.unreadable
            );
            if done.unreadable > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::ExportSchema => print!("{}", tandem::graphql::sdl()),
        Command::Healthcheck => return Ok(healthcheck(&config)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when the server on `BIND_ADDR` is alive, 1 otherwise.
fn healthcheck(config: &Config) -> ExitCode {
    if tandem::probe::healthz(config.bind_addr, std::time::Duration::from_secs(3)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Seeds the demo company unless employees exist already.
async fn seed_if_empty(config: &Config) -> anyhow::Result<()> {
    let db = startup::connect(&config.database).await?;
    startup::migrate(&db).await?;
    let options = SeedOptions {
        employees: 200,
        seed: 42,
        anchor: Utc::now().date_naive(),
    };
    if seed::holds_employees(&db).await.map_err(describe)? {
        tracing::info!("database already holds employees; demo seed skipped");
        return Ok(());
    }
    let summary = seed::seed_demo(&db, &options)
        .await
        .map_err(describe)
        .context("demo seed")?;
    tracing::info!(?summary, "demo company seeded");
    Ok(())
}

fn describe(err: AppError) -> anyhow::Error {
    match err {
        AppError::Internal(cause) => cause,
        other => anyhow::anyhow!("{other}"),
    }
}
