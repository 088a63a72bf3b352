//! `/api/v1/lists`: the filter lists, by id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ward_config::{Config, ListSource};
use ward_state::reload::Trigger;

use super::{JsonBody, Refusal, conflict, edit, names, not_found, read, same_name};
use crate::AdminState;
use crate::api;
use crate::openapi::{
    ApiError, CatalogueEntrySchema, ListSourceSchema, RefreshAnswer, WriteAnswer,
};

fn position(config: &Config, id: &str) -> Result<usize, Refusal> {
    config
        .lists
        .iter()
        .position(|l| l.id == id)
        .ok_or_else(|| not_found("list", id, config.lists.iter().map(|l| l.id.as_str())))
}

/// Ward's catalogue of well-known public lists.
///
/// A list names one with `catalogue: <id>` instead of a `url` (`POST /api/v1/lists` with
/// `{"id": "ads", "catalogue": "adguard-dns"}`). The catalogue ships inside the binary
/// (`blocklists/catalogue.yaml`).
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "lists", operation_id = "get_catalogue",
    responses((status = 200, description = "The catalogue, by category", body = [CatalogueEntrySchema])))]
pub(crate) async fn catalogue() -> Response {
    Json(ward_config::catalogue::entries()).into_response()
}

/// Every filter list, in config order.
#[utoipa::path(get, path = "/api/v1/lists", tag = "lists", operation_id = "get_lists",
    responses((status = 200, description = "The lists", body = [ListSourceSchema])))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.lists.clone()))
}

/// Adds a list at the end.
///
/// Policies use it once their `lists` name it. A URL list is downloaded within a second.
#[utoipa::path(post, path = "/api/v1/lists", tag = "lists", operation_id = "add_list",
    request_body = ListSourceSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid list, or a `path` Ward may not read (not a regular file, or outside `list_dirs`)", body = ApiError),
        (status = 409, description = "A list with this id exists", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(list): JsonBody<ListSource>,
) -> Response {
    edit(&state, |config| {
        if config.lists.iter().any(|l| l.id == list.id) {
            return Err(conflict(format!(
                "list {:?} exists; PUT /api/v1/lists/{} replaces it",
                list.id, list.id
            )));
        }
        config.lists.push(list);
        Ok(())
    })
    .await
}

/// One list.
#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "lists", operation_id = "get_list",
    params(("id" = String, Path, description = "The list's id")),
    responses(
        (status = 200, description = "The list", body = ListSourceSchema),
        (status = 404, description = "No such list", body = ApiError),
    ))]
pub(crate) async fn one(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    read(&state, |config| {
        position(config, &id).map(|i| config.lists[i].clone())
    })
}

/// Replaces a list, e.g. to enable or disable it (`enabled`) or change its source.
///
/// The body is the whole list, with the same `id`.
#[utoipa::path(put, path = "/api/v1/lists/{id}", tag = "lists", operation_id = "replace_list",
    params(("id" = String, Path, description = "The list's id")),
    request_body = ListSourceSchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid list, a `path` Ward may not read (not a regular file, or outside `list_dirs`), or another id in the body", body = ApiError),
        (status = 404, description = "No such list", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    JsonBody(list): JsonBody<ListSource>,
) -> Response {
    edit(&state, |config| {
        let i = position(config, &id)?;
        same_name("id", &id, &list.id)?;
        config.lists[i] = list;
        Ok(())
    })
    .await
}

/// Removes a list that no policy uses.
#[utoipa::path(delete, path = "/api/v1/lists/{id}", tag = "lists", operation_id = "remove_list",
    params(("id" = String, Path, description = "The list's id")),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 404, description = "No such list", body = ApiError),
        (status = 409, description = "Policies still use it (they are named)", body = ApiError),
    ))]
pub(crate) async fn remove(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    edit(&state, |config| {
        let i = position(config, &id)?;
        let users: Vec<String> = config
            .policies
            .iter()
            .filter(|(_, p)| p.lists.contains(&id))
            .map(|(name, _)| name.clone())
            .collect();
        if !users.is_empty() {
            return Err(conflict(format!(
                "list {id:?} is used by policies {}; remove it from their lists first, or \
                 disable it (PUT with \"enabled\": false)",
                names(&users)
            )));
        }
        config.lists.remove(i);
        Ok(())
    })
    .await
}

/// Downloads (URL list) or re-reads (local file) a list now.
///
/// Answers at once; the new copy serves when the download or read is over (see
/// `GET /api/v1/status`). A download wakes the list refresher, which checks every
/// downloaded list: the others are asked whether they changed too (conditional requests,
/// so an unchanged list costs little).
#[utoipa::path(post, path = "/api/v1/lists/{id}/refresh", tag = "lists", operation_id = "refresh_list",
    params(("id" = String, Path, description = "The list's id")),
    responses(
        (status = 202, description = "Started", body = RefreshAnswer),
        (status = 404, description = "No such list", body = ApiError),
        (status = 409, description = "The list is disabled, or downloads are not running", body = ApiError),
    ))]
pub(crate) async fn refresh(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    let Some(control) = state.control() else {
        return api::starting();
    };
    let config = control.reloader.current().config.clone();
    let list = match position(&config, &id) {
        Ok(i) => &config.lists[i],
        Err(refusal) => return refusal.into_response(),
    };
    if !list.enabled {
        return conflict(format!(
            "list {id:?} is disabled; enable it first (PUT with \"enabled\": true)"
        ))
        .into_response();
    }
    let action = if list.download_url().is_some() {
        let Some(check_now) = state.list_refresh() else {
            return conflict("list downloads are not running in this server").into_response();
        };
        check_now.notify_one();
        "downloading"
    } else {
        // A local file: the reloader reads it again if it changed (size, time, inode).
        let reloader = control.reloader.clone();
        let trigger = Trigger::ListFile(id.clone());
        tokio::spawn(async move { reloader.reload(trigger).await });
        "re-reading"
    };
    (
        StatusCode::ACCEPTED,
        Json(RefreshAnswer { list: id, action }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_list_is_named_with_the_known_ones() {
        let config = ward_config::Config::from_yaml(
            "lists: [{ id: ads, path: a.txt }, { id: trackers, path: t.txt }]\n\
             upstreams: { default: { servers: [\"127.0.0.1\"] } }\n\
             policies: { main: { lists: [ads] } }\ndefault_policy: main\n",
        )
        .unwrap();
        assert_eq!(super::position(&config, "trackers").unwrap(), 1);
        let refusal = super::position(&config, "nope").unwrap_err();
        assert_eq!(refusal.status, axum::http::StatusCode::NOT_FOUND);
    }
}
