//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which
//! attributes a response carries, for every response holding a user (GET,
//! list, search, and the bodies of POST, PUT and PATCH). Names are
//! case-insensitive and may be qualified by the User schema's URN or name a
//! sub-attribute (`name.givenName`, `emails.value`). `id` and `schemas` are
//! always returned; names Tandem does not return select nothing.

use serde_json::{Map, Value};

use super::USER_SCHEMA;

/// Attributes returned whatever is asked (RFC 7643 §3.1: `id` is "always").
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// One attribute named by a client, in lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Named {
    attribute: String,
    sub: Option<String>,
}

impl Named {
    /// Reads `raw` (`userName`, `name.givenName`, `urn:…:User:title`); None when empty.
    fn parse(raw: &str) -> Option<Self> {
        let lower = raw.trim().to_ascii_lowercase();
        let qualified = format!("{}:", USER_SCHEMA.to_ascii_lowercase());
        let local = lower.strip_prefix(&qualified).unwrap_or(&lower);
        if local.is_empty() {
            return None;
        }
        Some(match local.split_once('.') {
            // An extension's URN holds dots: it selects nothing Tandem returns.
            Some((attribute, sub)) if !attribute.starts_with("urn:") => Self {
                attribute: attribute.to_owned(),
                sub: Some(sub.to_owned()),
            },
            _ => Self {
                attribute: local.to_owned(),
                sub: None,
            },
        })
    }
}

/// Distinct attribute names one list may hold.
const MAX_NAMES: usize = 64;

/// The attributes a client asked for (`only`) or asked to leave out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Projection {
    only: Vec<Named>,
    excluded: Vec<Named>,
}

impl Projection {
    /// From the two lists of names (comma-separated in a query string,
    /// arrays in a SearchRequest: both arrive here as single names).
    pub(super) fn new<'a>(
        attributes: impl IntoIterator<Item = &'a str>,
        excluded: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        // A user has about a dozen attributes: past MAX_NAMES distinct
        // names, the rest are ignored (the work per user stays bounded).
        let names = |list: Vec<&str>| -> Vec<Named> {
            let mut distinct: Vec<Named> = Vec::new();
            for named in list
                .iter()
                .flat_map(|item| item.split(','))
                .filter_map(Named::parse)
            {
                if distinct.len() == MAX_NAMES {
                    break;
                }
                if !distinct.contains(&named) {
                    distinct.push(named);
                }
            }
            distinct
        };
        Self {
            only: names(attributes.into_iter().collect()),
            excluded: names(excluded.into_iter().collect()),
        }
    }

    /// `resource` with only the attributes asked for.
    pub(super) fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut map) = resource else {
            return resource;
        };
        if !self.only.is_empty() {
            map = self.keep_only(map);
        }
        for named in &self.excluded {
            exclude(&mut map, named);
        }
        Value::Object(map)
    }

    fn keep_only(&self, map: Map<String, Value>) -> Map<String, Value> {
        let mut kept = Map::new();
        for (key, value) in map {
            let lower = key.to_ascii_lowercase();
            if ALWAYS.contains(&lower.as_str()) {
                kept.insert(key, value);
                continue;
            }
            let asked: Vec<&Named> = self.only.iter().filter(|n| n.attribute == lower).collect();
            if asked.iter().any(|n| n.sub.is_none()) {
                kept.insert(key, value);
            } else if !asked.is_empty() {
                let subs: Vec<&str> = asked.iter().filter_map(|n| n.sub.as_deref()).collect();
                if let Some(part) = only_subs(value, &subs) {
                    kept.insert(key, part);
                }
            }
        }
        kept
    }
}

/// The sub-attributes `subs` of a complex value (of each, for a multi-valued
/// one); None when nothing is left.
fn only_subs(value: Value, subs: &[&str]) -> Option<Value> {
    let keep = |item: Value| match item {
        Value::Object(parts) => {
            let kept: Map<String, Value> = parts
                .into_iter()
                .filter(|(k, _)| subs.contains(&k.to_ascii_lowercase().as_str()))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        _ => None,
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.into_iter().filter_map(keep).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => keep(other),
    }
}

/// Removes `named` from `map`, and a complex attribute left empty with it.
fn exclude(map: &mut Map<String, Value>, named: &Named) {
    if ALWAYS.contains(&named.attribute.as_str()) {
        return;
    }
    let Some(key) = map
        .keys()
        .find(|k| k.to_ascii_lowercase() == named.attribute)
        .cloned()
    else {
        return;
    };
    let Some(sub) = &named.sub else {
        map.remove(&key);
        return;
    };
    let strip = |item: &mut Value| {
        if let Value::Object(parts) = item {
            parts.retain(|k, _| k.to_ascii_lowercase() != *sub);
        }
    };
    let empty = match map.get_mut(&key) {
        Some(Value::Array(items)) => {
            items.iter_mut().for_each(strip);
            items.retain(|item| item.as_object().is_none_or(|o| !o.is_empty()));
            items.is_empty()
        }
        Some(other) => {
            strip(other);
            other.as_object().is_some_and(Map::is_empty)
        }
        None => false,
    };
    if empty {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "42",
            "externalId": "E-42",
            "userName": "a@corp.example",
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "emails": [{ "value": "a@corp.example", "type": "work", "primary": true }],
            "meta": { "resourceType": "User" },
        })
    }

    #[test]
    fn attributes_keep_id_schemas_and_what_is_named() {
        let only = Projection::new(["externalId,NAME.givenName"], []);
        assert_eq!(
            only.apply(user()),
            json!({
                "schemas": [USER_SCHEMA],
                "id": "42",
                "externalId": "E-42",
                "name": { "givenName": "Ada" },
            })
        );
        let qualified = Projection::new([format!("{USER_SCHEMA}:emails.value").as_str()], []);
        assert_eq!(
            qualified.apply(user())["emails"],
            json!([{ "value": "a@corp.example" }])
        );
    }

    #[test]
    fn excluded_attributes_go_but_id_and_schemas_stay() {
        let without = Projection::new([], ["name", "id", "schemas", "emails.type", "meta"]);
        let user = without.apply(user());
        assert_eq!(user["name"], Value::Null);
        assert_eq!(user["meta"], Value::Null);
        assert_eq!(user["id"], "42");
        assert_eq!(user["schemas"], json!([USER_SCHEMA]));
        assert_eq!(
            user["emails"],
            json!([{ "value": "a@corp.example", "primary": true }])
        );
        let both_parts = Projection::new([], ["name.givenName", "name.familyName"]);
        assert_eq!(both_parts.apply(super::tests::user())["name"], Value::Null);
    }

    #[test]
    fn nothing_asked_changes_nothing() {
        assert_eq!(Projection::default().apply(user()), user());
        assert_eq!(Projection::new([" ", ""], [""]), Projection::default());
    }
}
