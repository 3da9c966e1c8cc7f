//! The notifier: passes that raise the time-based events and deliver what
//! is due, over SMTP and signed webhooks, off the request path.
//!
//! Every `serve` process runs [`Notifier::run`] (unless `NOTIFY=off`);
//! `tandem notify --once [--now …]` runs one [`Notifier::pass`] and exits,
//! for a Kubernetes CronJob and for tests that drive the clock.

pub mod smtp;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::DeliveryState;
use entity::notification;
use futures_util::StreamExt as _;
use sea_orm::{ActiveEnum as _, DatabaseConnection};
use tracing::Instrument as _;

use crate::config::{NotifyConfig, PublicBaseUrl};
use crate::domain::notifications::NotifySettings;
use crate::domain::notifications::delivery::{self, Batch, Outcome, Plan, Reach};
use crate::domain::notifications::scheduler::{self, Raised};
use crate::error::AppResult;

/// Deliveries under way at once in a pass.
const CONCURRENCY: usize = 16;
/// Rows claimed at a time: four waves of [`CONCURRENCY`], so that a batch
/// whose every attempt runs into its time limit still ends well within the
/// lease ([`delivery::LEASE`]): nothing claimed is sent by two passes.
const BATCH: u64 = (CONCURRENCY * 4) as u64;
/// A pass stops claiming after this long (wall clock); the next pass goes
/// on with the backlog, so a dead relay never holds a pass for hours.
const PASS_BUDGET: Duration = Duration::from_secs(120);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Rows raised by the scheduler.
    pub raised: Raised,
    /// Delivered.
    pub sent: u64,
    /// Nothing to send.
    pub suppressed: u64,
    /// Failed, to be tried again.
    pub retrying: u64,
    /// Failed for the last time.
    pub failed: u64,
}

/// The channels and the rules they obey.
pub struct Notifier {
    db: DatabaseConnection,
    settings: NotifySettings,
    reach: Reach,
    mailer: Option<smtp::Mailer>,
    hook: Option<webhook::Hook>,
    send_limit: Duration,
    /// Where each pass's outcomes are counted (metrics on).
    metrics: Option<std::sync::Arc<crate::instruments::Metrics>>,
}

impl Notifier {
    /// The notifier `config` describes, over `db`.
    pub fn new(
        db: DatabaseConnection,
        config: &NotifyConfig,
        public_base_url: &PublicBaseUrl,
    ) -> anyhow::Result<Self> {
        let mailer = match &config.smtp_url {
            Some(url) => Some(smtp::Mailer::new(
                url.expose(),
                config.from.clone(),
                config.send_timeout,
            )?),
            None => None,
        };
        let hook = match &config.webhook {
            Some(target) => Some(webhook::Hook::new(
                &target.url,
                target.key.expose(),
                config.send_timeout,
            )?),
            None => None,
        };
        Ok(Self {
            reach: Reach {
                sender: mailer.as_ref().map(smtp::Mailer::sender),
                team: config.admin_emails.clone(),
                webhook: hook.is_some(),
                link: public_base_url.as_str().to_owned(),
            },
            db,
            settings: config.settings,
            mailer,
            hook,
            send_limit: config.send_timeout.saturating_mul(2),
            metrics: None,
        })
    }

    /// The notifier, counting its passes into `metrics`.
    pub fn with_metrics(
        mut self,
        metrics: Option<std::sync::Arc<crate::instruments::Metrics>>,
    ) -> Self {
        self.metrics = metrics;
        self
    }

    /// Runs a pass every `interval` until the process ends; a failed pass
    /// is logged and the next one comes at its time.
    pub async fn run(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let pass = self.pass(Utc::now()).await;
            if let (Ok(report), Some(metrics)) = (&pass, &self.metrics) {
                match delivery::waiting(&self.db).await {
                    Ok(waiting) => metrics.notifier_pass(
                        report.sent,
                        report.suppressed,
                        report.retrying,
                        report.failed,
                        waiting,
                    ),
                    Err(error) => tracing::warn!(error = ?error, "counting the queue failed"),
                }
            }
            match pass {
                Ok(report) if report != PassReport::default() => {
                    tracing::info!(?report, "notifier pass");
                }
                Ok(_) => tracing::debug!("notifier pass: nothing due"),
                Err(error) => tracing::warn!(error = ?error, "notifier pass failed"),
            }
        }
    }

    /// One pass at `now`: raise what is due, then deliver what is due. A
    /// failure to raise is logged and delivery goes on (what the requests
    /// wrote is never held back by the scheduler).
    pub async fn pass(&self, now: DateTime<Utc>) -> AppResult<PassReport> {
        let mut report = PassReport::default();
        match scheduler::raise_due(&self.db, &self.settings, now).await {
            Ok(raised) => report.raised = raised,
            Err(error) => tracing::warn!(error = ?error, "raising time-based notifications failed"),
        }
        let started = std::time::Instant::now();
        while started.elapsed() < PASS_BUDGET {
            let rows = delivery::claim(&self.db, now, BATCH).await?;
            if rows.is_empty() {
                break;
            }
            let batch = Batch::load(&self.db, &rows, &self.settings).await?;
            let attempts: Vec<_> = rows
                .iter()
                .map(|row| self.deliver(&batch, row, now))
                .collect();
            let states: Vec<AppResult<DeliveryState>> = futures_util::stream::iter(attempts)
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for state in states {
                match state {
                    Ok(DeliveryState::Sent) => report.sent += 1,
                    Ok(DeliveryState::Suppressed) => report.suppressed += 1,
                    Ok(DeliveryState::Pending) => report.retrying += 1,
                    Ok(DeliveryState::Failed) => report.failed += 1,
                    // The row keeps its lease and is tried again after it.
                    Err(error) => tracing::warn!(error = ?error, "recording a delivery failed"),
                }
            }
        }
        Ok(report)
    }

    /// One attempt at one claimed row, in its own span; a failure is a WARN
    /// naming the notification and the recipient's id, never an address or
    /// the message.
    async fn deliver(
        &self,
        batch: &Batch,
        row: &notification::Model,
        now: DateTime<Utc>,
    ) -> AppResult<DeliveryState> {
        let span = tracing::info_span!(
            "notification.deliver",
            notification.id = %row.id,
            notification.kind = %row.kind.to_value(),
            notification.channel = ?row.channel,
            notification.attempt = row.attempts,
            recipient.id = ?row.recipient_id,
        );
        async {
            let (subject, outcome) = match batch.plan(row, &self.reach, &self.settings, now) {
                Plan::Suppress(why) => (None, Outcome::Suppressed(why)),
                Plan::Email { to, message } => {
                    let sent = match &self.mailer {
                        Some(mailer) => self.within_limit(mailer.send(row.id, &to, &message)).await,
                        None => Err("no SMTP relay is configured".to_owned()),
                    };
                    (Some(message.subject), outcome_of(sent))
                }
                Plan::Webhook { body, subject } => {
                    let sent = match &self.hook {
                        Some(hook) => self.within_limit(hook.post(row.id, &body)).await,
                        None => Err("no webhook endpoint is configured".to_owned()),
                    };
                    (Some(subject), outcome_of(sent))
                }
            };
            if let Outcome::Failed(error) = &outcome {
                tracing::warn!(
                    notification.id = %row.id,
                    recipient.id = ?row.recipient_id,
                    attempt = row.attempts,
                    %error,
                    "notification delivery failed"
                );
            }
            delivery::settle(
                &self.db,
                row,
                subject.as_deref(),
                &outcome,
                &self.settings,
                now,
            )
            .await
        }
        .instrument(span)
        .await
    }
}

impl Notifier {
    /// `attempt`, cut off after twice the send time-out: the transports'
    /// own time-outs bound each step (connect, each SMTP command), this
    /// bounds the whole attempt.
    async fn within_limit(
        &self,
        attempt: impl std::future::Future<Output = Result<(), String>>,
    ) -> Result<(), String> {
        tokio::time::timeout(self.send_limit, attempt)
            .await
            .unwrap_or_else(|_| Err("the attempt took too long".to_owned()))
    }
}

fn outcome_of(sent: Result<(), String>) -> Outcome {
    match sent {
        Ok(()) => Outcome::Sent,
        Err(why) => Outcome::Failed(why),
    }
}
