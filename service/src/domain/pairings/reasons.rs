//! Why the matcher proposed a pairing, as stored in `pairings.reasons`: one
//! typed value, written by the matcher and read by the API the same way, so
//! a renamed field fails loudly instead of silently emptying the reasons.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// One term of a matching score, explained for the programme team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchReason {
    /// SKILL_COVERAGE, AVAILABILITY_OVERLAP, CROSS_DEPARTMENT, TIMEZONE or GENERATION_GAP.
    pub kind: String,
    /// A sentence naming what the term found.
    pub detail: String,
    /// The term's share of the score (its normalised weight).
    pub weight: f64,
}

/// The stored form of a pairing's reasons (a JSON array).
pub fn to_stored(reasons: &[MatchReason]) -> serde_json::Value {
    serde_json::to_value(reasons).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
}

/// A pairing's reasons read back; a stored value that is not a list of
/// reasons is an internal error (logged), never an empty list.
pub fn from_stored(stored: &serde_json::Value) -> AppResult<Vec<MatchReason>> {
    Vec::<MatchReason>::deserialize(stored).map_err(|e| {
        AppError::Internal(anyhow::Error::new(e).context("stored match reasons are malformed"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_as_written() {
        let reasons = vec![MatchReason {
            kind: "TIMEZONE".into(),
            detail: "Same time zone".into(),
            weight: 0.15,
        }];
        assert_eq!(from_stored(&to_stored(&reasons)).unwrap(), reasons);
        assert_eq!(from_stored(&serde_json::json!([])).unwrap(), vec![]);
    }

    #[test]
    fn a_renamed_key_is_an_error_not_an_empty_list() {
        let renamed = serde_json::json!([{ "type": "TIMEZONE", "detail": "x", "weight": 0.1 }]);
        assert!(from_stored(&renamed).is_err());
        let extra =
            serde_json::json!([{ "kind": "TIMEZONE", "detail": "x", "weight": 0.1, "value": 1 }]);
        assert!(from_stored(&extra).is_err());
    }
}
