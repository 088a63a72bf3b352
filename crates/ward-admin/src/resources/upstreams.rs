//! `/api/v1/upstreams`: the named groups of upstream resolvers.

use axum::extract::{Path, State};
use axum::response::Response;
use ward_config::{Config, UpstreamGroupConfig};

use super::{JsonBody, Named, Refusal, conflict, edit, names, not_found, read};
use crate::AdminState;
use crate::openapi::{ApiError, NewUpstreamGroupSchema, UpstreamGroupSchema, WriteAnswer};

fn group<'c>(config: &'c Config, name: &str) -> Result<&'c UpstreamGroupConfig, Refusal> {
    config.upstreams.get(name).ok_or_else(|| {
        not_found(
            "upstream group",
            name,
            config.upstreams.keys().map(String::as_str),
        )
    })
}

/// Every upstream group, by name.
#[utoipa::path(get, path = "/api/v1/upstreams", tag = "upstreams", operation_id = "get_upstreams",
    responses((status = 200, description = "The groups by name",
        body = std::collections::BTreeMap<String, UpstreamGroupSchema>)))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.upstreams.clone()))
}

/// Adds an upstream group.
///
/// Policies (`upstream`) and forward rules use it once they name it; a policy that names
/// none uses the group `default`.
#[utoipa::path(post, path = "/api/v1/upstreams", tag = "upstreams", operation_id = "add_upstream",
    request_body = NewUpstreamGroupSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid group", body = ApiError),
        (status = 409, description = "A group with this name exists", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(new): JsonBody<Named<UpstreamGroupConfig>>,
) -> Response {
    edit(&state, |config| {
        if config.upstreams.contains_key(&new.name) {
            return Err(conflict(format!(
                "upstream group {:?} exists; PUT /api/v1/upstreams/{} replaces it",
                new.name, new.name
            )));
        }
        config.upstreams.insert(new.name, new.item);
        Ok(())
    })
    .await
}

/// One upstream group.
#[utoipa::path(get, path = "/api/v1/upstreams/{name}", tag = "upstreams", operation_id = "get_upstream",
    params(("name" = String, Path, description = "The group's name")),
    responses(
        (status = 200, description = "The group", body = UpstreamGroupSchema),
        (status = 404, description = "No such group", body = ApiError),
    ))]
pub(crate) async fn one(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    read(&state, |config| group(config, &name).cloned())
}

/// Replaces an upstream group.
#[utoipa::path(put, path = "/api/v1/upstreams/{name}", tag = "upstreams", operation_id = "replace_upstream",
    params(("name" = String, Path, description = "The group's name")),
    request_body = UpstreamGroupSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid group", body = ApiError),
        (status = 404, description = "No such group", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    JsonBody(new): JsonBody<UpstreamGroupConfig>,
) -> Response {
    edit(&state, |config| {
        group(config, &name)?;
        config.upstreams.insert(name, new);
        Ok(())
    })
    .await
}

/// Removes an upstream group that no policy or forward rule uses.
#[utoipa::path(delete, path = "/api/v1/upstreams/{name}", tag = "upstreams", operation_id = "remove_upstream",
    params(("name" = String, Path, description = "The group's name")),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 404, description = "No such group", body = ApiError),
        (status = 409, description = "Policies or forward rules use it (they are named)",
            body = ApiError),
    ))]
pub(crate) async fn remove(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    edit(&state, |config| {
        group(config, &name)?;
        // Policies that name it, inherit it, or fall back to it (`default`).
        let mut users: Vec<String> = config
            .effective_policies()
            .into_iter()
            .filter(|p| p.upstream == name)
            .map(|p| format!("policy {}", p.name))
            .collect();
        for (i, rule) in config.forward.iter().enumerate() {
            if rule.upstream == name {
                users.push(format!("forward[{i}] ({})", rule.zones.join(", ")));
            }
        }
        if !users.is_empty() {
            return Err(conflict(format!(
                "upstream group {name:?} is used by {}; change them first",
                names(&users)
            )));
        }
        config.upstreams.remove(&name);
        Ok(())
    })
    .await
}
