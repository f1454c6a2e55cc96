//! Notifications over HTTP: an organisation's webhooks (its administrator registers and removes
//! them; the signing secret is shown once) and where a bulletin's notifications stand, for its
//! author's organisation. Delivery itself is the application's worker.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_domain::bulletin::rfc3339;
use vigie_domain::{BulletinId, OrgId};
use vigie_store::{Delivery, Webhook};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("get", "/api/v1/bulletins/{id}/deliveries"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route("/api/v1/webhooks/{id}", delete(remove))
        .route("/api/v1/bulletins/{id}/deliveries", get(deliveries))
}

fn webhook_json(hook: &Webhook) -> Value {
    json!({"id": hook.id, "org_id": hook.org_id, "url": hook.url, "created_at": rfc3339(hook.created_at_ms)})
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id, "channel": d.channel, "org_id": d.org_id, "state": d.state, "attempts": d.attempts,
        "next_attempt_at": rfc3339(d.next_attempt_at_ms), "last_error": d.last_error,
        "created_at": rfc3339(d.created_at_ms), "delivered_at": d.delivered_at_ms.map(rfc3339),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgParam {
    org_id: Option<OrgId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    org_id: Option<OrgId>,
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<OrgParam>,
) -> Result<Json<Value>, ApiError> {
    let hooks = state.app.webhooks(&caller, params.org_id.as_ref()).await?;
    Ok(Json(json!({"items": hooks.iter().map(webhook_json).collect::<Vec<_>>()})))
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<Response, ApiError> {
    let (hook, secret) = state.app.create_webhook(&caller, body.org_id.as_ref(), &body.url).await?;
    let mut answer = webhook_json(&hook);
    answer["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_webhook(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    let items = state.app.bulletin_deliveries(&caller, &id).await?;
    Ok(Json(json!({"items": items.iter().map(delivery_json).collect::<Vec<_>>()})))
}
