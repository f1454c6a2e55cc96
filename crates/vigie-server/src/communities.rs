//! Communities over HTTP: create, invite an organisation, accept, leave, list mine, read one
//! with its members. The rules and the audit live in `vigie_app::communities`; a community the
//! caller is not in answers 404, as one that does not exist.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_domain::{CommunityId, OrgId};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/communities"),
    ("post", "/api/v1/communities"),
    ("get", "/api/v1/communities/{id}"),
    ("post", "/api/v1/communities/{id}/members"),
    ("post", "/api/v1/communities/{id}/join"),
    ("post", "/api/v1/communities/{id}/leave"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/communities", get(list).post(create))
        .route("/api/v1/communities/{id}", get(show))
        .route("/api/v1/communities/{id}/members", post(invite))
        .route("/api/v1/communities/{id}/join", post(join))
        .route("/api/v1/communities/{id}/leave", post(leave))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommunityBody {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CommunityBody>,
) -> Result<Response, ApiError> {
    let community = state.app.create_community(&caller, &body.name).await?;
    Ok((StatusCode::CREATED, Json(community)).into_response())
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state
        .app
        .my_communities(&caller)
        .await?
        .into_iter()
        .map(|(community, membership)| {
            let mut item = json!(community);
            item["membership"] = json!(membership);
            item
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<CommunityId>,
) -> Result<Json<Value>, ApiError> {
    let view = state.app.community(&caller, &id).await?;
    let mut body = json!(view.community);
    body["members"] = json!(view.members);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    org_id: OrgId,
}

async fn invite(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<CommunityId>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Response, ApiError> {
    let membership = state.app.invite_to_community(&caller, &id, &body.org_id).await?;
    Ok((StatusCode::CREATED, Json(membership)).into_response())
}

async fn join(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<CommunityId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.app.join_community(&caller, &id).await?)))
}

async fn leave(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<CommunityId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.app.leave_community(&caller, &id).await?)))
}
