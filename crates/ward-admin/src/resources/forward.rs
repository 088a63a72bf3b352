//! `/api/v1/forward`: conditional forwarding, the zones that go to an upstream group of
//! their own (the local domain and the private reverse zones, to the router), as one list.

use axum::extract::State;
use axum::response::Response;
use ward_config::ForwardRule;

use super::{JsonBody, edit, read};
use crate::AdminState;
use crate::openapi::{ApiError, ForwardRuleSchema, WriteAnswer};

/// Every forward rule, in config order.
#[utoipa::path(get, path = "/api/v1/forward", tag = "upstreams", operation_id = "get_forward",
    responses((status = 200, description = "The forward rules", body = [ForwardRuleSchema])))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.forward.clone()))
}

/// Replaces every forward rule.
///
/// Each zone's names (and the zone itself) are sent to the rule's upstream group, the
/// longest zone winning; a zone named twice is refused.
#[utoipa::path(put, path = "/api/v1/forward", tag = "upstreams", operation_id = "replace_forward",
    request_body = [ForwardRuleSchema],
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A bad zone, a zone named twice, or an unknown upstream \
            group", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    JsonBody(rules): JsonBody<Vec<ForwardRule>>,
) -> Response {
    edit(&state, |config| {
        config.forward = rules;
        Ok(())
    })
    .await
}
