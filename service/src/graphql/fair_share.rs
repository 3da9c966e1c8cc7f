//! One caller's share of the database: at most `GRAPHQL_MAX_PARALLEL_PER_CALLER`
//! root query fields of one caller (by token subject) resolve at once, over
//! all of that caller's requests to this replica (every worker thread).
//! async-graphql resolves a query's root fields concurrently, so without
//! this one request of thirty expensive aliases, sent five times at once,
//! would ask the pool for 150 connections; with it, that caller waits for
//! its own fields and everyone else keeps the rest of the pool.
//!
//! The gate wraps the query root ([`Gated`]) rather than being a schema
//! extension: with any extension registered, async-graphql sends every
//! field of every response through the extension chain (≈ 15 % of a nested
//! query's instructions, docs/benchmarks.md), where only the root fields
//! need the gate. Mutations are not gated: their root fields already run
//! one after another.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult, Value,
};
use tokio::sync::Semaphore;

use super::context::RequestData;
use super::observability::RootStarted;

/// The query root `Q` with each of its fields (entity lookups included)
/// resolved within the caller's share ([`CallerShare`], from the schema's
/// data); the schema sees `Q` itself (same name, same fields). Being the
/// query root's one wrapper, it also marks that execution began
/// ([`RootStarted`]).
#[derive(Default)]
pub struct Gated<Q>(pub Q);

impl<Q: ContainerType> Gated<Q> {
    /// Runs `work` within the share of the request's caller (ungated when
    /// the schema or the request has none: tests, introspection tools).
    async fn within_share<T>(ctx: &Context<'_>, work: impl Future<Output = T>) -> T {
        match (ctx.data_opt::<CallerShare>(), ctx.data_opt::<RequestData>()) {
            (Some(share), Some(data)) => share.run(&data.caller.subject, work).await,
            _ => work.await,
        }
    }
}

impl<Q: ContainerType> ContainerType for Gated<Q> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        mark_started(ctx);
        Self::within_share(ctx, self.0.resolve_field(ctx)).await
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        mark_started(ctx);
        Self::within_share(ctx, self.0.find_entity(ctx, params)).await
    }
}

/// Tells the HTTP layer that execution began ([`RootStarted`]), when it
/// asked to know.
fn mark_started(ctx: &Context<'_>) {
    if let Some(started) = ctx.data_opt::<RootStarted>() {
        started.mark();
    }
}

impl<Q: ContainerType> OutputType for Gated<Q> {
    fn type_name() -> Cow<'static, str> {
        Q::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Q::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<Q: ObjectType> ObjectType for Gated<Q> {}

/// The gates of the callers with a root field running, by subject.
#[derive(Clone)]
pub struct CallerShare {
    permits: usize,
    gates: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl CallerShare {
    /// At most `permits` (≥ 1) root query fields of one caller at once.
    pub fn new(permits: usize) -> Self {
        Self {
            permits: permits.max(1),
            gates: Arc::default(),
        }
    }

    /// Runs `work` once the caller `subject` has a free place. The place is
    /// given back however the future ends, a timeout dropping it included.
    pub async fn run<T>(&self, subject: &str, work: impl Future<Output = T>) -> T {
        let held = Held {
            share: self,
            subject,
            gate: Some(self.gate_of(subject)),
        };
        let permit = match &held.gate {
            Some(gate) => gate.acquire().await.ok(),
            None => None,
        };
        let result = work.await;
        drop(permit);
        drop(held);
        result
    }

    fn gate_of(&self, subject: &str) -> Arc<Semaphore> {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gates
            .entry(subject.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.permits)))
            .clone()
    }

    /// Forgets the caller's gate when nobody else holds it (the map only
    /// holds callers with work in progress).
    fn release(&self, subject: &str, gate: Arc<Semaphore>) {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Ours goes first, under the lock (where clones are made): the map's
        // reference alone means nobody else holds or waits for the gate.
        drop(gate);
        if gates
            .get(subject)
            .is_some_and(|kept| Arc::strong_count(kept) == 1)
        {
            gates.remove(subject);
        }
    }

    /// How many callers have work in progress (tests).
    pub fn callers_in_progress(&self) -> usize {
        self.gates.lock().map_or(0, |gates| gates.len())
    }
}

/// A caller's hold on its gate: forgets the gate when dropped (after the
/// permit, which is declared later and so dropped first).
struct Held<'a> {
    share: &'a CallerShare,
    subject: &'a str,
    gate: Option<Arc<Semaphore>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            self.share.release(self.subject, gate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Runs `tasks` gated tasks for `subject`, each yielding while it holds
    /// its place; answers the most that were ever inside at once.
    async fn most_at_once(share: &CallerShare, subjects: &[&str], tasks: usize) -> usize {
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut running = tokio::task::JoinSet::new();
        for i in 0..tasks {
            let (share, inside, most) = (share.clone(), inside.clone(), most.clone());
            let subject = subjects[i % subjects.len()].to_owned();
            running.spawn(async move {
                share
                    .run(&subject, async {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        for _ in 0..10 {
                            tokio::task::yield_now().await;
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        while running.join_next().await.is_some() {}
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_caller_never_holds_more_than_its_places() {
        let share = CallerShare::new(3);
        for _ in 0..20 {
            assert!(most_at_once(&share, &["alice"], 40).await <= 3);
        }
        assert_eq!(share.callers_in_progress(), 0, "gates are forgotten");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_future_dropped_midway_gives_its_place_back() {
        let share = CallerShare::new(1);
        let stuck = share.run("alice", std::future::pending::<()>());
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(1), stuck).await;
        assert!(timed_out.is_err());
        assert_eq!(share.callers_in_progress(), 0, "the gate is forgotten");
        let next = share.run("alice", async { "next" });
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), next).await;
        assert_eq!(next.ok(), Some("next"), "the place was given back");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_callers_are_not_held_back_by_one() {
        let share = CallerShare::new(1);
        let (finish_alice, alice_may_finish) = tokio::sync::oneshot::channel::<()>();
        let alice = tokio::spawn({
            let share = share.clone();
            async move { share.run("alice", alice_may_finish).await.is_ok() }
        });
        while share.callers_in_progress() == 0 {
            tokio::task::yield_now().await;
        }
        // Alice holds her only place until Bob is done: Bob must not wait.
        let bob = share.run("bob", async { "bob done" });
        let bob = tokio::time::timeout(std::time::Duration::from_secs(10), bob).await;
        assert_eq!(bob.ok(), Some("bob done"));
        let _ = finish_alice.send(());
        assert!(alice.await.unwrap_or(false));
        assert_eq!(share.callers_in_progress(), 0);
    }

    /// A query root whose one field counts how many of its resolutions run
    /// at once (the counters are the schema's data).
    #[derive(Default)]
    struct Probe;

    struct Inside(AtomicUsize);
    struct Most(AtomicUsize);

    #[async_graphql::Object]
    impl Probe {
        async fn slow(&self, ctx: &Context<'_>) -> i32 {
            let (inside, most) = (ctx.data_unchecked::<Inside>(), ctx.data_unchecked::<Most>());
            let now = inside.0.fetch_add(1, Ordering::SeqCst) + 1;
            most.0.fetch_max(now, Ordering::SeqCst);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            inside.0.fetch_sub(1, Ordering::SeqCst);
            1
        }
    }

    /// The most root fields of one eight-alias query that resolved at once
    /// through a schema whose root is gated with `places`.
    async fn most_root_fields_at_once(places: usize) -> usize {
        let schema = async_graphql::Schema::build(
            Gated::<Probe>::default(),
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        )
        .data(CallerShare::new(places))
        .data(Inside(AtomicUsize::new(0)))
        .data(Most(AtomicUsize::new(0)))
        .finish();
        let caller = crate::auth::Caller {
            subject: "alice".into(),
            employee_id: None,
            roles: Default::default(),
        };
        let request = async_graphql::Request::new(
            "{ a: slow b: slow c: slow d: slow e: slow f: slow g: slow h: slow }",
        )
        .data(RequestData::new(caller, "r".into()));
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        schema
            .data::<Most>()
            .map_or(0, |most| most.0.load(Ordering::SeqCst))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gated_root_resolves_a_callers_fields_within_their_places() {
        assert_eq!(most_root_fields_at_once(1).await, 1);
        assert!(most_root_fields_at_once(3).await <= 3);
        // Ungated, async-graphql runs all eight at once: the gate is what
        // holds them back.
        assert!(most_root_fields_at_once(8).await > 3);
    }
}
