//! The availability cache: answers never depend on it. Every change to free
//! time shows at once through a warm cache (in-process or Redis), and a Redis
//! that dies, restarts, or hangs while a write happens costs latency only.

use std::sync::Arc;

use chrono::{DateTime, Datelike as _, Duration, Utc};
use entity::enums::{PairingStatus, ProgrammeStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tandem::cache::{FreeTimeCache, InProcessCache};
use tandem::domain::availability::{self, Interval};
use tandem::domain::calendar;
use uuid::Uuid;

use crate::both;
use crate::helpers::{Backend, Person, TestApp, insert_employee, insert_pairing, insert_programme};
use crate::redis_server::{self, RedisServer, cached_keys};

const SET: &str = "mutation($tz: String!, $s: [WeeklySlotInput!]!) { setWeeklyAvailability(timezone: $tz, slots: $s) { weekday } }";
const FREE: &str = "query($e: UUID, $f: DateTime!, $t: DateTime!) { availability(employeeId: $e, from: $f, to: $t) { startsAt endsAt } }";
const COMMON: &str = "query($p: UUID!, $f: DateTime!, $t: DateTime!) { pairing(id: $p) { nextCommonSlots(durationMinutes: 60, from: $f, to: $t, limit: 10) { startsAt endsAt } } }";
const AWAY: &str = "mutation($s: DateTime!, $e: DateTime!) { addUnavailability(startsAt: $s, endsAt: $e, reason: \"offsite\") { id } }";
const SCHEDULE: &str =
    "mutation($input: ScheduleSessionInput!) { scheduleSession(input: $input) { id } }";
const CANCEL: &str = "mutation($id: UUID!) { cancelSession(id: $id) { status } }";
const RESCHEDULE: &str =
    "mutation($id: UUID!, $at: DateTime!) { rescheduleSession(id: $id, startsAt: $at) { status } }";
const END: &str = "mutation($id: UUID!) { endPairing(id: $id, reason: \"reorganisation\", completed: false) { status } }";

/// A mentor in Paris and a mentee in New York, paired, with weekly slots
/// that overlap one or two hours each Tuesday.
struct World {
    app: TestApp,
    pairing: Uuid,
    mia: Uuid,
    max: Uuid,
    mia_token: String,
    max_token: String,
    window: Interval,
}

impl World {
    /// The world on `backend`, caching in Redis at `redis` (None: in-process).
    async fn start(backend: Backend, redis: Option<&str>) -> Self {
        let settings: Vec<(&str, &str)> = redis.map(|url| ("REDIS_URL", url)).into_iter().collect();
        let app = TestApp::spawn_with(backend, &settings).await;
        let mia = insert_employee(&app.db, Person::new("Mia Mentor", 2)).await;
        let max = insert_employee(&app.db, Person::new("Max Mentee", 7)).await;
        let programme = insert_programme(&app.db, "Tandems", ProgrammeStatus::Active).await;
        let pairing = insert_pairing(&app.db, programme, mia, &[max], PairingStatus::Active).await;
        let mia_token = app.token(Some("mia.mentor@corp.example"), &[]).await;
        let max_token = app.token(Some("max.mentee@corp.example"), &[]).await;
        let weekly = |day: &str, start: &str, end: &str| json!({ "weekday": day, "start": start, "end": end });
        let mia_slots = json!([
            weekly("TUESDAY", "09:00", "13:00"),
            weekly("THURSDAY", "14:00", "17:00")
        ]);
        app.query_ok(
            &mia_token,
            SET,
            json!({ "tz": "Europe/Paris", "s": mia_slots }),
        )
        .await;
        let max_slots = json!([weekly("TUESDAY", "05:00", "08:00")]);
        app.query_ok(
            &max_token,
            SET,
            json!({ "tz": "America/New_York", "s": max_slots }),
        )
        .await;
        Self {
            app,
            pairing,
            mia,
            max,
            mia_token,
            max_token,
            window: coming_weeks(),
        }
    }

    fn window_vars(&self) -> Value {
        json!({ "f": self.window.start, "t": self.window.end })
    }

    /// `nextCommonSlots` as the service answers it.
    async fn common(&self) -> Vec<Interval> {
        let mut vars = self.window_vars();
        vars["p"] = json!(self.pairing);
        let data = self.app.query_ok(&self.mia_token, COMMON, vars).await;
        intervals(&data["pairing"]["nextCommonSlots"])
    }

    /// `availability` of `employee` as the service answers it to Mia.
    async fn free(&self, employee: Uuid) -> Vec<Interval> {
        self.free_as(&self.mia_token, employee).await
    }

    /// `availability` of `employee` as the service answers it to `token`.
    async fn free_as(&self, token: &str, employee: Uuid) -> Vec<Interval> {
        let mut vars = self.window_vars();
        vars["e"] = json!(employee);
        intervals(&self.app.query_ok(token, FREE, vars).await["availability"])
    }

    /// Free time of `employee` computed from the database alone (an empty cache).
    async fn free_from_database(&self, employee: Uuid) -> Vec<Interval> {
        let empty = FreeTimeCache::new(Arc::new(InProcessCache::default()));
        calendar::free_time_of(&self.app.db, &empty, &[employee], self.window)
            .await
            .unwrap()
            .remove(0)
    }

    /// The common slots computed from the database alone.
    async fn common_from_database(&self) -> Vec<Interval> {
        let free = vec![
            self.free_from_database(self.mia).await,
            self.free_from_database(self.max).await,
        ];
        availability::common_slots(&free, Duration::minutes(60), 10)
    }

    /// Checks that what the service answers is what the database says now.
    async fn assert_answers_match_the_database(&self, moment: &str) {
        assert_eq!(
            self.common().await,
            self.common_from_database().await,
            "common slots {moment}"
        );
        assert_eq!(
            self.free(self.max).await,
            self.free_from_database(self.max).await,
            "Max's free time {moment}"
        );
        assert_eq!(
            self.free(self.mia).await,
            self.free_from_database(self.mia).await,
            "Mia's free time {moment}"
        );
    }

    async fn add_unavailability(&self, token: &str, away: Interval) {
        self.app
            .query_ok(token, AWAY, json!({ "s": away.start, "e": away.end }))
            .await;
    }

    async fn readiness(&self) -> Value {
        let response = self
            .app
            .client()
            .get(format!("{}/readyz", self.app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "ready whatever the cache does"
        );
        response.json().await.unwrap()
    }

    /// Polls `/readyz` until the cache reports `state` (the service probes
    /// Redis by itself; no request needs to trigger it).
    async fn wait_for_cache(&self, state: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let body = self.readiness().await;
            if body["cache"] == state || std::time::Instant::now() > deadline {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Eight weeks starting next Monday: inside the cached horizon whenever the
/// test runs.
fn coming_weeks() -> Interval {
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(today.weekday().num_days_from_monday().into());
    let start = (monday + Duration::weeks(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    Interval::new(start, start + Duration::weeks(8)).unwrap()
}

fn intervals(list: &Value) -> Vec<Interval> {
    let time = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    list.as_array()
        .unwrap_or_else(|| panic!("a list of intervals: {list}"))
        .iter()
        .map(|i| Interval::new(time(&i["startsAt"]), time(&i["endsAt"])).unwrap())
        .collect()
}

/// The in-process cache, and Redis when the tests have one.
fn cache_variants() -> Vec<Option<String>> {
    let mut variants = vec![None];
    variants.extend(redis_server::shared_url().map(Some));
    variants
}

async fn cached_free_time_follows_every_change(backend: Backend) {
    for redis in cache_variants() {
        let w = World::start(backend.clone(), redis.as_deref()).await;
        let before = w.app.statements();
        let first = w.common().await;
        let cold = w.app.statements() - before;
        assert!(first.len() >= 8, "at least one slot a week: {first:?}");
        assert_eq!(first, w.common_from_database().await);

        let before = w.app.statements();
        assert_eq!(w.common().await, first, "the same answer from the cache");
        let warm = w.app.statements() - before;
        assert!(
            warm < cold,
            "served from the cache: {warm} statements warm, {cold} cold"
        );
        if let Some(url) = &redis {
            assert_eq!(
                cached_keys(url, w.mia).await.len(),
                1,
                "Mia's free time is in Redis"
            );
            assert_eq!(w.readiness().await["cacheBackend"], "redis");
        }

        w.add_unavailability(&w.mia_token, first[0]).await;
        let after_away = w.common().await;
        assert!(
            !after_away.contains(&first[0]),
            "the unavailability shows at once"
        );
        w.assert_answers_match_the_database("after an unavailability")
            .await;

        let input = json!({ "input": { "pairingId": w.pairing, "startsAt": after_away[0].start, "durationMinutes": 60, "mode": "VIDEO" } });
        let session =
            w.app.query_ok(&w.max_token, SCHEDULE, input).await["scheduleSession"]["id"].clone();
        assert!(
            !w.common().await.contains(&after_away[0]),
            "a booked session shows at once"
        );
        w.assert_answers_match_the_database("after booking").await;

        let moved = json!({ "id": session, "at": after_away[1].start });
        w.app.query_ok(&w.max_token, RESCHEDULE, moved).await;
        let after_move = w.common().await;
        assert!(
            after_move.contains(&after_away[0]) && !after_move.contains(&after_away[1]),
            "a moved session frees its old slot and takes the new one at once"
        );
        w.assert_answers_match_the_database("after rescheduling")
            .await;
        let back = json!({ "id": session, "at": after_away[0].start });
        w.app.query_ok(&w.max_token, RESCHEDULE, back).await;

        w.app
            .query_ok(&w.max_token, CANCEL, json!({ "id": session }))
            .await;
        assert!(
            w.common().await.contains(&after_away[0]),
            "a cancelled session frees its slot"
        );
        w.assert_answers_match_the_database("after cancelling")
            .await;

        let late = json!([{ "weekday": "TUESDAY", "start": "01:00", "end": "05:00" }]);
        w.app
            .query_ok(
                &w.max_token,
                SET,
                json!({ "tz": "America/Los_Angeles", "s": late }),
            )
            .await;
        w.assert_answers_match_the_database("after new weekly slots in another zone")
            .await;
        let input = json!({ "input": { "pairingId": w.pairing, "startsAt": after_away[1].start, "durationMinutes": 60, "mode": "VIDEO" } });
        w.app.query_ok(&w.max_token, SCHEDULE, input).await;
        assert!(
            !w.free(w.max)
                .await
                .iter()
                .any(|f| f.start <= after_away[1].start && after_away[1].end <= f.end)
        );
        let admin = w.app.token(None, &["admin"]).await;
        w.app
            .query_ok(&admin, END, json!({ "id": w.pairing }))
            .await;
        assert!(
            w.free_as(&w.max_token, w.max)
                .await
                .iter()
                .any(|f| f.start <= after_away[1].start && after_away[1].end <= f.end),
            "ending the pairing cancels its future sessions, which frees the time"
        );
    }
}

async fn losing_redis_changes_latency_never_answers(backend: Backend) {
    if redis_server::shared_url().is_none() {
        return;
    }
    let mut redis = RedisServer::start().await;
    let w = World::start(backend, Some(&redis.url())).await;
    let warm = w.common().await;
    assert_eq!(cached_keys(&redis.url(), w.mia).await.len(), 1);
    assert_eq!(w.readiness().await["cache"], "ok");

    redis.kill();
    assert_eq!(w.common().await, warm, "answered from the database");
    w.add_unavailability(&w.mia_token, warm[0]).await;
    assert!(
        !w.common().await.contains(&warm[0]),
        "a change made while Redis is down shows"
    );
    w.assert_answers_match_the_database("with Redis down").await;
    let body = w.readiness().await;
    assert_eq!(body["cache"], "degraded", "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    redis.restart().await;
    let body = w.wait_for_cache("ok").await;
    assert_eq!(
        body["cache"], "ok",
        "the service uses Redis again by itself: {body}"
    );
    w.assert_answers_match_the_database("after Redis returned")
        .await;
    assert_eq!(
        cached_keys(&redis.url(), w.mia).await.len(),
        1,
        "free time is cached in the new Redis"
    );
}

async fn a_paused_redis_never_serves_stale_free_time(backend: Backend) {
    if redis_server::shared_url().is_none() {
        return;
    }
    let redis = RedisServer::start().await;
    let w = World::start(backend, Some(&redis.url())).await;
    let warm = w.free(w.mia).await;
    let stale_keys = cached_keys(&redis.url(), w.mia).await;
    assert_eq!(stale_keys.len(), 1);

    redis.pause();
    w.add_unavailability(&w.mia_token, warm[0]).await;
    let while_paused = w.free(w.mia).await;
    assert!(
        !while_paused.contains(&warm[0]),
        "the write shows while Redis hangs"
    );
    assert_eq!(w.readiness().await["cache"], "degraded");

    redis.resume();
    let body = w.wait_for_cache("ok").await;
    assert_eq!(body["cache"], "ok", "{body}");
    let keys = cached_keys(&redis.url(), w.mia).await;
    assert!(
        keys.contains(&stale_keys[0]),
        "Redis came back with its old entry: {keys:?}"
    );
    assert_eq!(
        w.free(w.mia).await,
        while_paused,
        "the old entry is never served"
    );
    w.assert_answers_match_the_database("after Redis resumed")
        .await;
    assert!(
        cached_keys(&redis.url(), w.mia).await.len() >= 2,
        "the new version is cached too"
    );
}

both!(
    cached_free_time_follows_every_change,
    losing_redis_changes_latency_never_answers,
    a_paused_redis_never_serves_stale_free_time,
);
