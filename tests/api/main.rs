//! Black-box tests of the Tandem service: each test starts the real HTTP
//! server on port 0 over its own fresh database and talks to it with real
//! signed tokens. Every test runs on SQLite and, when `TEST_DATABASE_URL`
//! points at PostgreSQL, on PostgreSQL too; the cache tests use Redis when
//! `TEST_REDIS_URL` is set. One binary, so one link step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod idp;
mod notify_peers;
mod redis_server;

mod auth;
mod authorization;
mod batching;
mod cache;
mod calendar;
mod calendar_feed;
mod calendar_import;
mod compiled_reads;
mod constraints;
mod delegations;
mod enrolments;
mod exports;
mod federation;
mod graphiql;
mod graphql_over_http;
mod hardening;
mod health;
mod hris;
mod joined_reads;
mod main_screen;
mod matching;
mod metrics;
mod notifications;
mod notify_replicas;
mod pairing_health;
mod pairing_races;
mod pairings;
mod people;
mod platform_metrics;
mod pool;
mod privacy;
mod programme_lifecycle;
mod programmes;
mod protections;
mod rate_limits;
mod scim;
mod seed;
mod sessions;
mod skills;
mod trusted_documents;
