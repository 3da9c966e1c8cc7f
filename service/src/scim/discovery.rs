//! What Tandem's SCIM service is, for validators and identity providers that
//! read it before provisioning (RFC 7643 §5–7, RFC 7644 §4):
//! `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`. Static, public
//! like `/ServiceProviderConfig` always was (they describe the service, no
//! one's data). The User schema declares exactly the attributes
//! [`super::user_json`] returns: validators build their model from it and
//! refuse any attribute it does not declare.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{LIST_SCHEMA, MAX_COUNT, ScimError, USER_SCHEMA, finish, scim_json};

const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// The schemas served, the User first: Tandem's one resource, then the
/// service provider's own (RFC 7643 §8.7.2), which validators also expect.
const SCHEMA_FILES: [&str; 4] = [
    include_str!("schemas/User.json"),
    include_str!("schemas/ServiceProviderConfig.json"),
    include_str!("schemas/ResourceType.json"),
    include_str!("schemas/Schema.json"),
];

/// The schema files, parsed once (a unit test proves each parses).
static SCHEMAS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    SCHEMA_FILES
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
});

/// The User resource type, Tandem's only one.
fn user_resource_type() -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "Employees",
        "schema": USER_SCHEMA,
        "meta": {
            "resourceType": "ResourceType",
            "location": "/scim/v2/ResourceTypes/User",
        },
    })
}

/// What the service supports, as it really does: PATCH, `eq` filters on
/// userName, externalId and emails.value; no bulk, sort, ETag or password change.
fn config() -> Value {
    json!({
        "schemas": [CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_COUNT },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A token of the identity provider with the hris role",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": "/scim/v2/ServiceProviderConfig",
        },
    })
}

/// A ListResponse holding all of `resources` (discovery has no paging).
fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

/// RFC 7644 §4: a filter on a discovery endpoint SHOULD be refused, so that
/// no client takes the full list for the filtered one.
fn refuse_filter(req: &HttpRequest) -> Result<(), ScimError> {
    let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(|_| ScimError::invalid("invalidSyntax", "malformed query string"))?;
    if params.contains_key("filter") {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            None,
            "discovery endpoints take no filter",
        ));
    }
    Ok(())
}

/// `GET /ServiceProviderConfig`.
pub(super) async fn service_provider_config() -> HttpResponse {
    scim_json(StatusCode::OK, &config())
}

/// `GET /Schemas`.
pub(super) async fn schemas(req: HttpRequest) -> HttpResponse {
    finish(refuse_filter(&req).map(|()| scim_json(StatusCode::OK, &list_of(SCHEMAS.clone()))))
}

/// `GET /Schemas/{id}`: one schema by its URN.
pub(super) async fn schema(id: web::Path<String>) -> HttpResponse {
    let found = SCHEMAS.iter().find(|s| s["id"] == id.as_str());
    finish(
        found
            .map(|schema| scim_json(StatusCode::OK, schema))
            .ok_or_else(|| not_found("schema", &id)),
    )
}

/// `GET /ResourceTypes`.
pub(super) async fn resource_types(req: HttpRequest) -> HttpResponse {
    let list = list_of(vec![user_resource_type()]);
    finish(refuse_filter(&req).map(|()| scim_json(StatusCode::OK, &list)))
}

/// `GET /ResourceTypes/{id}`.
pub(super) async fn resource_type(id: web::Path<String>) -> HttpResponse {
    let user = user_resource_type();
    finish(if user["id"] == id.as_str() {
        Ok(scim_json(StatusCode::OK, &user))
    } else {
        Err(not_found("resource type", &id))
    })
}

fn not_found(what: &str, id: &str) -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        format!("{what} `{id}` not found"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_parses_and_names_itself() {
        assert_eq!(SCHEMAS.len(), SCHEMA_FILES.len());
        for schema in SCHEMAS.iter() {
            let id = schema["id"].as_str().unwrap_or_default();
            assert!(id.starts_with("urn:ietf:params:scim:schemas:core:2.0:"));
            assert_eq!(
                schema["meta"]["location"],
                format!("/scim/v2/Schemas/{id}"),
                "{id}"
            );
        }
        assert_eq!(SCHEMAS[0]["id"], USER_SCHEMA);
    }
}
