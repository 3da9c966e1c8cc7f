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
use sea_orm::DatabaseConnection;
use tracing::Instrument as _;

use crate::config::{NotifyConfig, PublicBaseUrl};
use crate::domain::notifications::NotifySettings;
use crate::domain::notifications::delivery::{self, Batch, Outcome, Plan, Reach};
use crate::domain::notifications::outbox::kind_name;
use crate::domain::notifications::scheduler::{self, Raised};
use crate::error::AppResult;

/// Rows claimed at a time.
const BATCH: u64 = 500;
/// Batches per pass at most: a pass ends even while a backlog remains (the
/// next pass goes on with it).
const MAX_BATCHES: usize = 40;
/// Deliveries under way at once in a pass.
const CONCURRENCY: usize = 16;

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
        })
    }

    /// Runs a pass every `interval` until the process ends; a failed pass
    /// is logged and the next one comes at its time.
    pub async fn run(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.pass(Utc::now()).await {
                Ok(report) if report != PassReport::default() => {
                    tracing::info!(?report, "notifier pass");
                }
                Ok(_) => tracing::debug!("notifier pass: nothing due"),
                Err(error) => tracing::warn!(error = ?error, "notifier pass failed"),
            }
        }
    }

    /// One pass at `now`: raise what is due, then deliver what is due.
    pub async fn pass(&self, now: DateTime<Utc>) -> AppResult<PassReport> {
        let mut report = PassReport {
            raised: scheduler::raise_due(&self.db, &self.settings, now).await?,
            ..PassReport::default()
        };
        for _ in 0..MAX_BATCHES {
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
                match state? {
                    DeliveryState::Sent => report.sent += 1,
                    DeliveryState::Suppressed => report.suppressed += 1,
                    DeliveryState::Pending => report.retrying += 1,
                    DeliveryState::Failed => report.failed += 1,
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
            notification.kind = kind_name(row.kind),
            notification.channel = ?row.channel,
            notification.attempt = row.attempts,
            recipient.id = ?row.recipient_id,
        );
        async {
            let (subject, outcome) = match batch.plan(row, &self.reach, &self.settings, now) {
                Plan::Suppress(why) => (None, Outcome::Suppressed(why)),
                Plan::Email { to, message } => {
                    let sent = match &self.mailer {
                        Some(mailer) => mailer.send(row.id, &to, &message).await,
                        None => Err("no SMTP relay is configured".to_owned()),
                    };
                    (Some(message.subject), outcome_of(sent))
                }
                Plan::Webhook { body, subject } => {
                    let sent = match &self.hook {
                        Some(hook) => hook.post(row.id, &body).await,
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

fn outcome_of(sent: Result<(), String>) -> Outcome {
    match sent {
        Ok(()) => Outcome::Sent,
        Err(why) => Outcome::Failed(why),
    }
}
