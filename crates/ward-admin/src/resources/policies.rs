//! `/api/v1/policies`: the filtering policies by name, and each one's custom rules.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use ward_config::{Config, PolicyConfig};
use ward_rules::{RuleSet, SkipReason};

use super::{JsonBody, Named, Refusal, bad_request, conflict, edit, names, not_found, read};
use crate::AdminState;
use crate::openapi::{ApiError, NewPolicySchema, PolicySchema, RuleBody, WriteAnswer};

fn policy<'c>(config: &'c Config, name: &str) -> Result<&'c PolicyConfig, Refusal> {
    config
        .policies
        .get(name)
        .ok_or_else(|| not_found("policy", name, config.policies.keys().map(String::as_str)))
}

fn policy_mut<'c>(config: &'c mut Config, name: &str) -> Result<&'c mut PolicyConfig, Refusal> {
    if !config.policies.contains_key(name) {
        return Err(not_found(
            "policy",
            name,
            config.policies.keys().map(String::as_str),
        ));
    }
    Ok(config.policies.get_mut(name).expect("checked above"))
}

/// The blocked services and safe-search providers a policy can name.
///
/// `blocked_services` takes a service's `id` or a whole `category`; `safe_search` takes
/// the providers' ids. They ship inside the binary (`blocklists/services/`,
/// `blocklists/safesearch/`).
#[utoipa::path(get, path = "/api/v1/services", tag = "policies", operation_id = "get_services",
    responses((status = 200, description = "Services, categories and safe-search providers",
        body = crate::openapi::ServicesAnswer)))]
pub(crate) async fn services() -> Response {
    let services: Vec<_> = ward_config::services::all()
        .iter()
        .map(|s| json!({ "id": s.id, "name": s.name, "category": s.category, "rules": s.rules }))
        .collect();
    let providers: Vec<_> = ward_config::safesearch::all()
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "enforce": p.enforce,
                "moderate": p.moderate,
                "names": p.names.len(),
            })
        })
        .collect();
    Json(json!({
        "services": services,
        "categories": ward_config::services::CATEGORIES,
        "safe_search": providers,
    }))
    .into_response()
}

/// Every policy, by name.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", operation_id = "get_policies",
    responses((status = 200, description = "The policies by name",
        body = std::collections::BTreeMap<String, PolicySchema>)))]
pub(crate) async fn all(State(state): State<AdminState>) -> Response {
    read(&state, |config| Ok(config.policies.clone()))
}

/// Adds a policy.
///
/// Clients get it once a `clients` entry (or `default_policy`) names it.
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", operation_id = "add_policy",
    request_body = NewPolicySchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid policy", body = ApiError),
        (status = 409, description = "A policy with this name exists", body = ApiError),
    ))]
pub(crate) async fn add(
    State(state): State<AdminState>,
    JsonBody(new): JsonBody<Named<PolicyConfig>>,
) -> Response {
    if let Err(refusal) = check_rules(&new.item.rules) {
        return refusal.into_response();
    }
    edit(&state, |config| {
        if config.policies.contains_key(&new.name) {
            return Err(conflict(format!(
                "policy {:?} exists; PUT /api/v1/policies/{} replaces it",
                new.name, new.name
            )));
        }
        config.policies.insert(new.name, new.item);
        Ok(())
    })
    .await
}

/// One policy, as configured (without what it inherits).
#[utoipa::path(get, path = "/api/v1/policies/{name}", tag = "policies", operation_id = "get_policy",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "The policy", body = PolicySchema),
        (status = 404, description = "No such policy", body = ApiError),
    ))]
pub(crate) async fn one(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    read(&state, |config| policy(config, &name).cloned())
}

/// Replaces a policy.
#[utoipa::path(put, path = "/api/v1/policies/{name}", tag = "policies", operation_id = "replace_policy",
    params(("name" = String, Path, description = "The policy's name")),
    request_body = PolicySchema,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "An invalid policy", body = ApiError),
        (status = 404, description = "No such policy", body = ApiError),
    ))]
pub(crate) async fn replace(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    JsonBody(new): JsonBody<PolicyConfig>,
) -> Response {
    if let Err(refusal) = check_rules(&new.rules) {
        return refusal.into_response();
    }
    edit(&state, |config| {
        *policy_mut(config, &name)? = new;
        Ok(())
    })
    .await
}

/// Removes a policy that nothing uses.
#[utoipa::path(delete, path = "/api/v1/policies/{name}", tag = "policies", operation_id = "remove_policy",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 404, description = "No such policy", body = ApiError),
        (status = 409, description = "It is the default policy, or clients or policies use it \
            (they are named)", body = ApiError),
    ))]
pub(crate) async fn remove(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    edit(&state, |config| {
        policy(config, &name)?;
        let mut users = Vec::new();
        if config.default_policy == name {
            users.push("default_policy".to_owned());
        }
        for c in config.clients.iter().filter(|c| c.policy == name) {
            users.push(format!("clients {}", c.key()));
        }
        for (other, p) in &config.policies {
            if p.extends.as_deref() == Some(name.as_str()) {
                users.push(format!("policy {other} (extends)"));
            }
        }
        if !users.is_empty() {
            return Err(conflict(format!(
                "policy {name:?} is used by {}; change them first",
                names(&users)
            )));
        }
        config.policies.remove(&name);
        Ok(())
    })
    .await
}

/// A policy's own custom rules (after the ones it inherits).
#[utoipa::path(get, path = "/api/v1/policies/{name}/rules", tag = "policies", operation_id = "get_policy_rules",
    params(("name" = String, Path, description = "The policy's name")),
    responses(
        (status = 200, description = "The rules, in order", body = [String]),
        (status = 404, description = "No such policy", body = ApiError),
    ))]
pub(crate) async fn rules(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    read(&state, |config| {
        policy(config, &name).map(|p| p.rules.clone())
    })
}

/// Replaces a policy's custom rules.
#[utoipa::path(put, path = "/api/v1/policies/{name}/rules", tag = "policies", operation_id = "replace_policy_rules",
    params(("name" = String, Path, description = "The policy's name")),
    request_body(content = [String], description = "The rules, in AdGuard syntax"),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "A line that is not a rule Ward applies (named)", body = ApiError),
        (status = 404, description = "No such policy", body = ApiError),
    ))]
pub(crate) async fn replace_rules(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    JsonBody(rules): JsonBody<Vec<String>>,
) -> Response {
    if let Err(refusal) = check_rules(&rules) {
        return refusal.into_response();
    }
    edit(&state, |config| {
        policy_mut(config, &name)?.rules = rules;
        Ok(())
    })
    .await
}

/// Adds one custom rule at the end of a policy's rules.
#[utoipa::path(post, path = "/api/v1/policies/{name}/rules", tag = "policies", operation_id = "add_policy_rule",
    params(("name" = String, Path, description = "The policy's name")),
    request_body = RuleBody,
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "Not a rule Ward applies", body = ApiError),
        (status = 404, description = "No such policy", body = ApiError),
        (status = 409, description = "The policy has this rule already", body = ApiError),
    ))]
pub(crate) async fn add_rule(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<NewRule>,
) -> Response {
    let rule = body.rule.trim().to_owned();
    if let Err(refusal) = check_rules(std::slice::from_ref(&rule)) {
        return refusal.into_response();
    }
    edit(&state, |config| {
        let p = policy_mut(config, &name)?;
        if p.rules.contains(&rule) {
            return Err(conflict(format!("policy {name:?} has the rule {rule:?}")));
        }
        p.rules.push(rule);
        Ok(())
    })
    .await
}

/// The body of `POST /api/v1/policies/{name}/rules`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRule {
    rule: String,
}

/// The query of `DELETE /api/v1/policies/{name}/rules`.
#[derive(Deserialize)]
pub(crate) struct RuleQuery {
    rule: Option<String>,
}

/// Removes one custom rule from a policy.
///
/// The rule goes in the query, URL-encoded (`curl -G --data-urlencode 'rule=||x^'`).
#[utoipa::path(delete, path = "/api/v1/policies/{name}/rules", tag = "policies", operation_id = "remove_policy_rule",
    params(
        ("name" = String, Path, description = "The policy's name"),
        ("rule" = String, Query, description = "The rule, exactly as listed (URL-encoded)"),
    ),
    responses(
        (status = 200, description = "Saved and applied", body = WriteAnswer),
        (status = 400, description = "No `rule` given", body = ApiError),
        (status = 404, description = "No such policy, or the policy has no such rule of its \
            own (an inherited one is named with the policy it comes from)", body = ApiError),
    ))]
pub(crate) async fn remove_rule(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(query): Query<RuleQuery>,
) -> Response {
    let Some(rule) = query
        .rule
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return bad_request("rule: required, e.g. ?rule=%7C%7Cads.example%5E").into_response();
    };
    edit(&state, |config| {
        let own = policy(config, &name)?;
        let Some(i) = own.rules.iter().position(|r| r == rule) else {
            let mut from = own.extends.clone();
            let mut seen = vec![name.clone()];
            while let Some(parent) = from.filter(|p| !seen.contains(p)) {
                let Some(p) = config.policies.get(&parent) else {
                    break;
                };
                if p.rules.iter().any(|r| r == rule) {
                    return Err(Refusal::new(
                        StatusCode::NOT_FOUND,
                        format!(
                            "policy {name:?} inherits {rule:?} from policy {parent:?}; \
                             remove it there"
                        ),
                    ));
                }
                from = p.extends.clone();
                seen.push(parent);
            }
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                format!("policy {name:?} has no rule {rule:?}"),
            ));
        };
        policy_mut(config, &name)?.rules.remove(i);
        Ok(())
    })
    .await
}

/// Refuses what is not a rule Ward applies: a blank entry, more than one line, a cosmetic
/// rule, an unsupported modifier, a bad regex... (what a list would skip). Comments
/// (`! ...`) are kept.
/// The query of `GET /api/v1/rules/check`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LineQuery {
    /// One line of a rule list, as typed: a rule, a comment or a hosts line.
    #[param(required = true)]
    rule: Option<String>,
}

/// Would Ward apply this line?
///
/// The web UI's rule editor asks for each line as it is typed. `ok` is false with the
/// `problem` (as a write would be refused) for a line Ward skips; a comment (`!`, `#`)
/// is `ok` and `comment`. Nothing is saved.
#[utoipa::path(get, path = "/api/v1/rules/check", tag = "policies", operation_id = "check_rule",
    params(LineQuery),
    responses(
        (status = 200, description = "The line's verdict", body = Object),
        (status = 400, description = "No `rule`", body = ApiError),
    ))]
pub(crate) async fn check_rule(
    axum::extract::Query(q): axum::extract::Query<LineQuery>,
) -> Response {
    let Some(rule) = q.rule else {
        return bad_request("rule: required, e.g. ?rule=||ads.example^").into_response();
    };
    let trimmed = rule.trim();
    let comment = trimmed.starts_with('!') || trimmed.starts_with('#');
    let problem = shape_problem(&rule)
        .map(str::to_owned)
        .or_else(|| skipped(trimmed));
    axum::Json(serde_json::json!({
        "rule": rule,
        "ok": problem.is_none(),
        "comment": comment && problem.is_none(),
        "problem": problem,
    }))
    .into_response()
}

/// What makes `rule` no single rule at all, before the compiler sees it.
fn shape_problem(rule: &str) -> Option<&'static str> {
    if rule.trim().is_empty() {
        Some("empty")
    } else if rule.contains(['\n', '\r']) {
        Some("one rule per entry: it holds a line break")
    } else {
        None
    }
}

fn check_rules(rules: &[String]) -> Result<(), Refusal> {
    for (i, rule) in rules.iter().enumerate() {
        if let Some(problem) = shape_problem(rule) {
            return Err(bad_request(format!("rules[{i}]: {rule:?}: {problem}")));
        }
    }
    // All at once first: nearly always every rule compiles.
    if skipped(&rules.join("\n")).is_none() {
        return Ok(());
    }
    for (i, rule) in rules.iter().enumerate() {
        if let Some(problem) = skipped(rule) {
            return Err(bad_request(format!("rules[{i}]: {rule:?}: {problem}")));
        }
    }
    Ok(())
}

/// Why the rule compiler skips a line of `text`, if it skips one.
fn skipped(text: &str) -> Option<String> {
    let rules = RuleSet::from_rules("check", text);
    let (_, _, stats) = rules.lists().next()?;
    SkipReason::ALL
        .into_iter()
        .find(|r| stats.skipped(*r) > 0)
        .map(|r| format!("not a rule Ward applies ({r})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_ward_cannot_apply_are_refused_with_their_index() {
        let ok = [
            "||ads.example^",
            "@@||ok.example^",
            "! a note",
            "0.0.0.0 x.example",
        ];
        assert!(check_rules(&ok.map(String::from)).is_ok());
        for bad in [
            "",
            "  ",
            "example.com##.banner",
            "||a.example^$third-party",
            "||a^\n||b^",
        ] {
            let refusal = check_rules(&["||fine.example^".to_owned(), bad.to_owned()]);
            assert_eq!(
                refusal.expect_err(bad).status,
                axum::http::StatusCode::BAD_REQUEST,
                "{bad:?}"
            );
        }
    }
}
