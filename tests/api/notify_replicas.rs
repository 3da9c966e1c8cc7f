//! Many notifiers on one PostgreSQL: every reminder is delivered exactly
//! once, whether passes run at the same instant in two processes' pools or
//! two `serve` replicas run their own notifier loops.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use entity::enums::{
    DeliveryState, PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus,
};
use entity::notification;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};
use crate::notify_peers::{SmtpSink, WEBHOOK_SECRET, WebhookReceiver};

/// Pairs, each with one session two hours from now: its reminders are due.
const PAIRS: usize = 25;

async fn arrange(app: &TestApp) {
    let programme = insert_programme(&app.db, "Replicas", ProgrammeStatus::Active).await;
    let start = Utc::now() + Duration::hours(2);
    for n in 0..PAIRS {
        let mentor = insert_employee(&app.db, Person::new(&format!("Mentor {n}"), 2)).await;
        let mentee = insert_employee(&app.db, Person::new(&format!("Mentee {n}"), 8)).await;
        insert_approved(&app.db, programme, mentor, ParticipantRole::Mentor, 3, None).await;
        let pairing =
            insert_pairing(&app.db, programme, mentor, &[mentee], PairingStatus::Active).await;
        insert_session(&app.db, pairing, start, SessionStatus::Scheduled, None).await;
    }
}

async fn peers(backend: Backend, extra: &[(&str, &str)]) -> (TestApp, SmtpSink, WebhookReceiver) {
    let sink = SmtpSink::start().await;
    let hook = WebhookReceiver::start().await;
    let (smtp, url) = (sink.url(), hook.url());
    let mut settings = vec![
        ("SMTP_URL", smtp.as_str()),
        ("WEBHOOK_URL", url.as_str()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    settings.extend_from_slice(extra);
    (TestApp::spawn_with(backend, &settings).await, sink, hook)
}

/// Every reminder went out once by mail and once by webhook, nothing else.
async fn assert_each_reminder_once(app: &TestApp, sink: &SmtpSink, hook: &WebhookReceiver) {
    let rows = notification::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(
        rows as usize,
        PAIRS * 4,
        "two people, two channels, per session"
    );
    let sent = notification::Entity::find()
        .filter(notification::Column::State.eq(DeliveryState::Sent))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(sent, rows);
    let mails = sink.mails();
    let ids: HashSet<String> = mails
        .iter()
        .filter_map(|m| {
            m.raw
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(mails.len(), PAIRS * 2, "each person reminded once");
    assert_eq!(ids.len(), PAIRS * 2, "no message sent twice");
    let hooks = hook.deliveries();
    let hook_ids: HashSet<String> = hooks.iter().map(|d| d.id.clone()).collect();
    assert_eq!((hooks.len(), hook_ids.len()), (PAIRS * 2, PAIRS * 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_at_the_same_instant_in_two_pools_deliver_each_reminder_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    for _ in 0..3 {
        let (app, sink, hook) = peers(backend.clone(), &[]).await;
        arrange(&app).await;
        let replicas = [
            tandem::startup::connect(&app.config.database)
                .await
                .unwrap(),
            tandem::startup::connect(&app.config.database)
                .await
                .unwrap(),
        ];
        let notifiers: Vec<tandem::notify::Notifier> = replicas
            .iter()
            .map(|db| {
                tandem::notify::Notifier::new(
                    db.clone(),
                    &app.config.notify,
                    &app.config.public_base_url,
                )
                .unwrap()
            })
            .collect();
        for round in 0..3 {
            let now = Utc::now() + Duration::seconds(round);
            let (a, b) = tokio::join!(notifiers[0].pass(now), notifiers[1].pass(now));
            let (a, b) = (a.unwrap(), b.unwrap());
            if round == 0 {
                assert_eq!(
                    a.raised.reminders + b.raised.reminders,
                    (PAIRS * 4) as u64,
                    "raised once between them: {a:?} {b:?}"
                );
            }
        }
        assert_each_reminder_once(&app, &sink, &hook).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_replicas_with_their_notifier_loops_deliver_each_reminder_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let loop_settings = [("NOTIFY", "on"), ("NOTIFY_INTERVAL_SECS", "1")];
    let (app, sink, hook) = peers(backend, &loop_settings).await;
    arrange(&app).await;
    let mut config = app.config.clone();
    config.bind_addr = "127.0.0.1:0".parse().unwrap();
    let db = tandem::startup::connect(&config.database).await.unwrap();
    let listener = std::net::TcpListener::bind(config.bind_addr).unwrap();
    let replica = tandem::startup::Application::with_listener(config, db, listener)
        .await
        .unwrap();
    tokio::spawn(replica.run());
    // Wait for the loops to have delivered everything (an event, not a clock).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let rows = notification::Entity::find().count(&app.db).await.unwrap();
        let pending = notification::Entity::find()
            .filter(notification::Column::State.eq(DeliveryState::Pending))
            .count(&app.db)
            .await
            .unwrap();
        if rows as usize == PAIRS * 4 && pending == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replicas did not deliver: {rows} rows, {pending} pending"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_each_reminder_once(&app, &sink, &hook).await;
}
