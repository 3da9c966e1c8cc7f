//! Notifications end to end: changes made over GraphQL, passes driven at
//! chosen instants (as `tandem notify --once --now` runs them), messages
//! received by a real SMTP server and a webhook receiver, read as a mail
//! client and a calendar would read them.

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use entity::enums::{PairingStatus, ParticipantRole, ProgrammeStatus, SessionStatus};
use entity::{notification, pairing};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::{
    Backend, Person, TestApp, insert_approved, insert_employee, insert_pairing, insert_programme,
    insert_session,
};
use crate::notify_peers::{self, Answer, Mail, SmtpSink, WEBHOOK_SECRET, WebhookReceiver};

const SCHEDULE: &str =
    "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }";
const RESCHEDULE: &str =
    "mutation($id: UUID!, $at: DateTime!) { rescheduleSession(id: $id, startsAt: $at) { id } }";
const CANCEL: &str = "mutation($id: UUID!) { cancelSession(id: $id, reason: \"diary\") { id } }";
const NOTES: &str =
    "mutation($id: UUID!, $notes: String!) { setSessionNotes(id: $id, notes: $notes) { id } }";
const PREFERENCES: &str = "mutation($input: NotificationPreferencesInput!) { setNotificationPreferences(input: $input) { sessionReminders reminderLeadMinutes nudges language } }";
const MINE: &str = "query($first: Int, $after: String) { myNotifications(first: $first, after: $after) { edges { node { id kind channel state attempts subject sentAt lastError } } pageInfo { hasNextPage endCursor } } }";
const FEEDBACK: &str =
    "mutation($id: UUID!) { submitFeedback(input: { sessionId: $id, rating: 5 }) { id } }";
const END: &str =
    "mutation($id: UUID!) { endPairing(id: $id, reason: \"done\", completed: true) { id } }";

/// A private note that no message may ever carry.
const SECRET: &str = "SECRET-NOTE-4711 the CEO struggles with LinkedIn";

/// An ACTIVE pairing of Mia (mentor, supervised by Sam) with Max (mentee)
/// in "Digital 2027", with tokens.
struct Pair {
    programme: Uuid,
    pairing: Uuid,
    sam: Uuid,
    mia_token: String,
    max_token: String,
}

impl Pair {
    async fn arrange(app: &TestApp) -> Self {
        let db = &app.db;
        let mia = insert_employee(db, Person::new("Mia Mentor", 2)).await;
        let max = insert_employee(db, Person::new("Max Mentee", 8)).await;
        let sam = insert_employee(db, Person::new("Sam Supervisor", 5)).await;
        let programme = insert_programme(db, "Digital 2027", ProgrammeStatus::Active).await;
        insert_approved(db, programme, mia, ParticipantRole::Mentor, 3, Some(sam)).await;
        insert_approved(db, programme, max, ParticipantRole::Mentee, 1, None).await;
        let pairing = insert_pairing(db, programme, mia, &[max], PairingStatus::Active).await;
        Self {
            programme,
            pairing,
            sam,
            mia_token: app.token(Some("mia.mentor@corp.example"), &[]).await,
            max_token: app.token(Some("max.mentee@corp.example"), &[]).await,
        }
    }

    /// Mia books an hour by video at `at`.
    async fn book(&self, app: &TestApp, at: DateTime<Utc>) -> Uuid {
        let input = json!({ "pairingId": self.pairing, "startsAt": at, "durationMinutes": 60, "mode": "VIDEO" });
        let data = app
            .query_ok(&self.mia_token, SCHEDULE, json!({ "input": input }))
            .await;
        data["scheduleSession"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// A whole minute, days from now.
fn in_days(days: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::days(days))
        .duration_trunc(Duration::minutes(1))
        .unwrap()
}

/// The mails sent to `address`, read.
fn mails_to(mails: &[Mail], address: &str) -> Vec<Value> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|to| to == address))
        .map(notify_peers::read)
        .collect()
}

const MIA: &str = "mia.mentor@corp.example";
const MAX: &str = "max.mentee@corp.example";
const SAM: &str = "sam.supervisor@corp.example";
const TEAM: &str = "mentoring@corp.example";

async fn with_peers(
    backend: Backend,
    extra: &[(&str, &str)],
) -> (TestApp, SmtpSink, WebhookReceiver) {
    let sink = SmtpSink::start().await;
    let hook = WebhookReceiver::start().await;
    let (smtp, url) = (sink.url(), hook.url());
    let mut settings = vec![
        ("SMTP_URL", smtp.as_str()),
        ("NOTIFY_FROM", "Tandem <tandem@corp.example>"),
        ("NOTIFY_ADMIN_EMAILS", TEAM),
        ("WEBHOOK_URL", url.as_str()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    settings.extend_from_slice(extra);
    let app = TestApp::spawn_with(backend, &settings).await;
    (app, sink, hook)
}

async fn a_session_keeps_one_calendar_entry_from_booking_to_cancellation(backend: Backend) {
    let (app, sink, hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    app.query_ok(
        &pair.max_token,
        PREFERENCES,
        json!({ "input": { "language": "fr" } }),
    )
    .await;
    let first = in_days(3);
    let session = pair.book(&app, first).await;
    app.query_ok(
        &pair.mia_token,
        NOTES,
        json!({ "id": session, "notes": SECRET }),
    )
    .await;
    let uid = format!("{session}@tandem");

    let report = app.notify_pass(Utc::now()).await;
    assert_eq!(
        (report.sent, report.failed),
        (3, 0),
        "two emails and one webhook: {report:?}"
    );
    let mails = sink.mails();
    let mia = mails_to(&mails, MIA);
    let max = mails_to(&mails, MAX);
    assert_eq!((mia.len(), max.len(), mails.len()), (1, 1, 2));
    assert_eq!(
        mia[0]["subject"],
        "Digital 2027: mentoring session with Max Mentee"
    );
    assert!(
        mia[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hello Mia Mentor,")
    );
    assert_eq!(
        max[0]["subject"],
        "Digital 2027 : session de mentorat avec Mia Mentor"
    );
    assert!(
        max[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Bonjour Max Mentee,")
    );
    assert!(max[0]["html"].as_str().unwrap().contains("lang=\"fr\""));
    for read in [&mia[0], &max[0]] {
        let calendar = &read["calendar"];
        assert_eq!(calendar["method"], "REQUEST");
        assert_eq!(calendar["contentMethod"], "REQUEST");
        assert_eq!(calendar["uid"], uid.as_str());
        assert_eq!(calendar["sequence"], 0);
        assert_eq!(calendar["start"], first.to_rfc3339());
        assert_eq!(
            calendar["tzid"], "Europe/Paris",
            "in the zone of Mia, who booked"
        );
        assert_eq!(
            (&calendar["startByVtimezone"], &calendar["endByVtimezone"]),
            (
                &json!(first.to_rfc3339()),
                &json!((first + Duration::hours(1)).to_rfc3339())
            ),
            "the calendar's own VTIMEZONE places it at the same instant"
        );
        assert_eq!(calendar["organizer"], "mailto:tandem@corp.example");
        assert_eq!(
            calendar["attendees"],
            json!([format!("mailto:{MAX}"), format!("mailto:{MIA}")])
        );
        assert_eq!(read["from"], "Tandem <tandem@corp.example>");
    }
    let hooks = hook.deliveries();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].signature_valid, "signed as Standard Webhooks say");
    assert_eq!(hooks[0].body["type"], "SESSION_SCHEDULED");
    assert_eq!(hooks[0].body["data"]["sessionId"], session.to_string());
    assert_eq!(hooks[0].body["data"]["mode"], "VIDEO");
    assert_eq!(hooks[0].body["data"]["sequence"], 0);
    let externals: Vec<&str> = hooks[0].body["data"]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(externals.len(), 2);
    assert!(externals.contains(&"X-Mia-Mentor") && externals.contains(&"X-Max-Mentee"));

    let moved = in_days(4);
    app.query_ok(
        &pair.max_token,
        RESCHEDULE,
        json!({ "id": session, "at": moved }),
    )
    .await;
    sink.clear();
    assert_eq!(app.notify_pass(Utc::now()).await.sent, 3);
    let mails = sink.mails();
    for read in mails_to(&mails, MIA).iter().chain(&mails_to(&mails, MAX)) {
        let calendar = &read["calendar"];
        assert_eq!(calendar["method"], "REQUEST");
        assert_eq!(calendar["uid"], uid.as_str(), "the same entry, updated");
        assert_eq!(
            calendar["sequence"], 1,
            "a higher SEQUENCE replaces the first"
        );
        assert_eq!(calendar["start"], moved.to_rfc3339());
        assert_eq!(calendar["startByVtimezone"], moved.to_rfc3339());
    }
    assert_eq!(mails.len(), 2);

    app.query_ok(&pair.max_token, CANCEL, json!({ "id": session }))
        .await;
    sink.clear();
    assert_eq!(app.notify_pass(Utc::now()).await.sent, 3);
    let mails = sink.mails();
    assert_eq!(mails.len(), 2);
    for read in mails.iter().map(notify_peers::read) {
        let calendar = &read["calendar"];
        assert_eq!(calendar["method"], "CANCEL");
        assert_eq!(calendar["contentMethod"], "CANCEL");
        assert_eq!(calendar["uid"], uid.as_str());
        assert_eq!(calendar["status"], "CANCELLED");
        assert_eq!(calendar["sequence"], 2, "a cancellation is a newer version");
    }
    let again = app.notify_pass(Utc::now()).await;
    assert_eq!(
        (again.sent, again.raised.reminders),
        (0, 0),
        "nothing twice"
    );

    for delivered in hook.deliveries() {
        assert!(delivered.signature_valid);
        assert!(!delivered.body.to_string().contains("SECRET-NOTE"));
    }
    let ids: std::collections::HashSet<String> =
        hook.deliveries().iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 3, "one idempotency id per event");
    let all: Vec<Mail> = sink.mails();
    assert!(all.iter().all(|m| !m.raw.contains("SECRET-NOTE")));

    let mine = app
        .query_ok(&pair.max_token, MINE, json!({ "first": 10 }))
        .await;
    let kinds: Vec<&str> = mine["myNotifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "SESSION_CANCELLED",
            "SESSION_RESCHEDULED",
            "SESSION_SCHEDULED"
        ],
        "newest first"
    );
    for edge in mine["myNotifications"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["state"], "SENT");
        assert_eq!(edge["node"]["channel"], "EMAIL");
        assert_eq!(edge["node"]["attempts"], 1);
        assert!(
            edge["node"]["subject"]
                .as_str()
                .unwrap()
                .contains("Mia Mentor")
        );
    }
    let page = app
        .query_ok(&pair.max_token, MINE, json!({ "first": 2 }))
        .await;
    let after = page["myNotifications"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .query_ok(&pair.max_token, MINE, json!({ "first": 2, "after": after }))
        .await;
    assert_eq!(
        rest["myNotifications"]["edges"][0]["node"]["kind"],
        "SESSION_SCHEDULED"
    );
    assert_eq!(rest["myNotifications"]["pageInfo"]["hasNextPage"], false);
}

/// The reminders (by subject) sent to `address`.
fn reminders_to(sink: &SmtpSink, address: &str) -> usize {
    mails_to(&sink.mails(), address)
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with("Reminder"))
        .count()
}

async fn reminders_come_once_at_each_persons_lead_and_never_for_a_cancelled_session(
    backend: Backend,
) {
    let (app, sink, _hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    app.query_ok(
        &pair.mia_token,
        PREFERENCES,
        json!({ "input": { "reminderLeadMinutes": 60 } }),
    )
    .await;
    let start = in_days(2);
    let session = pair.book(&app, start).await;
    app.notify_pass(Utc::now()).await; // the invitations
    sink.clear();

    let before_lead = app.notify_pass(start - Duration::hours(25)).await;
    assert_eq!(before_lead.raised.reminders, 0);
    app.notify_pass(start - Duration::hours(23)).await;
    assert_eq!(
        (reminders_to(&sink, MAX), reminders_to(&sink, MIA)),
        (1, 0),
        "Max: a day before"
    );
    app.notify_pass(start - Duration::hours(23)).await;
    app.notify_pass(start - Duration::hours(2)).await;
    assert_eq!(
        (reminders_to(&sink, MAX), reminders_to(&sink, MIA)),
        (1, 0),
        "once"
    );
    app.notify_pass(start - Duration::minutes(59)).await;
    assert_eq!(
        (reminders_to(&sink, MAX), reminders_to(&sink, MIA)),
        (1, 1),
        "Mia: an hour before"
    );
    app.notify_pass(start - Duration::minutes(5)).await;
    assert_eq!((reminders_to(&sink, MAX), reminders_to(&sink, MIA)), (1, 1));
    let reminder = mails_to(&sink.mails(), MAX)
        .into_iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("Reminder"))
        .unwrap();
    assert!(
        reminder["calendar"].is_null(),
        "a reminder is no invitation"
    );
    assert!(
        reminder["text"]
            .as_str()
            .unwrap()
            .contains("(Europe/Paris)")
    );
    let _ = session;

    // Max opts out: Mia alone is reminded of the next session.
    app.query_ok(
        &pair.max_token,
        PREFERENCES,
        json!({ "input": { "sessionReminders": false } }),
    )
    .await;
    let next = in_days(5);
    pair.book(&app, next).await;
    sink.clear();
    app.notify_pass(next - Duration::minutes(30)).await;
    assert_eq!((reminders_to(&sink, MAX), reminders_to(&sink, MIA)), (0, 1));

    // A session cancelled before its lead is never reminded.
    let called_off = pair.book(&app, in_days(8)).await;
    app.query_ok(&pair.mia_token, CANCEL, json!({ "id": called_off }))
        .await;
    sink.clear();
    app.notify_pass(in_days(8) - Duration::minutes(30)).await;
    assert_eq!(reminders_to(&sink, MIA), 0);

    // A session whose pairing ended: its reminder is never sent either.
    let last = pair.book(&app, in_days(10)).await;
    let admin = app.token(None, &["admin"]).await;
    app.query_ok(&admin, END, json!({ "id": pair.pairing }))
        .await;
    sink.clear();
    let report = app.notify_pass(in_days(10) - Duration::minutes(30)).await;
    assert_eq!(reminders_to(&sink, MIA), 0, "{report:?}");
    let status = entity::mentoring_session::Entity::find_by_id(last)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, SessionStatus::Cancelled);
}

/// Mails to `address` whose subject starts with `prefix`.
fn subjects_to(sink: &SmtpSink, address: &str, prefix: &str) -> usize {
    mails_to(&sink.mails(), address)
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with(prefix))
        .count()
}

async fn quiet_pairs_are_nudged_once_and_the_team_hears_of_those_at_risk(backend: Backend) {
    let (app, sink, hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    pairing::ActiveModel {
        id: Set(pair.pairing),
        updated_at: Set(Utc::now() - Duration::days(20)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    let overdue = "Digital 2027: time to book your next session";
    let at_risk = "Digital 2027: a pairing needs attention";

    let now = Utc::now();
    app.notify_pass(now).await;
    assert_eq!(
        (
            subjects_to(&sink, MIA, overdue),
            subjects_to(&sink, MAX, overdue)
        ),
        (1, 1)
    );
    assert_eq!(
        subjects_to(&sink, TEAM, at_risk),
        0,
        "one cadence is not yet a risk"
    );
    app.notify_pass(now + Duration::hours(1)).await;
    assert_eq!(subjects_to(&sink, MIA, overdue), 1, "once per quiet spell");

    app.notify_pass(now + Duration::days(10)).await;
    assert_eq!(
        subjects_to(&sink, TEAM, at_risk),
        1,
        "two cadences: the team hears"
    );
    assert_eq!(
        subjects_to(&sink, SAM, at_risk),
        1,
        "and the mentor's supervisor"
    );
    assert_eq!(
        subjects_to(&sink, MIA, at_risk),
        0,
        "not the pair themselves"
    );
    assert_eq!(subjects_to(&sink, MIA, overdue), 1);
    let risk_hooks = hook
        .deliveries()
        .into_iter()
        .filter(|d| d.body["type"] == "PAIRING_AT_RISK")
        .count();
    assert_eq!(risk_hooks, 1);

    // Max turns nudges off; the pair meets, goes quiet again: only Mia is nudged.
    app.query_ok(
        &pair.max_token,
        PREFERENCES,
        json!({ "input": { "nudges": false } }),
    )
    .await;
    let held = now + Duration::days(11);
    insert_session(&app.db, pair.pairing, held, SessionStatus::Held, None).await;
    app.notify_pass(held + Duration::days(16)).await;
    assert_eq!(
        (
            subjects_to(&sink, MIA, overdue),
            subjects_to(&sink, MAX, overdue)
        ),
        (2, 1)
    );

    // Once the pairing ends, nobody is nudged about it.
    let admin = app.token(None, &["admin"]).await;
    app.query_ok(&admin, END, json!({ "id": pair.pairing }))
        .await;
    sink.clear();
    app.notify_pass(held + Duration::days(60)).await;
    assert_eq!(subjects_to(&sink, MIA, overdue), 0);
    assert_eq!(subjects_to(&sink, TEAM, at_risk), 0);
    assert_eq!(
        subjects_to(&sink, MIA, "Digital 2027: your pairing has ended"),
        1
    );
    assert_eq!(
        subjects_to(&sink, MAX, "Digital 2027: your pairing has ended"),
        1
    );
    assert_eq!(
        subjects_to(&sink, SAM, "Digital 2027: a pairing you follow has ended"),
        1,
        "the supervisor follows it"
    );
}

async fn feedback_is_asked_once_a_day_after_a_held_session_of_those_who_gave_none(
    backend: Backend,
) {
    let (app, sink, _hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    let ended = Utc::now() - Duration::hours(2);
    let session = insert_session(
        &app.db,
        pair.pairing,
        ended - Duration::hours(1),
        SessionStatus::Held,
        Some(SECRET),
    )
    .await;
    let asked = "Digital 2027: how did your session go?";
    app.notify_pass(Utc::now()).await;
    assert_eq!(
        subjects_to(&sink, MIA, asked),
        0,
        "not before a day has passed"
    );
    app.query_ok(&pair.max_token, FEEDBACK, json!({ "id": session }))
        .await;
    let a_day_later = ended + Duration::hours(25);
    app.notify_pass(a_day_later).await;
    assert_eq!(
        (
            subjects_to(&sink, MIA, asked),
            subjects_to(&sink, MAX, asked)
        ),
        (1, 0)
    );
    app.notify_pass(a_day_later + Duration::hours(5)).await;
    assert_eq!(subjects_to(&sink, MIA, asked), 1, "once");
    assert!(sink.mails().iter().all(|m| !m.raw.contains("SECRET-NOTE")));
}

async fn a_refusing_relay_is_retried_and_a_dead_one_ends_failed_and_visible(backend: Backend) {
    let (app, sink, hook) = with_peers(backend, &[("NOTIFY_MAX_ATTEMPTS", "3")]).await;
    let pair = Pair::arrange(&app).await;
    let session = pair.book(&app, in_days(3)).await;
    sink.refuse_next(2);
    hook.answer(Answer::Fail);
    let now = Utc::now();
    let first = app.notify_pass(now).await;
    assert_eq!(
        (first.sent, first.retrying),
        (0, 3),
        "both emails and the webhook wait: {first:?}"
    );
    assert_eq!(sink.refused(), 2);
    hook.answer(Answer::Accept);
    let too_soon = app.notify_pass(now).await;
    assert_eq!(
        (too_soon.sent, too_soon.retrying),
        (0, 0),
        "backoff: not retried at once"
    );
    let later = app.notify_pass(now + Duration::minutes(2)).await;
    assert_eq!(later.sent, 3);
    assert_eq!(hook.deliveries().len(), 1);
    assert_eq!(sink.mails().len(), 2);
    let mine = app.query_ok(&pair.max_token, MINE, json!({})).await;
    let node = &mine["myNotifications"]["edges"][0]["node"];
    assert_eq!(
        (node["state"].as_str(), node["attempts"].as_i64()),
        (Some("SENT"), Some(2))
    );

    sink.refuse_all(true);
    app.query_ok(&pair.mia_token, CANCEL, json!({ "id": session }))
        .await;
    let mut passes = Vec::new();
    for minutes in [3, 60, 600, 6000] {
        passes.push(app.notify_pass(now + Duration::minutes(minutes)).await);
    }
    let outcomes: Vec<(u64, u64)> = passes.iter().map(|p| (p.retrying, p.failed)).collect();
    assert_eq!(outcomes, [(2, 0), (2, 0), (0, 2), (0, 0)], "{passes:?}");
    let admin = app.token(None, &["admin"]).await;
    let failed = app
        .query_ok(
            &admin,
            "query($p: UUID!) { programmeNotifications(programmeId: $p, state: FAILED) { edges { node { kind state attempts lastError recipientId } } } programmeDeliverySummary(programmeId: $p) { failed sent pending } }",
            json!({ "p": pair.programme }),
        )
        .await;
    let edges = failed["programmeNotifications"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), 2);
    for edge in edges {
        assert_eq!(edge["node"]["kind"], "SESSION_CANCELLED");
        assert_eq!(edge["node"]["attempts"], 3);
        let error = edge["node"]["lastError"].as_str().unwrap();
        assert!(error.contains("554"), "{error}");
        assert!(!error.contains('@'), "no address in the error: {error}");
    }
    assert_eq!(failed["programmeDeliverySummary"]["failed"], 2);
    assert_eq!(failed["programmeDeliverySummary"]["pending"], 0);
    let employee = app.token(Some(MIA), &[]).await;
    let code = app
        .query_error_code(
            &employee,
            "query($p: UUID!) { programmeNotifications(programmeId: $p) { edges { node { id } } } }",
            json!({ "p": pair.programme }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let _ = pair.sam;
}

async fn a_refused_change_tells_nobody(backend: Backend) {
    let (app, _sink, _hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    let at = in_days(3);
    pair.book(&app, at).await;
    let before = notification::Entity::find().count(&app.db).await.unwrap();
    let input = json!({ "pairingId": pair.pairing, "startsAt": at + Duration::minutes(30), "durationMinutes": 60, "mode": "VIDEO" });
    let code = app
        .query_error_code(&pair.max_token, SCHEDULE, json!({ "input": input }))
        .await;
    assert_eq!(code, "CONFLICT", "a double booking is refused");
    let after = notification::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(
        before, after,
        "and the rolled-back change wrote no notification"
    );
}

async fn without_a_relay_or_endpoint_notifications_are_recorded_suppressed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pair = Pair::arrange(&app).await;
    pair.book(&app, in_days(2)).await;
    let report = app.notify_pass(Utc::now()).await;
    assert_eq!((report.sent, report.suppressed), (0, 3), "{report:?}");
    let mine = app.query_ok(&pair.max_token, MINE, json!({})).await;
    let node = &mine["myNotifications"]["edges"][0]["node"];
    assert_eq!(node["kind"], "SESSION_SCHEDULED");
    assert_eq!(node["state"], "SUPPRESSED");
    assert_eq!(node["lastError"], "no SMTP relay is configured");
}

async fn preferences_are_checked_field_by_field_and_kept(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("NOTIFY_DEFAULT_LANGUAGE", "fr")]).await;
    let pair = Pair::arrange(&app).await;
    let read =
        "{ myNotificationPreferences { sessionReminders reminderLeadMinutes nudges language } }";
    let defaults = app.query_ok(&pair.mia_token, read, json!({})).await;
    assert_eq!(
        defaults["myNotificationPreferences"],
        json!({ "sessionReminders": true, "reminderLeadMinutes": 1440, "nudges": true, "language": "fr" })
    );
    for (input, field) in [
        (json!({ "reminderLeadMinutes": 14 }), "reminderLeadMinutes"),
        (
            json!({ "reminderLeadMinutes": 10081 }),
            "reminderLeadMinutes",
        ),
        (
            json!({ "reminderLeadMinutes": 2147483647 }),
            "reminderLeadMinutes",
        ),
        (json!({ "language": "de" }), "language"),
        (json!({ "language": "français" }), "language"),
    ] {
        let (_, body) = app
            .graphql(&pair.mia_token, PREFERENCES, json!({ "input": input }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let changed = app
        .query_ok(
            &pair.mia_token,
            PREFERENCES,
            json!({ "input": { "language": "en-GB", "reminderLeadMinutes": 15, "nudges": false } }),
        )
        .await;
    assert_eq!(
        changed["setNotificationPreferences"],
        json!({ "sessionReminders": true, "reminderLeadMinutes": 15, "nudges": false, "language": "en" })
    );
    let kept = app.query_ok(&pair.mia_token, read, json!({})).await;
    assert_eq!(
        kept["myNotificationPreferences"],
        changed["setNotificationPreferences"]
    );
    let others = app.query_ok(&pair.max_token, read, json!({})).await;
    assert_eq!(
        others["myNotificationPreferences"]["language"], "fr",
        "Max's are his own"
    );
    let service = app.token(None, &["analyst"]).await;
    let code = app.query_error_code(&service, read, json!({})).await;
    assert!(code == "FORBIDDEN", "{code}");
    let anonymous = app
        .client()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": read }))
        .send()
        .await
        .unwrap();
    assert!(anonymous.status().is_client_error() || anonymous.status().is_success());
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn a_hanging_webhook_holds_no_request_back(backend: Backend) {
    let (app, _sink, hook) = with_peers(
        backend,
        &[
            ("NOTIFY", "on"),
            ("NOTIFY_INTERVAL_SECS", "1"),
            ("NOTIFY_SEND_TIMEOUT_SECS", "30"),
        ],
    )
    .await;
    hook.answer(Answer::Hang);
    let pair = Pair::arrange(&app).await;
    pair.book(&app, in_days(2)).await;
    // The serve process's own notifier takes the event and hangs on the endpoint.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while hook.requests() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the notifier never called the webhook"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for day in 0..20 {
        let started = std::time::Instant::now();
        app.query_ok(&pair.max_token, MINE, json!({})).await;
        pair.book(&app, in_days(30 + day)).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "a request waited on the hanging endpoint"
        );
    }
    assert_eq!(hook.deliveries().len(), 0, "the endpoint is still hanging");
}

both!(
    a_session_keeps_one_calendar_entry_from_booking_to_cancellation,
    reminders_come_once_at_each_persons_lead_and_never_for_a_cancelled_session,
    quiet_pairs_are_nudged_once_and_the_team_hears_of_those_at_risk,
    feedback_is_asked_once_a_day_after_a_held_session_of_those_who_gave_none,
    a_refusing_relay_is_retried_and_a_dead_one_ends_failed_and_visible,
    a_refused_change_tells_nobody,
    without_a_relay_or_endpoint_notifications_are_recorded_suppressed,
    preferences_are_checked_field_by_field_and_kept,
    a_hanging_webhook_holds_no_request_back,
);

async fn the_team_hears_of_proposals_and_waiting_volunteers_and_people_of_decisions(
    backend: Backend,
) {
    use entity::enums::{EnrolmentStatus, SkillDirection};
    use entity::{enrolment, programme, skill, skill_profile};
    use sea_orm::{ColumnTrait, QueryFilter};
    let (app, sink, _hook) = with_peers(backend, &[]).await;
    let db = &app.db;
    let sam = insert_employee(db, Person::new("Sam Supervisor", 5)).await;
    let ann = insert_employee(db, Person::new("Ann Junior", 2)).await;
    let claire = insert_employee(db, Person::new("Claire Senior", 10)).await;
    let dora = insert_employee(db, Person::new("Dora Volunteer", 9)).await;
    let matching = insert_programme(db, "Digital tandems", ProgrammeStatus::Matching).await;
    insert_approved(db, matching, ann, ParticipantRole::Mentor, 1, Some(sam)).await;
    insert_approved(db, matching, claire, ParticipantRole::Mentee, 1, None).await;
    let seo = skill::Entity::find()
        .filter(skill::Column::Slug.eq("seo"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    for (who, direction) in [
        (ann, SkillDirection::Offers),
        (claire, SkillDirection::Wants),
    ] {
        skill_profile::ActiveModel {
            id: Set(Uuid::now_v7()),
            employee_id: Set(who),
            skill_id: Set(seo.id),
            direction: Set(direction),
            level: Set(3),
            updated_at: Set(Utc::now()),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let enrolling = insert_programme(db, "Second wave", ProgrammeStatus::Enrolling).await;
    let waited = Utc::now() - Duration::days(4);
    let dora_enrolment = Uuid::now_v7();
    enrolment::ActiveModel {
        id: Set(dora_enrolment),
        programme_id: Set(enrolling),
        employee_id: Set(dora),
        role: Set(ParticipantRole::Mentee),
        status: Set(EnrolmentStatus::Pending),
        consented_at: Set(waited),
        motivation: Set(Some("I want to understand LinkedIn".into())),
        training_completed_at: Set(None),
        supervisor_id: Set(None),
        capacity: Set(1),
        decided_at: Set(None),
        decision_reason: Set(None),
        withdrawn_at: Set(None),
        created_at: Set(waited),
        updated_at: Set(waited),
    }
    .insert(db)
    .await
    .unwrap();
    let admin = app.token(None, &["admin"]).await;

    // A day of waiting volunteers: one digest a day.
    let morning = Utc::now().duration_trunc(Duration::days(1)).unwrap() + Duration::hours(9);
    let digest = "Tandem: 1 enrolment(s) await a decision";
    app.notify_pass(morning).await;
    app.notify_pass(morning + Duration::hours(3)).await;
    assert_eq!(subjects_to(&sink, TEAM, digest), 1, "once a day");
    app.notify_pass(morning + Duration::days(1)).await;
    assert_eq!(
        subjects_to(&sink, TEAM, digest),
        2,
        "and again the next day"
    );
    let read = mails_to(&sink.mails(), TEAM)
        .into_iter()
        .find(|m| m["subject"] == digest)
        .unwrap();
    assert!(read["text"].as_str().unwrap().contains("Second wave: 1"));
    assert!(
        !read["text"].as_str().unwrap().contains("LinkedIn"),
        "no motivation text"
    );

    // The volunteer hears of the decision, the digest stops.
    app.query_ok(
        &admin,
        "mutation($id: UUID!) { decideEnrolment(id: $id, approve: true) { status } }",
        json!({ "id": dora_enrolment }),
    )
    .await;
    sink.clear();
    app.notify_pass(morning + Duration::days(2)).await;
    assert_eq!(
        subjects_to(
            &sink,
            "dora.volunteer@corp.example",
            "Second wave: your enrolment is approved"
        ),
        1
    );
    assert_eq!(subjects_to(&sink, TEAM, "Tandem:"), 0);

    // A matcher run: one message to the team; accepting it tells the pair and the supervisor.
    let proposals = app
        .query_ok(
            &admin,
            "mutation($p: UUID!) { proposeMatches(programmeId: $p) { id } }",
            json!({ "p": matching }),
        )
        .await;
    let proposal = proposals["proposeMatches"][0]["id"].clone();
    sink.clear();
    app.notify_pass(Utc::now()).await;
    assert_eq!(
        subjects_to(
            &sink,
            TEAM,
            "Digital tandems: 1 proposed pairing(s) await your decision"
        ),
        1
    );
    assert_eq!(sink.mails().len(), 1, "nobody else hears of a proposal");
    app.query_ok(
        &admin,
        "mutation($id: UUID!) { decidePairing(id: $id, accept: true) { status } }",
        json!({ "id": proposal }),
    )
    .await;
    programme::Entity::find_by_id(matching)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    sink.clear();
    app.notify_pass(Utc::now()).await;
    let started = "Digital tandems: your pairing starts";
    for address in ["ann.junior@corp.example", "claire.senior@corp.example"] {
        assert_eq!(subjects_to(&sink, address, started), 1, "{address}");
    }
    assert_eq!(
        subjects_to(&sink, SAM, "Digital tandems: a pairing you follow starts"),
        1
    );
    assert_eq!(sink.mails().len(), 3);

    // A declined proposal tells nobody anything.
    let declined = insert_pairing(db, matching, ann, &[dora], PairingStatus::Proposed).await;
    app.query_ok(
        &admin,
        "mutation($id: UUID!) { decidePairing(id: $id, accept: false) { status } }",
        json!({ "id": declined }),
    )
    .await;
    sink.clear();
    let report = app.notify_pass(Utc::now()).await;
    assert_eq!((report.sent, sink.mails().len()), (0, 0), "{report:?}");
}

async fn an_invitation_overtaken_by_its_cancellation_is_never_sent(backend: Backend) {
    let (app, sink, _hook) = with_peers(backend, &[]).await;
    let pair = Pair::arrange(&app).await;
    sink.refuse_all(true);
    let session = pair.book(&app, in_days(3)).await;
    let now = Utc::now();
    assert_eq!(app.notify_pass(now).await.retrying, 2, "the relay is down");
    app.query_ok(&pair.mia_token, CANCEL, json!({ "id": session }))
        .await;
    sink.refuse_all(false);
    let report = app.notify_pass(now + Duration::minutes(5)).await;
    let mails = sink.mails();
    let methods: Vec<Value> = mails
        .iter()
        .map(|m| notify_peers::read(m)["calendar"]["method"].clone())
        .collect();
    assert_eq!(methods, ["CANCEL", "CANCEL"], "{report:?}");
    let mine = app.query_ok(&pair.max_token, MINE, json!({})).await;
    let scheduled = mine["myNotifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "SESSION_SCHEDULED")
        .unwrap();
    assert_eq!(scheduled["node"]["state"], "SUPPRESSED");
    assert_eq!(scheduled["node"]["lastError"], "the session changed since");
}

both!(
    the_team_hears_of_proposals_and_waiting_volunteers_and_people_of_decisions,
    an_invitation_overtaken_by_its_cancellation_is_never_sent,
);
