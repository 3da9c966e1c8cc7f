//! Pairings: a mentor junior in seniority to each of their mentees, outside
//! each other's close management chain, within the mentor's places and the
//! programme's format. Read top to bottom:
//!
//! - [`rules`]: what makes a pairing allowed, as pure functions — shared by
//!   hand pairing, the acceptance of proposals and the matcher;
//! - [`lifecycle`]: every change of status (create, decide, pause, resume,
//!   end, programme close, withdrawal, HRIS leavers) under one concurrency
//!   guard, the lock of the programme's row;
//! - [`members`]: who is in a pairing and who may see it (queries);
//! - [`reasons`]: why the matcher proposed a pairing, one typed value;
//! - [`health`]: how a pairing does against its cadence (one rule);
//! - [`screen`]: the intranet's main screen in one narrow statement.

pub mod health;
pub mod joined;
pub mod lifecycle;
pub mod members;
pub mod reasons;
pub mod rules;
pub mod screen;

pub use lifecycle::{create, decide, end, pause, resume};
pub use members::{
    by_ids, get, get_as_participant, goals_of, list, mentees_of, mine, mine_with, participants,
};
pub use rules::PairingRules;
