//! The rules' settings in force: read from the environment once
//! (`config.rs`), handed to the API through one value in the GraphQL
//! context, and passed to the domain functions that obey them. The defaults
//! are written here, once.

use super::matching::Weights;
use super::matching::run::MatchSettings;
use super::pairings::PairingRules;

/// Everything configurable that a business rule obeys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleSettings {
    /// Who may be paired with whom (`MATCH_EXCLUDED_CHAIN_DEPTH`).
    pub pairing: PairingRules,
    /// Relative weights of the matcher's score terms (`MATCH_WEIGHTS`).
    pub match_weights: Weights,
    /// Share of active employees a FULL_SNAPSHOT may deactivate without
    /// override (`HRIS_MAX_DEACTIVATION_RATIO`).
    pub hris_max_deactivation_ratio: f64,
    /// The k-anonymity threshold of metrics (`MIN_GROUP_SIZE`).
    pub min_group_size: u32,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            pairing: PairingRules::default(),
            match_weights: Weights::default(),
            hris_max_deactivation_ratio: 0.1,
            min_group_size: 5,
        }
    }
}

impl RuleSettings {
    /// What the matcher obeys.
    pub fn matching(&self) -> MatchSettings {
        MatchSettings {
            rules: self.pairing,
            weights: self.match_weights,
        }
    }
}
