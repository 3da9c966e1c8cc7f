//! The one mapping from [`AppError`] to GraphQL errors with the contract's
//! `extensions.code`. Internal causes are logged here and never sent.

use async_graphql::{Error, ErrorExtensions};

use crate::error::AppError;

/// The contract's error codes.
pub mod code {
    /// No, invalid or expired token.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// Authenticated, but not allowed.
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// Absent, or hidden from this caller.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Invalid argument; `extensions.field` names it.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// Valid input contradicting current state.
    pub const CONFLICT: &str = "CONFLICT";
    /// Anything else, with a generic message.
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    /// Too many requests from one caller (HTTP 429, `Retry-After`).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// A document that is not in the trusted documents' manifest.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
}

/// The contract's code of a domain error (GraphQL's `extensions.code`, and
/// the same code in the bodies of the REST-like routes: exports).
pub fn code_of(err: &AppError) -> &'static str {
    match err {
        AppError::Unauthenticated => code::UNAUTHENTICATED,
        AppError::Forbidden(_) => code::FORBIDDEN,
        AppError::NotFound(_) => code::NOT_FOUND,
        AppError::BadInput { .. } => code::BAD_USER_INPUT,
        AppError::Conflict(_) | AppError::Retry => code::CONFLICT,
        AppError::Internal(_) => code::INTERNAL,
    }
}

/// Converts a domain error into a GraphQL error carrying its code.
pub fn to_graphql(err: AppError) -> Error {
    let code = code_of(&err);
    match err {
        AppError::BadInput { field, message } => Error::new(message).extend_with(|_, e| {
            e.set("code", code);
            e.set("field", field.as_str());
        }),
        AppError::Conflict(message) => Error::new(message).extend_with(|_, e| e.set("code", code)),
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error while resolving");
            Error::new("internal error").extend_with(|_, e| e.set("code", code))
        }
        other => Error::new(other.to_string()).extend_with(|_, e| e.set("code", code)),
    }
}

/// `.gql()` on domain results: the only way resolvers surface domain errors.
pub trait GqlResultExt<T> {
    /// Maps the error with [`to_graphql`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql)
    }
}

/// The input field async-graphql's validation names in an "Invalid value for
/// argument" message (`"input.startsAt", expected type "DateTime"`): the
/// last named segment of the path, as the client spelled it. Errors raised by
/// async-graphql itself carry no `field`; this gives them one like ours.
pub fn invalid_argument_field(message: &str) -> Option<&str> {
    let path = message
        .strip_prefix("Invalid value for argument \"")?
        .split('"')
        .next()?;
    path.rsplit('.')
        .find(|segment| !segment.is_empty() && !segment.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_the_last_named_segment_of_the_argument_path() {
        let message = r#"Invalid value for argument "input.startsAt", expected type "DateTime""#;
        assert_eq!(invalid_argument_field(message), Some("startsAt"));
        let listed = r#"Invalid value for argument "input.topicSkillIds.0", expected type "UUID""#;
        assert_eq!(invalid_argument_field(listed), Some("topicSkillIds"));
        let top = r#"Invalid value for argument "from", expected type "DateTime""#;
        assert_eq!(invalid_argument_field(top), Some("from"));
        assert_eq!(invalid_argument_field("Unknown field \"x\""), None);
    }

    #[test]
    fn a_lost_transaction_is_a_conflict_to_try_again() {
        let shown = to_graphql(AppError::Retry);
        let code = shown.extensions.as_ref().and_then(|e| e.get("code"));
        assert_eq!(code, Some(&async_graphql::Value::from(code::CONFLICT)));
        assert!(shown.message.contains("try again"), "{}", shown.message);
    }
}
