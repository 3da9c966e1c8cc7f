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
//! Only a request of the plain shape is read so: one operation, a mutation
//! whose only field is `syncEmployees(input: $input)`, records with the
//! fields and types of `EmployeeRecordInput` and no control character.
//! Anything else (a batch, aliases of the field beside others, fragments,
//! directives, an unknown field, a number where a string belongs, a
//! duplicated key) is read the ordinary way, so every answer, error or not,
//! is the one GraphQL gives.

use std::fmt;
use std::marker::PhantomData;

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::{Name, Request, Value, Variables};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::domain::text::holds_refused_char;
use crate::graphql::hris::{EmployeeRecordInput, PushedEmployees};

/// The variable and the field's argument the push travels in.
const VARIABLE: &str = "input";
/// The list read into records.
const EMPLOYEES: &str = "employees";
/// The field the operation must consist of.
const FIELD: &str = "syncEmployees";

/// The request `body` holds, with its employees read into records beside
/// it; None when the body is not a plain push (read it the ordinary way).
pub fn read(body: &[u8]) -> Option<Request> {
    let push: Push = serde_json::from_slice(body).ok()?;
    let input = push.variables.member;
    let employees = input.member;
    if employees
        .iter()
        .any(|record| record.texts().any(holds_refused_char))
    {
        return None;
    }
    if !is_plain_push(&push.query, push.operation_name.as_deref()) {
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
/// `syncEmployees(input: $input)`, with no directive and no fragment.
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
        && field.selection_set.node.items.iter().all(|selection| {
            matches!(&selection.node, Selection::Field(inner) if inner.node.directives.is_empty())
        })
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
    variables: Split<Split<Vec<EmployeeRecordInput>, EmployeesMember>, InputMember>,
    #[serde(default)]
    extensions: async_graphql::Extensions,
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

    /// The `employees` GraphQL receives (empty when they were taken apart).
    fn employees_left(request: &Request) -> Option<&Value> {
        match request.variables.get(VARIABLE)? {
            Value::Object(input) => input.get(EMPLOYEES),
            _ => None,
        }
    }

    #[test]
    fn a_plain_push_leaves_graphql_an_empty_list_and_the_other_fields() {
        let request = read(&body(SYNC, someone())).unwrap();
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
            assert!(read(&body(query, someone())).is_none(), "{query}");
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
            // A single record where a list belongs (GraphQL coerces it).
            json!({ "externalId": "E1", "email": "e1@corp.example" }),
            json!(null),
        ] {
            assert!(
                read(&body(SYNC, employees.clone())).is_none(),
                "{employees}"
            );
        }
        let twice = br#"{"query":"mutation($input: HrisSyncInput!) { syncEmployees(input: $input) { state } }",
            "variables":{"input":{"mode":"UPSERT","source":"a","source":"b","employees":[]}}}"#;
        assert!(read(twice).is_none(), "a key twice");
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
        assert!(read(&named("Push")).is_some());
        assert!(read(&named("Other")).is_none());
        assert!(read(&named("Missing")).is_none());
        assert!(
            read(&body(&two, someone())).is_none(),
            "two operations, none named"
        );
    }
}
