//! Threat bulletins over HTTP: send, list, read, acknowledge, and the author's receipts. The
//! rules (TLP, recipients, CAP values) and the audit live in `vigie_app::bulletins` and the
//! domain; a bulletin the caller may not read answers 404, as one that does not exist.
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use vigie_domain::BulletinId;
use vigie_domain::bulletin::{Bulletin, BulletinRequest, Receipt, rfc3339};

use crate::AppState;
use crate::assessments::LangParam;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use vigie_app::assessments::lang_of;
use vigie_app::marking::MarkingChange;

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/bulletins"),
    ("post", "/api/v1/bulletins"),
    ("get", "/api/v1/bulletins/{id}"),
    ("post", "/api/v1/bulletins/{id}/ack"),
    ("get", "/api/v1/bulletins/{id}/receipts"),
    ("post", "/api/v1/bulletins/{id}/marking"),
    ("get", "/api/v1/inbox"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bulletins", get(list).post(send))
        .route("/api/v1/bulletins/{id}", get(show))
        .route("/api/v1/bulletins/{id}/ack", post(acknowledge))
        .route("/api/v1/bulletins/{id}/receipts", get(receipts))
        .route("/api/v1/bulletins/{id}/marking", post(change_marking))
        .route("/api/v1/inbox", get(inbox))
}

/// A bulletin with `"threat_level"` also sets the level (authorities); `?lang=fr` writes the
/// checklist actions it creates in French.
async fn send(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<LangParam>,
    ApiJson(body): ApiJson<BulletinRequest>,
) -> Result<Response, ApiError> {
    let level = body.threat_level;
    let draft = body.into_draft()?;
    let body = match level {
        None => state.app.send_bulletin(&caller, draft).await?.to_json(),
        Some(level) => {
            let lang = lang_of(params.lang.as_deref())?;
            let (bulletin, change) = state.app.send_bulletin_setting_level(&caller, draft, level, lang).await?;
            let mut body = bulletin.to_json();
            body["threat_level"] = change.to_json();
            body
        }
    };
    let location = format!("/api/v1/bulletins/{}", body["id"].as_str().unwrap_or_default());
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.app.bulletins(&caller).await?.iter().map(Bulletin::to_json).collect();
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.bulletin(&caller, &id).await?.to_json()))
}

async fn acknowledge(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.acknowledge_bulletin(&caller, &id).await?.to_json()))
}

async fn receipts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.app.bulletin_receipts(&caller, &id).await?.iter().map(Receipt::to_json).collect();
    Ok(Json(json!({ "items": items })))
}

async fn change_marking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
    ApiJson(change): ApiJson<MarkingChange>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.change_bulletin_marking(&caller, &id, change).await?.to_json()))
}

async fn inbox(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let inbox = state.app.inbox(&caller).await?;
    let mut items: Vec<Value> = inbox
        .bulletins
        .iter()
        .map(|(bulletin, receipt)| {
            json!({
                "kind": "bulletin",
                "bulletin": bulletin.summary_json(),
                "receipt": receipt.to_json(),
                "unread": receipt.read_at_ms.is_none(),
            })
        })
        .collect();
    items.extend(
        inbox.invitations.iter().map(|c| json!({"kind": "community_invitation", "community": c, "unread": true})),
    );
    items.extend(inbox.report_updates.iter().map(|(report, changed, seen)| {
        json!({"kind": "report_status", "field_report": report.to_json(), "changed_at": rfc3339(*changed), "unread": !seen})
    }));
    Ok(Json(json!({ "items": items, "unread": inbox.unread })))
}
