//! `/api/v1`: JSON in, JSON out, every call authenticated and checked against the caller's
//! organisation and role.
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_app::hvm::{RecommendationRequest, StudyRequest};
use vigie_app::sites::{SiteDraft, SiteQuery};
use vigie_domain::access::{OrgKind, Principal};
use vigie_domain::site::{Lang, SiteCategory, SiteInput};
use vigie_domain::{OrgId, SiteId, TokenId};
use vigie_store::Site;

use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::throttle::ClientAddress;

/// Every route of the API, as `(method, path)`: the OpenAPI document must describe each one
/// (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/orgs"),
    ("post", "/api/v1/orgs"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/site-categories"),
    ("get", "/api/v1/sites"),
    ("post", "/api/v1/sites"),
    ("get", "/api/v1/sites/{id}"),
    ("put", "/api/v1/sites/{id}"),
    ("delete", "/api/v1/sites/{id}"),
    ("get", "/api/v1/sites/{id}/hvm"),
    ("post", "/api/v1/sites/{id}/hvm"),
    ("post", "/api/v1/sites/{id}/hvm/recommendation"),
    ("get", "/api/v1/library/search"),
    ("get", "/api/v1/library/documents"),
    ("post", "/api/v1/library/documents"),
    ("get", "/api/v1/library/documents/{id}"),
    ("post", "/api/v1/library/documents/{id}/marking"),
    ("get", "/api/v1/library/passages/{id}"),
    ("get", "/api/v1/library/duplicates"),
    ("get", "/api/v1/library/related"),
];

/// Every route of the API, for the OpenAPI check.
pub fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    ROUTES
        .iter()
        .chain(crate::assessments::ROUTES)
        .chain(crate::communities::ROUTES)
        .chain(crate::bulletins::ROUTES)
        .chain(crate::reports::ROUTES)
        .chain(crate::threat_levels::ROUTES)
        .chain(crate::notifications::ROUTES)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/orgs", get(list_orgs).post(create_org))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/site-categories", get(site_categories))
        .route("/api/v1/sites", get(list_sites).post(create_site))
        .route("/api/v1/sites/{id}", get(get_site).put(update_site).delete(delete_site))
        .route("/api/v1/sites/{id}/hvm", get(latest_hvm_study).post(run_hvm_study))
        .route("/api/v1/sites/{id}/hvm/recommendation", post(hvm_recommendation))
        .route("/api/v1/library/search", get(crate::library::search))
        .route(
            "/api/v1/library/documents",
            get(crate::library::list_documents).post(crate::library::upload).layer(crate::library::upload_body_limit()),
        )
        .route("/api/v1/library/documents/{id}", get(crate::library::get_document))
        .route("/api/v1/library/documents/{id}/marking", post(crate::library::change_marking))
        .route("/api/v1/library/passages/{id}", get(crate::library::get_passage))
        .route("/api/v1/library/duplicates", get(crate::library::duplicates))
        .route("/api/v1/library/related", get(crate::library::related))
        .merge(crate::assessments::routes())
        .merge(crate::communities::routes())
        .merge(crate::bulletins::routes())
        .merge(crate::reports::routes())
        .merge(crate::threat_levels::routes())
        .merge(crate::notifications::routes())
        .fallback(crate::ui::unknown_route)
        .method_not_allowed_fallback(|| async {
            ApiError::new(vigie_domain::Code::MethodNotAllowed, "this route does not accept that HTTP method")
        })
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "backend": state.app.backend(), "version": env!("CARGO_PKG_VERSION")}))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], crate::openapi::DOCUMENT).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
    /// The authenticator app's code, for an account with a second factor.
    #[serde(default)]
    pub code: Option<String>,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody").field("email", &self.email).field("password", &"***").finish()
    }
}

/// Signs in and returns the caller and the session cookie to set.
pub async fn open_session(
    state: &AppState,
    body: &LoginBody,
    address: Option<std::net::IpAddr>,
) -> Result<(Principal, String), ApiError> {
    let session = state.app.sign_in(&body.email, &body.password, body.code.as_deref(), address).await?;
    let cookie = session_cookie_of(state, &session);
    Ok((session.principal, cookie))
}

/// The `Set-Cookie` value that hands a new session to the browser.
pub fn session_cookie_of(state: &AppState, session: &vigie_app::accounts::Session) -> String {
    let secure = if state.config.cookie_secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.secret, session.max_age_s
    )
}

/// Ends the browser's session; returns the cookie that clears it.
pub async fn close_session(
    state: &AppState,
    session_cookie: Option<&str>,
    caller: &Principal,
) -> Result<String, ApiError> {
    state.app.sign_out(caller, session_cookie).await?;
    Ok(crate::auth::cleared_session_cookie())
}

async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let (principal, cookie) = open_session(&state, &body, address).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(me_json(&state, &principal).await?)).into_response())
}

async fn logout(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let cookie = close_session(&state, crate::auth::session_cookie(&parts), &caller).await?;
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

async fn me_json(state: &AppState, caller: &Principal) -> Result<Value, ApiError> {
    let me = state.app.me(caller).await?;
    Ok(json!({
        "user_id": me.principal.user_id,
        "email": me.principal.email,
        "role": me.principal.role,
        "org": me.org.map(|o| json!({"id": o.id, "name": o.name, "kind": o.kind})),
        "overseen_orgs": me.principal.overseen_orgs,
    }))
}

async fn me(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(me_json(&state, &caller).await?))
}

async fn list_orgs(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": state.app.organisations(&caller).await? })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgBody {
    name: String,
    kind: OrgKind,
}

async fn create_org(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<OrgBody>,
) -> Result<Response, ApiError> {
    let org = state.app.create_organisation(&caller, &body.name, body.kind).await?;
    Ok((StatusCode::CREATED, Json(org)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
}

async fn list_tokens(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": state.app.tokens(&caller).await? })))
}

async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Response, ApiError> {
    let created = state.app.create_token(&caller, &body.name).await?;
    // The secret is shown once, here; only its hash is kept.
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": created.secret, "id": created.token.id, "name": created.token.name})),
    )
        .into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<TokenId>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn site_categories(Caller(_): Caller) -> Json<Value> {
    let items: Vec<Value> = SiteCategory::ALL
        .iter()
        .map(|c| json!({"key": c.key(), "name": {"en": c.name(Lang::En), "fr": c.name(Lang::Fr)}}))
        .collect();
    Json(json!({ "items": items }))
}

/// A site as the API shows it.
#[derive(Serialize)]
pub struct SiteView {
    #[serde(flatten)]
    site: Site,
    created_at: String,
    updated_at: String,
}

impl From<Site> for SiteView {
    fn from(site: Site) -> Self {
        SiteView { created_at: rfc3339(site.created_at_ms), updated_at: rfc3339(site.updated_at_ms), site }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    category: Option<String>,
    org_id: Option<OrgId>,
    bbox: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_sites(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let query = SiteQuery {
        category: params.category,
        org_id: params.org_id,
        bbox: params.bbox,
        limit: params.limit,
        offset: params.offset,
    };
    let page = state.app.list_sites(&caller, query).await?;
    let items: Vec<SiteView> = page.items.into_iter().map(SiteView::from).collect();
    Ok(Json(json!({"items": items, "total": page.total, "limit": page.limit, "offset": page.offset})))
}

/// The body of a create or update. `version` is the one the client last read (updates).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteBody {
    name: String,
    category: SiteCategory,
    geometry: Value,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    peak_occupancy: Option<u32>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    org_id: Option<OrgId>,
    #[serde(default)]
    version: Option<i64>,
}

impl From<SiteBody> for SiteDraft {
    fn from(body: SiteBody) -> Self {
        SiteDraft {
            input: SiteInput {
                name: body.name,
                category: body.category,
                geometry: body.geometry,
                address: body.address,
                peak_occupancy: body.peak_occupancy,
                tags: body.tags,
            },
            org_id: body.org_id,
            version: body.version,
        }
    }
}

async fn create_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SiteBody>,
) -> Result<Response, ApiError> {
    let site = state.app.create_site(&caller, body.into()).await?;
    let location = format!("/api/v1/sites/{}", site.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(SiteView::from(site))).into_response())
}

async fn get_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
) -> Result<Json<SiteView>, ApiError> {
    Ok(Json(SiteView::from(state.app.site(&caller, &id).await?)))
}

async fn update_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
    ApiJson(body): ApiJson<SiteBody>,
) -> Result<Json<SiteView>, ApiError> {
    Ok(Json(SiteView::from(state.app.update_site(&caller, &id, body.into()).await?)))
}

async fn delete_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_site(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HvmBody {
    /// Vehicle classes to analyse (keys such as `M1`, `N3C`); default: every class.
    #[serde(default)]
    vehicles: Option<Vec<String>>,
    /// Side friction factor; default 0.6.
    #[serde(default)]
    friction: Option<f64>,
}

/// Runs a vehicle dynamics assessment of the site on the server's street network and keeps
/// it with the site.
async fn run_hvm_study(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
    ApiJson(body): ApiJson<HvmBody>,
) -> Result<Response, ApiError> {
    let request = StudyRequest { vehicles: body.vehicles, friction: body.friction };
    let stored = state.app.run_hvm_study(&caller, &id, request).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendationBody {
    /// The barrier catalogue, CSV with the header manufacturer,product,standard,rating,foundation,width.
    catalogue_csv: String,
    /// Room behind the line for the barrier's penetration and debris, in metres.
    #[serde(default)]
    standoff_m: Option<f64>,
    /// How far before an access point a bend or chicane is considered, in metres (default 20).
    #[serde(default)]
    bend_distance_m: Option<f64>,
    #[serde(default)]
    vehicles: Option<Vec<String>>,
    #[serde(default)]
    friction: Option<f64>,
}

async fn hvm_recommendation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
    ApiJson(body): ApiJson<RecommendationBody>,
) -> Result<Json<Value>, ApiError> {
    let request = RecommendationRequest {
        catalogue_csv: body.catalogue_csv,
        standoff_m: body.standoff_m,
        bend_distance_m: body.bend_distance_m,
        study: StudyRequest { vehicles: body.vehicles, friction: body.friction },
    };
    let recommendation = state.app.hvm_recommendation(&caller, &id, request).await?;
    // Through a JSON value, as before the application layer: its keys come out sorted.
    Ok(Json(serde_json::to_value(recommendation).map_err(|_| ApiError(vigie_domain::Failure::internal()))?))
}

/// The site's latest study: where it is weak against vehicles, so every read is audited.
async fn latest_hvm_study(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<SiteId>,
) -> Result<Json<vigie_store::HvmStudy>, ApiError> {
    let study = state.app.latest_hvm_study(&caller, &id).await?;
    Ok(Json(study.ok_or_else(|| ApiError(vigie_domain::Failure::not_found("vehicle study for this site")))?))
}
