//! Tandem: the reverse-mentoring programme service.
//!
//! Request flow: actix-web ([`http`]) → bearer token → [`auth::Caller`] →
//! async-graphql ([`graphql`], limits and mapping only) → business rules in
//! [`domain`] → sea-orm entities (SQLite or PostgreSQL). The [`notify`]
//! loop delivers what the domain wrote to the outbox, off the request path.

pub mod auth;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod exports_http;
pub mod feed_http;
pub mod graphql;
pub mod http;
pub mod instruments;
pub mod notify;
pub mod probe;
pub mod rate_limit;
pub mod scim;
pub mod startup;
pub mod telemetry;
