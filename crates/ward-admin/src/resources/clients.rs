//! `/api/v1/clients`: which subnet gets which policy, as one ordered list.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use ward_config::{ClientRule, IpNetwork};

use super::{JsonBody, bad_request, conflict, edit, not_found, read};
use crate::AdminState;
use crate::openapi::{ApiError, ClientRuleSchema, WriteAnswer};

/// The same subnet, however it was written (`10.0.0.0/8` and `10.0.0.0/8`, but also a
/// bare `10.0.0.1` and `10.0.0.1/32`).
fn same_subnet(a: &IpNetwork, b: &IpNetwork) -> bool {
    a.network() == b.network() && a.prefix() == b.prefix()
}

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
        (status = 409, description = "The subnet has a rule already", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(client): JsonBody<ClientRule>,
) -> Response {
    edit(&state, |config| {
        if let Some(c) = config
            .clients
            .iter()
            .find(|c| same_subnet(&c.subnet, &client.subnet))
        {
            return Err(conflict(format!(
                "subnet {} has a rule already (policy {:?}); remove it first, or PUT the \
                 whole list",
                c.subnet, c.policy
            )));
        }
        config.clients.push(client);
        Ok(())
    })
    .await
}

/// The query of `DELETE /api/v1/clients`.
#[derive(Deserialize)]
pub(crate) struct SubnetQuery {
    subnet: Option<String>,
}

/// Removes the rule of one subnet.
#[utoipa::path(delete, path = "/api/v1/clients", tag = "clients", operation_id = "remove_client",
    params(("subnet" = String, Query, description = "The subnet, e.g. `10.0.20.0/24`")),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "No subnet, or not a subnet", body = ApiError),
        (status = 404, description = "No rule for this subnet", body = ApiError),
    ))]
pub(crate) async fn remove(
    State(state): State<AdminState>,
    Query(query): Query<SubnetQuery>,
) -> Response {
    let Some(text) = query
        .subnet
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return bad_request("subnet: required, e.g. ?subnet=10.0.20.0/24").into_response();
    };
    let subnet: IpNetwork = match text.parse() {
        Ok(subnet) => subnet,
        Err(e) => return bad_request(format!("subnet: {text:?}: {e}")).into_response(),
    };
    edit(&state, |config| {
        let Some(i) = config
            .clients
            .iter()
            .position(|c| same_subnet(&c.subnet, &subnet))
        else {
            let known: Vec<String> = config
                .clients
                .iter()
                .map(|c| c.subnet.to_string())
                .collect();
            return Err(not_found(
                "client rule for subnet",
                text,
                known.iter().map(String::as_str),
            ));
        };
        config.clients.remove(i);
        Ok(())
    })
    .await
}
