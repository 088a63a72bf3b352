//! `/api/v1/clients`: which subnet or ClientID gets which policy, as one ordered list.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_config::{ClientKey, ClientRule, IpNetwork};

use super::{JsonBody, bad_request, conflict, edit, not_found, read};
use crate::AdminState;
use crate::openapi::{ApiError, ClientRuleSchema, WriteAnswer};

/// Every client rule, in config order (the longest matching prefix wins, whatever the
/// order).
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients", operation_id = "get_clients",
    responses((status = 200, description = "The client rules", body = [ClientRuleSchema])))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.clients.clone()))
}

/// Replaces every client rule.
#[utoipa::path(put, path = "/api/v1/clients", tag = "clients", operation_id = "replace_clients",
    request_body = [ClientRuleSchema],
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A bad subnet, a duplicate, an unknown policy", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    JsonBody(clients): JsonBody<Vec<ClientRule>>,
) -> Response {
    edit(&state, |config| {
        config.clients = clients;
        Ok(())
    })
    .await
}

/// Adds a client rule at the end.
#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", operation_id = "add_client",
    request_body = ClientRuleSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A bad subnet or an unknown policy", body = ApiError),
        (status = 409, description = "The subnet or ClientID has a rule already", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(client): JsonBody<ClientRule>,
) -> Response {
    edit(&state, |config| {
        let key = client.key();
        if let Some(c) = config.clients.iter().find(|c| c.key() == key) {
            return Err(conflict(format!(
                "{key} has a rule already (policy {:?}); remove it first, or PUT the \
                 whole list",
                c.policy
            )));
        }
        config.clients.push(client);
        Ok(())
    })
    .await
}

/// The query of `DELETE /api/v1/clients`.
#[derive(Deserialize)]
pub(crate) struct RemoveQuery {
    subnet: Option<String>,
    client_id: Option<String>,
}

/// Removes the rule of one subnet, or of one ClientID (the rule that has no subnet and
/// names it first).
#[utoipa::path(delete, path = "/api/v1/clients", tag = "clients", operation_id = "remove_client",
    params(
        ("subnet" = Option<String>, Query, description = "The subnet, e.g. `10.0.20.0/24`"),
        ("client_id" = Option<String>, Query, description = "Or the ClientID of a rule without a subnet, e.g. `kids-phone`"),
    ),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "Neither a subnet nor a ClientID, or not a subnet", body = ApiError),
        (status = 404, description = "No rule for this subnet or ClientID", body = ApiError),
    ))]
pub(crate) async fn remove(
    State(state): State<AdminState>,
    Query(query): Query<RemoveQuery>,
) -> Response {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (text, key) = match (given(&query.subnet), given(&query.client_id)) {
        (Some(text), None) => match text.parse::<IpNetwork>() {
            Ok(n) => (text, ClientKey::Subnet(n.network(), n.prefix())),
            Err(e) => return bad_request(format!("subnet: {text:?}: {e}")).into_response(),
        },
        (None, Some(id)) => (id.clone(), ClientKey::ClientId(id.to_ascii_lowercase())),
        _ => {
            return bad_request(
                "one of subnet and client_id: required, e.g. ?subnet=10.0.20.0/24 or \
                 ?client_id=kids-phone",
            )
            .into_response();
        }
    };
    edit(&state, |config| {
        let Some(i) = config.clients.iter().position(|c| c.key() == key) else {
            let known: Vec<String> = config.clients.iter().map(|c| c.key().to_string()).collect();
            return Err(not_found(
                "client rule for",
                &text,
                known.iter().map(String::as_str),
            ));
        };
        config.clients.remove(i);
        Ok(())
    })
    .await
}
