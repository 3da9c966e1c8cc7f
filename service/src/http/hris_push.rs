//! The HRIS account's whole-company push, read in one pass.
//!
//! `syncEmployees` carries every employee (100,000 of them are 30 MB of
//! JSON). Read as GraphQL values, that list is built, validated, copied and
//! converted several times over: seconds of CPU and hundreds of MB. Here the
//! employees go straight from the body into typed records
//! ([`PushedEmployees`]), and GraphQL gets the rest of the request with an
//! empty `employees` list, so the document, the other fields, the guard and
//! the answer go the ordinary way.
//!
//! Only a request of the plain shape is read so: a short document whose
//! selected operation is a mutation of one field, `syncEmployees(input:
//! $input)`, with no directive; records that are JSON objects with the
//! fields and types of `EmployeeRecordInput` and no control character.
//! Anything else (a batch, another root field beside it, a fragment spread
//! at the root, a directive, an unknown field, a number where a string
//! belongs, a record given as an array, a duplicated key) is read the
//! ordinary way, so every answer, error or not, is the one GraphQL gives.
//! Two costs remain with the fallback: a body found not plain only after
//! its records were read is read twice; and records past
//! [`MAX_EMPLOYEES`] are not kept, only their JSON syntax read (the push is
//! refused for its size either way, and memory stays bounded by the limit,
//! not by the body).

use std::fmt;
use std::marker::PhantomData;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::{Name, Request, Value, Variables};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::domain::hris::MAX_EMPLOYEES;
use crate::domain::text::holds_refused_char;
use crate::graphql::hris::{EmployeeRecordInput, PushedEmployees};
use crate::graphql::limits::{ParsedDocuments, check_nesting};

/// The variable and the field's argument the push travels in.
const VARIABLE: &str = "input";
/// The list read into records.
const EMPLOYEES: &str = "employees";
/// The field the operation must consist of.
const FIELD: &str = "syncEmployees";
/// Most members of `variables` or `input` besides the push: a plain push
/// has a handful. More (a body of millions of keys) is read the ordinary
/// way, so the duplicate check here stays cheap.
const MAX_OTHER_MEMBERS: usize = 32;

/// The request `body` holds, with its employees read into records beside
/// it; None when the body is not a plain push (read it the ordinary way).
/// `max_nesting` is the bracket nesting a document may have before the
/// parser is trusted with it (`GRAPHQL_MAX_NESTING`).
pub fn read(body: &[u8], max_nesting: usize) -> Option<Request> {
    let push: Push = serde_json::from_slice(body).ok()?;
    // The document is checked before it is parsed, as every document is:
    // the parser recurses, and a deep one would overflow its stack.
    if push.query.len() > ParsedDocuments::MAX_TEXT
        || check_nesting(&push.query, max_nesting).is_err()
        || !is_plain_push(&push.query, push.operation_name.as_deref())
    {
        return None;
    }
    let input = push.variables.member;
    let employees = input.member.0;
    if employees
        .iter()
        .any(|record| record.texts().any(holds_refused_char))
    {
        return None;
    }
    let mut input = input.others;
    input.push((Name::new(EMPLOYEES), Value::List(Vec::new())));
    let mut variables = push.variables.others;
    variables.push((
        Name::new(VARIABLE),
        Value::Object(input.into_iter().collect()),
    ));
    let mut request = Request::new(push.query).data(PushedEmployees::new(employees));
    request.operation_name = push.operation_name;
    request.variables = Variables::from_value(Value::Object(variables.into_iter().collect()));
    request.extensions = push.extensions;
    Some(request)
}

/// Whether `query`'s selected operation is a mutation of one field,
/// `syncEmployees(input: $input)`, with no directive on either (what the
/// field selects does not matter: the records are the argument).
fn is_plain_push(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
            Some(operation) => operation,
            None => return false,
        },
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            match operations.values().next() {
                Some(operation) => operation,
                None => return false,
            }
        }
        _ => return false,
    };
    let operation = &operation.node;
    let [only] = operation.selection_set.node.items.as_slice() else {
        return false;
    };
    let Selection::Field(field) = &only.node else {
        return false;
    };
    let field = &field.node;
    let passes_input = matches!(
        field.arguments.as_slice(),
        [(name, value)] if name.node == VARIABLE
            && matches!(&value.node, async_graphql_value::Value::Variable(v) if v == VARIABLE)
    );
    operation.ty == OperationType::Mutation
        && operation.directives.is_empty()
        && operation
            .variable_definitions
            .iter()
            .any(|definition| definition.node.name.node == VARIABLE)
        && field.name.node == FIELD
        && field.directives.is_empty()
        && passes_input
}

/// A GraphQL-over-HTTP request body as async-graphql reads it (unknown
/// members ignored), whose variables hold the push.
#[derive(Deserialize)]
struct Push {
    #[serde(default)]
    query: String,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    variables: Split<Split<Records, EmployeesMember>, InputMember>,
    #[serde(default)]
    extensions: async_graphql::Extensions,
}

/// The `employees` list: JSON objects only (serde would also read a record
/// from an array of its fields, which GraphQL refuses), at most
/// [`MAX_EMPLOYEES`] + 1 of them kept; any further ones are not kept (only
/// their JSON syntax is read), and the push is refused for its size by
/// `hris::sync` as it would be.
struct Records(Vec<EmployeeRecordInput>);

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RecordsVisitor)
    }
}

struct RecordsVisitor;

impl<'de> Visitor<'de> for RecordsVisitor {
    type Value = Records;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of employee records")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
        let kept = seq.size_hint().unwrap_or(0).min(MAX_EMPLOYEES);
        let mut records = Vec::with_capacity(kept);
        while records.len() <= MAX_EMPLOYEES {
            match seq.next_element::<ObjectRecord>()? {
                Some(record) => records.push(record.0),
                None => return Ok(Records(records)),
            }
        }
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Records(records))
    }
}

/// One record, read only from a JSON object.
struct ObjectRecord(EmployeeRecordInput);

impl<'de> Deserialize<'de> for ObjectRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EmployeeRecordInput::deserialize(ObjectsOnly(deserializer)).map(ObjectRecord)
    }
}

/// A deserializer that reads a struct from a map only (serde_json's own
/// also takes an array of the fields in order).
struct ObjectsOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Which member of a JSON object [`Split`] reads as its typed part.
trait Member {
    const NAME: &'static str;
}

/// `variables.input`.
struct InputMember;
impl Member for InputMember {
    const NAME: &'static str = VARIABLE;
}

/// `input.employees`.
struct EmployeesMember;
impl Member for EmployeesMember {
    const NAME: &'static str = EMPLOYEES;
}

/// A JSON object whose member `M::NAME` is read as `T` and the others as
/// GraphQL values, in order. The member must be there, and no key twice.
struct Split<T, M> {
    member: T,
    others: Vec<(Name, Value)>,
    named: PhantomData<M>,
}

impl<'de, T: Deserialize<'de>, M: Member> Deserialize<'de> for Split<T, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SplitVisitor(PhantomData))
    }
}

struct SplitVisitor<T, M>(PhantomData<(T, M)>);

impl<'de, T: Deserialize<'de>, M: Member> Visitor<'de> for SplitVisitor<T, M> {
    type Value = Split<T, M>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "an object with `{}`", M::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut member = None;
        let mut others: Vec<(Name, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if key == M::NAME {
                member.replace(map.next_value::<T>()?).is_some()
            } else {
                if others.len() >= MAX_OTHER_MEMBERS {
                    return Err(de::Error::custom("more members than a push has"));
                }
                let value = map.next_value::<Value>()?;
                let repeated = others.iter().any(|(name, _)| name.as_str() == key);
                others.push((Name::new(key), value));
                repeated
            };
            if repeated {
                return Err(de::Error::custom("a key appears twice"));
            }
        }
        let member = member.ok_or_else(|| de::Error::missing_field(M::NAME))?;
        Ok(Split {
            member,
            others,
            named: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SYNC: &str =
        "mutation Push($input: HrisSyncInput!) { syncEmployees(input: $input) { state created } }";

    fn body(query: &str, employees: serde_json::Value) -> Vec<u8> {
        let input = json!({ "mode": "UPSERT", "source": "workday", "employees": employees });
        json!({ "query": query, "variables": { "input": input } })
            .to_string()
            .into_bytes()
    }

    fn someone() -> serde_json::Value {
        json!([{ "externalId": "E1", "email": "e1@corp.example", "status": "ON_LEAVE", "seniorityLevel": 3 }])
    }

    fn read_plain(body: &[u8]) -> Option<Request> {
        read(body, 64)
    }

    /// The `employees` GraphQL receives (empty when they were taken apart).
    fn employees_left(request: &Request) -> Option<&Value> {
        match request.variables.get(VARIABLE)? {
            Value::Object(input) => input.get(EMPLOYEES),
            _ => None,
        }
    }

    #[test]
    fn a_plain_push_leaves_graphql_an_empty_list_and_the_other_fields() {
        let request = read_plain(&body(SYNC, someone())).unwrap();
        assert_eq!(employees_left(&request), Some(&Value::List(Vec::new())));
        let Some(Value::Object(input)) = request.variables.get(VARIABLE) else {
            panic!("no input");
        };
        assert_eq!(input.get("source"), Some(&Value::String("workday".into())));
        assert_eq!(request.query, SYNC);
    }

    #[test]
    fn any_other_document_shape_is_read_the_ordinary_way() {
        for query in [
            // Another root field beside it.
            "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { state } __typename }",
            // Twice, aliased.
            "mutation($input: HrisSyncInput!) { a: syncEmployees(input: $input) { state } b: syncEmployees(input: $input) { state } }",
            // A fragment, a directive, an inline input, a query.
            "mutation($input: HrisSyncInput!) { ...F } fragment F on MutationRoot { syncEmployees(input: $input) { state } }",
            "mutation($input: HrisSyncInput!, $skip: Boolean!) { syncEmployees(input: $input) @skip(if: $skip) { state } }",
            "mutation($input: HrisSyncInput!) { syncEmployees(input: { mode: UPSERT, source: \"x\", employees: [] }) { state } }",
            "query($input: HrisSyncInput!) { syncEmployees(input: $input) { state } }",
            "mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { state ",
        ] {
            assert!(read_plain(&body(query, someone())).is_none(), "{query}");
        }
    }

    #[test]
    fn records_graphql_would_judge_otherwise_are_read_the_ordinary_way() {
        for employees in [
            json!([{ "externalId": "E1", "email": "e1@corp.example", "nickname": "E" }]),
            json!([{ "externalId": "E1", "email": "e1@corp.example", "seniorityLevel": "3" }]),
            json!([{ "externalId": "E1", "email": "e1@corp.example", "seniorityLevel": 3.5 }]),
            json!([{ "externalId": "E1", "email": "e1@corp.example", "status": "RETIRED" }]),
            json!([{ "email": "e1@corp.example" }]),
            json!([{ "externalId": "E1\u{0}", "email": "e1@corp.example" }]),
            // A record as an array of its fields, a status as an object.
            json!([[
                "E1",
                "e1@corp.example",
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null
            ]]),
            json!([{ "externalId": "E1", "email": "e1@corp.example", "status": { "ACTIVE": null } }]),
            json!([{ "externalId": "E1", "email": "e1@corp.example", "status": "active" }]),
            // A single record where a list belongs (GraphQL coerces it).
            json!({ "externalId": "E1", "email": "e1@corp.example" }),
            json!(null),
        ] {
            assert!(
                read_plain(&body(SYNC, employees.clone())).is_none(),
                "{employees}"
            );
        }
        let twice = br#"{"query":"mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { state } }",
            "variables":{"input":{"mode":"UPSERT","source":"a","source":"b","employees":[]}}}"#;
        assert!(read_plain(twice).is_none(), "a key twice");
    }

    #[test]
    fn a_deep_long_or_key_laden_body_is_left_to_the_ordinary_checks() {
        let deep = format!(
            "{SYNC} query Deep {{ a(b: {}{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(
            read_plain(&body(&deep, someone())).is_none(),
            "never parsed"
        );
        let long = format!("{SYNC} {}", "query Q { __typename } ".repeat(400));
        assert!(read_plain(&body(&long, someone())).is_none());
        let mut keys: serde_json::Value = serde_json::from_slice(&body(SYNC, someone())).unwrap();
        for i in 0..=MAX_OTHER_MEMBERS {
            keys["variables"][format!("v{i}")] = json!(0);
        }
        assert!(read_plain(keys.to_string().as_bytes()).is_none());
    }

    #[test]
    fn records_past_the_most_a_push_may_hold_are_not_kept() {
        let one = json!({ "externalId": "E", "email": "e@corp.example" });
        let mut employees = vec![one; MAX_EMPLOYEES + 5];
        // Past the limit, not even a record's shape is looked at.
        if let Some(last) = employees.last_mut() {
            *last = json!(["not", "a", "record"]);
        }
        let request = read_plain(&body(SYNC, json!(employees))).unwrap();
        assert_eq!(employees_left(&request), Some(&Value::List(Vec::new())));
        let Records(kept) = serde_json::from_value(json!(employees)).unwrap();
        assert_eq!(
            kept.len(),
            MAX_EMPLOYEES + 1,
            "one more than allowed: refused for its size"
        );
    }

    #[test]
    fn a_named_operation_is_chosen_as_graphql_chooses_it() {
        let two = format!("{SYNC} query Other {{ __typename }}");
        let named = |name: &str| {
            let mut value: serde_json::Value =
                serde_json::from_slice(&body(&two, someone())).unwrap();
            value["operationName"] = json!(name);
            value.to_string().into_bytes()
        };
        assert!(read_plain(&named("Push")).is_some());
        assert!(read_plain(&named("Other")).is_none());
        assert!(read_plain(&named("Missing")).is_none());
        assert!(
            read_plain(&body(&two, someone())).is_none(),
            "two operations, none named"
        );
    }
}
