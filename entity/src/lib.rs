//! Tandem's tables as sea-orm entities: one module per table, plain data.
//!
//! Entities carry no business rule and are never exposed through GraphQL
//! directly: the service maps them to its own API types, so the database can
//! evolve without breaking the contract.

pub mod enums;

pub mod audit_log;
pub mod calendar_feed;
pub mod delegation;
pub mod department;
pub mod dev_signing_key;
pub mod employee;
pub mod enrolment;
pub mod erased_identity;
pub mod goal;
pub mod hris_row_error;
pub mod hris_sync_run;
pub mod mentoring_session;
pub mod notification;
pub mod notification_preference;
pub mod pairing;
pub mod pairing_mentee;
pub mod programme;
pub mod retention_run;
pub mod session_feedback;
pub mod session_topic;
pub mod skill;
pub mod skill_assessment;
pub mod skill_profile;
pub mod unavailability;
pub mod weekly_slot;
