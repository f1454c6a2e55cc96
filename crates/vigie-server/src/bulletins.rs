//! Threat bulletins over HTTP: send, list, read, acknowledge, and the author's receipts. The
//! rules (TLP, recipients, CAP values) and the audit live in `vigie_app::bulletins` and the
//! domain; a bulletin the caller may not read answers 404, as one that does not exist.
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_domain::bulletin::{Bulletin, BulletinDraft, Receipt, Texts};
use vigie_domain::sharing::{Marking, Recipients};
use vigie_domain::{BulletinId, CommunityId, DomainError, OrgId, SiteId, UserId};

use crate::AppState;
use crate::api::rfc3339;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/bulletins"),
    ("post", "/api/v1/bulletins"),
    ("get", "/api/v1/bulletins/{id}"),
    ("post", "/api/v1/bulletins/{id}/ack"),
    ("get", "/api/v1/bulletins/{id}/receipts"),
    ("get", "/api/v1/inbox"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/bulletins", get(list).post(send))
        .route("/api/v1/bulletins/{id}", get(show))
        .route("/api/v1/bulletins/{id}/ack", post(acknowledge))
        .route("/api/v1/bulletins/{id}/receipts", get(receipts))
        .route("/api/v1/inbox", get(inbox))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientsBody {
    #[serde(default)]
    communities: Vec<CommunityId>,
    #[serde(default)]
    orgs: Vec<OrgId>,
    #[serde(default)]
    users: Vec<UserId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulletinBody {
    title: Texts,
    text: Texts,
    #[serde(default)]
    instruction: Texts,
    marking: String,
    #[serde(default)]
    recipients: RecipientsBody,
    area: Option<Value>,
    #[serde(default)]
    sites: Vec<SiteId>,
    scenario: Option<String>,
    urgency: String,
    severity: String,
    certainty: String,
    response_type: String,
    status: String,
    effective: String,
    expires: Option<String>,
    references: Option<BulletinId>,
    #[serde(default = "alert")]
    msg_type: String,
}

fn alert() -> String {
    "Alert".to_owned()
}

/// An RFC 3339 time ("2026-12-07T18:00:00+02:00") as milliseconds since the epoch.
fn time_ms(field: &str, text: &str) -> Result<i64, DomainError> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|_| {
        DomainError::validation(field, format!("'{text}' is not an RFC 3339 time such as 2026-12-07T18:00:00+02:00"))
    })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| DomainError::validation(field, "the time is out of range"))
}

impl BulletinBody {
    fn into_draft(self) -> Result<BulletinDraft, DomainError> {
        Ok(BulletinDraft {
            title: self.title,
            text: self.text,
            instruction: self.instruction,
            marking: Marking::parse(&self.marking)?,
            recipients: Recipients {
                communities: self.recipients.communities,
                orgs: self.recipients.orgs,
                users: self.recipients.users,
            },
            area: self.area,
            sites: self.sites,
            scenario: self.scenario,
            urgency: self.urgency,
            severity: self.severity,
            certainty: self.certainty,
            response_type: self.response_type,
            status: self.status,
            msg_type: self.msg_type,
            references: self.references,
            effective_ms: time_ms("effective", &self.effective)?,
            expires_ms: self.expires.as_deref().map(|t| time_ms("expires", t)).transpose()?,
        })
    }
}

fn view(b: &Bulletin) -> Value {
    let d = &b.draft;
    json!({
        "id": b.id,
        "author_org": b.author_org,
        "created_at": rfc3339(b.created_at_ms),
        "title": d.title,
        "text": d.text,
        "instruction": d.instruction,
        "marking": d.marking.label(),
        "recipients": {"communities": d.recipients.communities, "orgs": d.recipients.orgs, "users": d.recipients.users},
        "area": d.area,
        "sites": d.sites,
        "scenario": d.scenario,
        "urgency": d.urgency,
        "severity": d.severity,
        "certainty": d.certainty,
        "response_type": d.response_type,
        "status": d.status,
        "msg_type": d.msg_type,
        "references": d.references,
        "effective": rfc3339(d.effective_ms),
        "expires": d.expires_ms.map(rfc3339),
    })
}

fn receipt_view(r: &Receipt) -> Value {
    json!({
        "org_id": r.org_id,
        "delivered_at": rfc3339(r.delivered_at_ms),
        "read_at": r.read_at_ms.map(rfc3339),
        "acked_at": r.acked_at_ms.map(rfc3339),
    })
}

async fn send(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<BulletinBody>,
) -> Result<Response, ApiError> {
    let bulletin = state.app.send_bulletin(&caller, body.into_draft()?).await?;
    let location = format!("/api/v1/bulletins/{}", bulletin.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view(&bulletin))).into_response())
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.app.bulletins(&caller).await?.iter().map(view).collect();
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&state.app.bulletin(&caller, &id).await?)))
}

async fn acknowledge(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(receipt_view(&state.app.acknowledge_bulletin(&caller, &id).await?)))
}

async fn receipts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<BulletinId>,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.app.bulletin_receipts(&caller, &id).await?.iter().map(receipt_view).collect();
    Ok(Json(json!({ "items": items })))
}

async fn inbox(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let inbox = state.app.inbox(&caller).await?;
    let mut items: Vec<Value> = inbox
        .bulletins
        .iter()
        .map(|(bulletin, receipt)| {
            json!({
                "kind": "bulletin",
                "bulletin": view(bulletin),
                "receipt": receipt_view(receipt),
                "unread": receipt.read_at_ms.is_none(),
            })
        })
        .collect();
    items.extend(
        inbox.invitations.iter().map(|c| json!({"kind": "community_invitation", "community": c, "unread": true})),
    );
    Ok(Json(json!({ "items": items, "unread": inbox.unread })))
}
