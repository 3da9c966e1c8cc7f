//! What text input may hold. PostgreSQL refuses a NUL byte in text (SQLite
//! would store it) and no field of ours needs a control character, so every
//! entry point (GraphQL, SCIM) refuses them before anything is stored or
//! searched, the same way on both databases.

/// Whether `c` is refused in text input: every control character but tab,
/// line feed and carriage return (notes and purposes have lines).
pub fn is_refused_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `text` holds a character [`is_refused_char`] refuses.
pub fn holds_refused_char(text: &str) -> bool {
    text.chars().any(is_refused_char)
}

/// Whether any string in a JSON document (keys included) holds one.
/// Recursion is bounded by serde_json's own nesting limit (128).
pub fn json_holds_refused_char(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => holds_refused_char(text),
        Value::Array(items) => items.iter().any(json_holds_refused_char),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| holds_refused_char(key) || json_holds_refused_char(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_refused() {
        for text in ["a\u{0}b", "\u{7}", "esc\u{1b}[2J", "\u{7f}", "c1\u{85}"] {
            assert!(holds_refused_char(text), "{text:?}");
        }
    }

    #[test]
    fn tabs_line_breaks_and_letters_of_any_script_pass() {
        for text in ["a\tb", "two\nlines\r\n", "Zoë Ωμέγα 東京", ""] {
            assert!(!holds_refused_char(text), "{text:?}");
        }
    }

    #[test]
    fn json_is_searched_in_keys_and_nested_values() {
        let nested = serde_json::json!({ "a": [{ "b": "ok" }, { "c": ["x\u{0}"] }] });
        assert!(json_holds_refused_char(&nested));
        assert!(json_holds_refused_char(&serde_json::json!({ "k\u{1}": 1 })));
        assert!(!json_holds_refused_char(
            &serde_json::json!({ "k": ["fine", 1, null] })
        ));
    }
}
