//! PATCH operations (RFC 7644 §3.5.2) read into changes of the employee
//! record: `add` and `replace` as the attributes they set, `remove` as the
//! attributes it unassigns, with the rules of `domain::hris::directory::unassign`.

use serde_json::{Map, Value};

use super::{ScimError, USER_SCHEMA, apply_attributes};
use crate::domain::hris::EmployeeRecord;
use crate::domain::hris::directory::{self, Attribute};

/// Applies one operation to `record`; `key` is the externalId, which may not change.
pub(super) fn apply_operation(
    record: &mut EmployeeRecord,
    operation: &Value,
    key: &str,
) -> Result<(), ScimError> {
    let op = operation["op"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = operation["path"].as_str();
    match op.as_str() {
        "add" | "replace" => {
            let value = operation.get("value").cloned().unwrap_or(Value::Null);
            let attributes = operation_attributes(path, value)?;
            apply_attributes(record, &attributes, Some(key))
        }
        "remove" => remove(record, path),
        _ => Err(ScimError::invalid(
            "invalidSyntax",
            format!("unknown op `{op}`"),
        )),
    }
}

/// The attributes an `add` or `replace` sets, as a (partial) user object.
fn operation_attributes(path: Option<&str>, value: Value) -> Result<Map<String, Value>, ScimError> {
    let Some(path) = path else {
        return match value {
            Value::Object(map) => Ok(map),
            _ => Err(ScimError::invalid(
                "invalidValue",
                "an operation without path needs an object value",
            )),
        };
    };
    let path = local(path);
    let lower = path.to_ascii_lowercase();
    let mut attributes = Map::new();
    if let Some(part) = lower.strip_prefix("name.") {
        let mut name = Map::new();
        name.insert(part.to_owned(), value);
        attributes.insert("name".to_owned(), Value::Object(name));
    } else if lower.starts_with("emails") {
        // Tandem holds one address, the work email (userName): only an
        // operation naming it (primary, or type work) changes it. Any other
        // address is one Tandem does not hold, and is left alone — never
        // taken for the person's identity.
        if let Some(email) = work_email(&lower, &value) {
            attributes.insert("userName".to_owned(), Value::String(email));
        }
    } else {
        attributes.insert(path.to_owned(), value);
    }
    Ok(attributes)
}

/// The work email an `emails` operation sets, if it names it: a filter
/// on `primary eq true` or `type eq "work"`, an object or list item marked
/// so, or a bare `emails.value`.
fn work_email(path: &str, value: &Value) -> Option<String> {
    let filter = path
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(filter, _)| filter);
    let names_work =
        |text: &str| text.contains("primary eq true") || text.contains("type eq \"work\"");
    let marked = |item: &Value| {
        item["primary"] == Value::Bool(true)
            || item["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("work"))
    };
    if filter.is_some_and(|f| !names_work(f)) {
        return None;
    }
    match value {
        Value::String(email) => Some(email.clone()),
        Value::Object(_) if filter.is_some() || marked(value) => {
            value["value"].as_str().map(str::to_owned)
        }
        Value::Array(items) => items
            .iter()
            .find(|item| marked(item))
            .and_then(|item| item["value"].as_str())
            .map(str::to_owned),
        _ => None,
    }
}

/// `path` without the User schema's URN, which may qualify it
/// (`urn:ietf:params:scim:schemas:core:2.0:User:title`).
fn local(path: &str) -> &str {
    let path = path.trim();
    let qualified = USER_SCHEMA.len() + 1;
    match path.get(..qualified) {
        Some(prefix) if prefix.eq_ignore_ascii_case(&format!("{USER_SCHEMA}:")) => {
            &path[qualified..]
        }
        _ => path,
    }
}

/// A PATCH path: attribute, value filter, sub-attribute (RFC 7644 §3.5.2),
/// the attribute and sub-attribute in lower case.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    attribute: String,
    filter: Option<&'a str>,
    sub: Option<String>,
}

impl<'a> Target<'a> {
    fn parse(raw: &'a str) -> Result<Self, ScimError> {
        let invalid = || ScimError::invalid("invalidPath", format!("`{raw}` is not a valid path"));
        let local = local(raw);
        let (head, filter, tail) = match local.split_once('[') {
            Some((head, rest)) => {
                let (filter, tail) = rest.rsplit_once(']').ok_or_else(invalid)?;
                (head, Some(filter.trim()), tail)
            }
            None => match local.split_once('.') {
                Some((head, _)) => (head, None, &local[head.len()..]),
                None => (local, None, ""),
            },
        };
        let sub = match tail {
            "" => None,
            _ => Some(tail.strip_prefix('.').ok_or_else(invalid)?),
        };
        if head.is_empty() || sub.is_some_and(str::is_empty) {
            return Err(invalid());
        }
        Ok(Self {
            attribute: head.to_ascii_lowercase(),
            filter,
            sub: sub.map(str::to_ascii_lowercase),
        })
    }
}

/// `remove` (RFC 7644 §3.5.2.2): unassigns what `path` names. Attributes
/// Tandem does not hold are ignored, as they are in `add` and `replace`.
fn remove(record: &mut EmployeeRecord, path: Option<&str>) -> Result<(), ScimError> {
    let Some(raw) = path.filter(|p| !p.trim().is_empty()) else {
        return Err(ScimError::invalid(
            "noTarget",
            "a remove operation needs a path",
        ));
    };
    let target = Target::parse(raw)?;
    if target.attribute == "emails" {
        return remove_email(record, &target);
    }
    let attributes: &[Attribute] = match (target.attribute.as_str(), target.sub.as_deref()) {
        ("name", None) => &[Attribute::GivenName, Attribute::FamilyName],
        ("name", Some("givenname")) => &[Attribute::GivenName],
        ("name", Some("familyname")) => &[Attribute::FamilyName],
        ("displayname", None) => &[Attribute::DisplayName],
        ("title", None) => &[Attribute::JobTitle],
        ("timezone", None) => &[Attribute::Timezone],
        ("active", None) => &[Attribute::Status],
        ("username", None) => &[Attribute::Email],
        ("externalid", None) => &[Attribute::ExternalId],
        _ => &[],
    };
    if target.filter.is_some() && !attributes.is_empty() {
        return Err(ScimError::invalid(
            "invalidPath",
            format!("`{raw}`: only a multi-valued attribute takes a filter"),
        ));
    }
    for attribute in attributes {
        unassign(record, *attribute)?;
    }
    Ok(())
}

fn unassign(record: &mut EmployeeRecord, attribute: Attribute) -> Result<(), ScimError> {
    // What every employee must have cannot be unassigned: RFC 7644 §3.5.2
    // answers an operation the attribute's mutability forbids with `mutability`.
    directory::unassign(record, attribute)
        .map_err(|refused| ScimError::invalid("mutability", refused.to_string()))
}

/// Removes the addresses `target` selects. Tandem holds one, the work email
/// (shown as the primary work address): removing it, or its value, is
/// refused; an address Tandem does not hold was never kept, so removing it
/// changes nothing (the client may still believe it sent a second one).
fn remove_email(record: &mut EmployeeRecord, target: &Target) -> Result<(), ScimError> {
    let selects_held = match target.filter {
        None => true,
        Some(filter) => held_email_matches(filter, &record.email)?,
    };
    if !selects_held {
        return Ok(());
    }
    match target.sub.as_deref() {
        None | Some("value") => unassign(record, Attribute::Email),
        Some(sub) => Err(ScimError::invalid(
            "mutability",
            format!(
                "Tandem's address is always the primary work address: `{sub}` cannot be removed"
            ),
        )),
    }
}

/// Whether a value filter (`value eq "…"`, `type eq "work"`, `primary eq
/// true`, joined by `and`/`or`) selects the one address Tandem holds, `email`.
fn held_email_matches(filter: &str, email: &str) -> Result<bool, ScimError> {
    let words = words(filter)?;
    let invalid = || {
        ScimError::invalid(
            "invalidFilter",
            format!("unsupported filter `{filter}`: value, type or primary eq …, joined by and/or"),
        )
    };
    let mut any = false;
    for alternative in words.split(|w| w.eq_ignore_ascii_case("or")) {
        let mut all = true;
        for comparison in alternative.split(|w| w.eq_ignore_ascii_case("and")) {
            let [attribute, op, value] = comparison else {
                return Err(invalid());
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid());
            }
            let value = value.trim_matches('"');
            all &= match attribute.to_ascii_lowercase().as_str() {
                "value" => value.trim().eq_ignore_ascii_case(email.trim()),
                "type" => value.eq_ignore_ascii_case("work"),
                "primary" => value.eq_ignore_ascii_case("true"),
                _ => false,
            };
        }
        any |= all;
    }
    Ok(any)
}

/// The words of a filter, a quoted string (with no quote inside) being one.
fn words(filter: &str) -> Result<Vec<&str>, ScimError> {
    let mut words = Vec::new();
    let mut rest = filter.trim_start();
    while !rest.is_empty() {
        let end = match rest.strip_prefix('"') {
            Some(quoted) => quoted.find('"').map(|i| i + 2),
            None => Some(rest.find(char::is_whitespace).unwrap_or(rest.len())),
        }
        .ok_or_else(|| ScimError::invalid("invalidFilter", "unterminated string in filter"))?;
        words.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(raw: &str) -> (String, Option<&str>, Option<String>) {
        let t = Target::parse(raw).unwrap();
        (t.attribute, t.filter, t.sub)
    }

    #[test]
    fn paths_read_with_their_filter_and_sub_attribute() {
        assert_eq!(target("displayName"), ("displayname".into(), None, None));
        assert_eq!(
            target("name.givenName"),
            ("name".into(), None, Some("givenname".into()))
        );
        assert_eq!(
            target(&format!("{USER_SCHEMA}:timezone")),
            ("timezone".into(), None, None)
        );
        assert_eq!(
            target("emails[type eq \"work\"].value"),
            (
                "emails".into(),
                Some("type eq \"work\""),
                Some("value".into())
            )
        );
        for bad in [
            "",
            "emails[value eq \"a\"",
            "emails[type eq \"work\"]x",
            "name.",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_filters_select_the_held_address_only() {
        let held = "a@corp.example";
        for (filter, selects) in [
            ("value eq \"A@corp.example\"", true),
            ("value eq \"b@corp.example\"", false),
            ("type eq \"work\"", true),
            ("type eq \"home\"", false),
            ("type eq \"work\" and primary eq true", true),
            ("type eq \"home\" or value eq \"a@corp.example\"", true),
            ("display eq \"x\"", false),
        ] {
            assert_eq!(
                held_email_matches(filter, held).unwrap(),
                selects,
                "{filter}"
            );
        }
        for bad in ["value co \"a\"", "value eq", "value eq \"a"] {
            assert!(held_email_matches(bad, held).is_err(), "{bad}");
        }
    }

    #[test]
    fn remove_needs_a_path_and_refuses_what_every_employee_has() {
        let mut record = EmployeeRecord {
            email: "a@corp.example".into(),
            ..Default::default()
        };
        for (path, scim_type) in [
            (None, "noTarget"),
            (Some("  "), "noTarget"),
            (Some("active"), "mutability"),
            (Some("userName"), "mutability"),
            (Some("emails"), "mutability"),
            (Some("emails[value eq \"a@corp.example\"]"), "mutability"),
            (Some("displayName[value eq \"x\"]"), "invalidPath"),
        ] {
            let refused = remove(&mut record, path).unwrap_err();
            assert_eq!(refused.scim_type, Some(scim_type), "{path:?}");
        }
        remove(&mut record, Some("emails[value eq \"b@corp.example\"]")).unwrap();
        remove(&mut record, Some("phoneNumbers[type eq \"work\"]")).unwrap();
        assert_eq!(record.email, "a@corp.example");
    }
}
