//! `/api/v1`: JSON in, JSON out, every call authenticated and checked against the caller's
//! organisation and role.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::{Lang, SiteCategory, SiteInput};
use vigie_store::{NewSite, Site, SiteFilter, WriteContext};

use crate::auth::{Caller, SESSION_COOKIE, new_secret, secret_hash};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::throttle::ClientAddress;
use crate::{AppState, HvmNetwork, now_ms};

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
    ("get", "/api/v1/library/passages/{id}"),
    ("get", "/api/v1/library/duplicates"),
    ("get", "/api/v1/library/related"),
];

/// Every route of the API, for the OpenAPI check.
pub fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    ROUTES.iter().chain(crate::assessments::ROUTES)
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
        .route("/api/v1/library/passages/{id}", get(crate::library::get_passage))
        .route("/api/v1/library/duplicates", get(crate::library::duplicates))
        .route("/api/v1/library/related", get(crate::library::related))
        .merge(crate::assessments::routes())
        .fallback(crate::ui::unknown_route)
        .method_not_allowed_fallback(|| async {
            ApiError::new("method_not_allowed", "this route does not accept that HTTP method")
        })
}

pub fn write_context(caller: &Principal) -> WriteContext {
    WriteContext { at_ms: now_ms(), actor: caller.user_id.clone(), actor_org: Some(caller.org_id.clone()) }
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "backend": state.store.backend(), "version": env!("CARGO_PKG_VERSION")}))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], crate::openapi::DOCUMENT).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody").field("email", &self.email).field("password", &"***").finish()
    }
}

/// Checks credentials and opens a session; returns the cookie to set. Failed attempts are
/// audited, and the message never says whether the email exists. `address` is the client's
/// (see [`crate::throttle::client_address`]), for the count of failures per address.
pub async fn open_session(
    state: &AppState,
    body: &LoginBody,
    address: Option<std::net::IpAddr>,
) -> Result<(Principal, String), ApiError> {
    let failed = || ApiError::new("login_failed", "wrong email or password");
    let now = now_ms();
    let email = body.email.trim().to_lowercase();
    // An email is short and has no control characters; anything else cannot be an account, and
    // is never written anywhere (it might be a password typed in the wrong box).
    let plausible =
        email.len() <= 254 && email.contains('@') && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    if let Some(blocked) = state.login_throttle.blocked(&email, address, now) {
        let from = match blocked {
            crate::throttle::Blocked::Account => "for this account",
            crate::throttle::Blocked::Address => "from your network address",
        };
        return Err(ApiError::new(
            "too_many_requests",
            format!("too many failed sign-ins {from}; try again in {} minutes", crate::throttle::WINDOW_MS / 60_000),
        ));
    }
    let found = if plausible { state.store.user_by_email(&email).await? } else { None };
    let (hash, found) = match found {
        Some(found) => (Some(found.password_hash.clone()), Some(found)),
        None => (None, None),
    };
    let verified = crate::auth::check_password(hash, body.password.clone()).await;
    let Some(found) = found.filter(|_| verified) else {
        state.login_throttle.record_failure(&email, address, now);
        let record = vigie_domain::audit::AuditRecord {
            at_ms: now,
            actor: "anonymous".into(),
            actor_org: None,
            action: "user.login_failed".into(),
            object_type: "user".into(),
            object_id: None,
            details: json!({ "email": if plausible { email.as_str() } else { "(not an email address)" } }),
        };
        state.audit.append(record).await?;
        return Err(failed());
    };
    state.login_throttle.succeeded(&email);
    let secret = new_secret("");
    let ctx = WriteContext { at_ms: now, actor: found.user.id.clone(), actor_org: Some(found.user.org_id.clone()) };
    let expires = now + i64::from(state.config.session_hours) * 3_600_000;
    state.store.create_session(&ctx, &secret_hash(&secret), &found.user.id, expires).await?;
    let principal =
        state.store.principal_for_session(&secret_hash(&secret), now).await?.ok_or_else(ApiError::internal)?;
    let secure = if state.config.cookie_secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        u64::from(state.config.session_hours) * 3600
    );
    Ok((principal, cookie))
}

pub async fn close_session(
    state: &AppState,
    parts_cookie: Option<&str>,
    caller: &Principal,
) -> Result<String, ApiError> {
    if let Some(session) = parts_cookie {
        state.store.delete_session(&write_context(caller), &secret_hash(session)).await?;
    }
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
    let org = state.store.org_by_id(&caller.org_id).await?;
    Ok(json!({
        "user_id": caller.user_id,
        "email": caller.email,
        "role": caller.role,
        "org": org.map(|o| json!({"id": o.id, "name": o.name, "kind": o.kind})),
        "overseen_orgs": caller.overseen_orgs,
    }))
}

async fn me(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(me_json(&state, &caller).await?))
}

async fn list_orgs(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let orgs: Vec<_> = state.store.list_orgs().await?.into_iter().filter(|o| caller.can_read_org(&o.id)).collect();
    Ok(Json(json!({ "items": orgs })))
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
    if !caller.is_admin() {
        return Err(ApiError::forbidden("only an administrator can create organisations"));
    }
    if body.name.trim().is_empty() {
        return Err(vigie_domain::DomainError::validation("name", "an organisation needs a name").into());
    }
    let org = state.store.create_org(&write_context(&caller), &body.name, body.kind).await?;
    Ok((StatusCode::CREATED, Json(org)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    name: String,
}

async fn list_tokens(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": state.store.list_tokens(&caller.user_id).await? })))
}

async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Response, ApiError> {
    vigie_domain::site::check_text("name", &body.name)?;
    if body.name.trim().is_empty() || body.name.chars().count() > 100 {
        return Err(vigie_domain::DomainError::validation("name", "a token needs a name of 1 to 100 characters").into());
    }
    let secret = new_secret("vg_");
    let token = state
        .store
        .create_token(&write_context(&caller), &caller.user_id, body.name.trim(), &secret_hash(&secret))
        .await?;
    // The secret is shown once, here; only its hash is kept.
    Ok((StatusCode::CREATED, Json(json!({"token": secret, "id": token.id, "name": token.name}))).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_token(&write_context(&caller), &caller.user_id, &id).await?;
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
    org_id: Option<String>,
    bbox: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_sites(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let readable = caller.readable_orgs();
    // Asking for an organisation one may not read yields an empty page, as for one that
    // does not exist.
    let orgs = match (params.org_id, readable) {
        (Some(org), None) => Some(vec![org]),
        (Some(org), Some(readable)) => Some(readable.into_iter().filter(|o| *o == org).collect()),
        (None, readable) => readable,
    };
    let filter = SiteFilter {
        orgs,
        category: params.category.as_deref().map(SiteCategory::from_key).transpose()?,
        bbox: params.bbox.as_deref().map(BoundingBox::parse).transpose()?,
        limit: params.limit.unwrap_or(50),
        offset: params.offset.unwrap_or(0),
    };
    if filter.limit == 0 || filter.limit > vigie_store::MAX_PAGE {
        return Err(
            vigie_domain::DomainError::validation("limit", format!("between 1 and {}", vigie_store::MAX_PAGE)).into()
        );
    }
    let page = state.store.list_sites(&filter).await?;
    let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    state.audit.read(&caller, now_ms(), "site", None, json!({"list": ids})).await?;
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
    org_id: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

impl SiteBody {
    fn into_new_site(self) -> Result<(NewSite, Option<String>, Option<i64>), ApiError> {
        let input = SiteInput {
            name: self.name,
            category: self.category,
            geometry: self.geometry,
            address: self.address,
            peak_occupancy: self.peak_occupancy,
            tags: self.tags,
        };
        Ok((NewSite { site: input.validate()?, source_ref: None }, self.org_id, self.version))
    }
}

/// Loads a site the caller may read; otherwise "not found", whether or not it exists.
pub(crate) async fn readable_site(state: &AppState, caller: &Principal, id: &str) -> Result<Site, ApiError> {
    match state.store.get_site(id).await? {
        Some(site) if caller.can_read_org(&site.org_id) => Ok(site),
        _ => Err(ApiError::not_found("site")),
    }
}

async fn create_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SiteBody>,
) -> Result<Response, ApiError> {
    let org_id = body.org_id.clone().unwrap_or_else(|| caller.org_id.clone());
    // Permission first: geometry checks cost CPU that a caller without rights must not spend.
    if !caller.can_write_org(&org_id) {
        return Err(ApiError::forbidden("you may not create sites for this organisation"));
    }
    if state.store.org_by_id(&org_id).await?.is_none() {
        return Err(vigie_domain::DomainError::validation("org_id", "no such organisation").into());
    }
    let (new, _, _) = body.into_new_site()?;
    let site = state.store.create_site(&write_context(&caller), &org_id, &new).await?;
    let location = format!("/api/v1/sites/{}", site.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(SiteView::from(site))).into_response())
}

async fn get_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<SiteView>, ApiError> {
    let site = readable_site(&state, &caller, &id).await?;
    state.audit.read(&caller, now_ms(), "site", Some(&site.id), json!({"org_id": site.org_id})).await?;
    Ok(Json(SiteView::from(site)))
}

async fn update_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SiteBody>,
) -> Result<Json<SiteView>, ApiError> {
    let current = readable_site(&state, &caller, &id).await?;
    if !caller.can_write_org(&current.org_id) {
        return Err(ApiError::forbidden("you may read this site but not change it"));
    }
    let (new, org_id, version) = body.into_new_site()?;
    if org_id.is_some_and(|o| o != current.org_id) {
        return Err(
            vigie_domain::DomainError::validation("org_id", "a site cannot move to another organisation").into()
        );
    }
    // Required, so that an edit made from a stale copy is refused instead of overwriting.
    let Some(version) = version else {
        return Err(vigie_domain::DomainError::validation(
            "version",
            "send the version of the site you edited (field \"version\")",
        )
        .into());
    };
    let site = match state.store.update_site(&write_context(&caller), &id, &new, Some(version)).await {
        Err(vigie_store::StoreError::Conflict(message)) => return Err(ApiError::new("version_conflict", message)),
        other => other?,
    };
    Ok(Json(SiteView::from(site)))
}

async fn delete_site(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let current = readable_site(&state, &caller, &id).await?;
    if !caller.can_write_org(&current.org_id) || caller.role == Role::Assessor {
        return Err(ApiError::forbidden("you may read this site but not delete it"));
    }
    state.store.delete_site(&write_context(&caller), &id).await?;
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

fn hvm_error(err: vigie_hvm::HvmError) -> ApiError {
    let code = match err.code() {
        "hvm_vehicle_unknown" => "hvm_vehicle_unknown",
        _ => "hvm_parameter_invalid",
    };
    ApiError::new(code, err.to_string()).with_details(err.details())
}

/// The vehicle classes and dynamics a request asks for, checked.
fn hvm_setup(
    network: &HvmNetwork,
    body: &HvmBody,
) -> Result<(Vec<vigie_hvm::VehicleClass>, vigie_hvm::DynamicsParams), ApiError> {
    let classes = match &body.vehicles {
        Some(keys) => {
            keys.iter().map(|k| network.vehicles.get(k).cloned()).collect::<Result<Vec<_>, _>>().map_err(hvm_error)?
        }
        None => network.vehicles.classes.clone(),
    };
    if classes.is_empty() {
        return Err(ApiError::new("hvm_parameter_invalid", "name at least one vehicle class"));
    }
    let mut params = vigie_hvm::DynamicsParams::default();
    if let Some(friction) = body.friction {
        if !(0.1..=1.5).contains(&friction) {
            return Err(ApiError::new(
                "hvm_parameter_invalid",
                "friction must lie between 0.1 and 1.5 (0.6 on normal roads, 1.0 as the conservative bound)",
            ));
        }
        params.friction = friction;
    }
    Ok((classes, params))
}

fn hvm_network(state: &AppState) -> Result<Arc<HvmNetwork>, ApiError> {
    state.hvm.clone().ok_or_else(|| {
        ApiError::new(
            "hvm_network_missing",
            "this server has no street network loaded; start it with --osm FILE.osm.pbf",
        )
    })
}

/// The dynamics are CPU work: they run off the async workers.
async fn analyse(
    network: &Arc<HvmNetwork>,
    site: &Site,
    classes: Vec<vigie_hvm::VehicleClass>,
    params: vigie_hvm::DynamicsParams,
) -> Result<vigie_hvm::VdaResult, ApiError> {
    let geometry = vigie_domain::geometry::SiteGeometry::from_geojson(&site.geometry)?;
    let worker = network.clone();
    tokio::task::spawn_blocking(move || vigie_hvm::analyse_site(&worker.graph, &geometry, &classes, &params))
        .await
        .map_err(|_| ApiError::internal())
}

/// Runs a vehicle dynamics assessment of the site on the server's street network and keeps
/// it with the site.
async fn run_hvm_study(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HvmBody>,
) -> Result<Response, ApiError> {
    let site = readable_site(&state, &caller, &id).await?;
    if !caller.can_write_org(&site.org_id) {
        return Err(ApiError::forbidden("you may read this site but not add studies to it"));
    }
    let network = hvm_network(&state)?;
    let (classes, params) = hvm_setup(&network, &body)?;
    let result =
        serde_json::to_value(analyse(&network, &site, classes, params).await?).map_err(|_| ApiError::internal())?;
    let study = vigie_store::NewHvmStudy {
        site_id: site.id.clone(),
        org_id: site.org_id.clone(),
        vehicles_version: network.vehicles.version.clone(),
        network: network.name.clone(),
        result,
    };
    let stored = state.store.create_hvm_study(&write_context(&caller), &study).await?;
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

/// For each access point of the site: the minimum rating, the catalogue's products that cover
/// it, and the bends that would bring the speed down to a lower test speed. Computed afresh on
/// the street network; a read of the site's weak points, so audited.
async fn hvm_recommendation(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecommendationBody>,
) -> Result<Json<Value>, ApiError> {
    let site = readable_site(&state, &caller, &id).await?;
    let catalogue = vigie_hvm::Catalogue::from_csv(&body.catalogue_csv).map_err(hvm_error)?;
    let mut advice = vigie_hvm::RecommendParams::default();
    for (name, value) in [("standoff_m", body.standoff_m), ("bend_distance_m", body.bend_distance_m)] {
        if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            return Err(ApiError::new(
                "hvm_parameter_invalid",
                format!("{name} must be zero or a positive number of metres"),
            ));
        }
    }
    advice.standoff_m = body.standoff_m;
    advice.bend_distance_m = body.bend_distance_m.unwrap_or(advice.bend_distance_m);
    let network = hvm_network(&state)?;
    let (classes, params) = hvm_setup(&network, &HvmBody { vehicles: body.vehicles, friction: body.friction })?;
    let result = analyse(&network, &site, classes.clone(), params.clone()).await?;
    let recommendation = vigie_hvm::recommend(&result, &catalogue, &classes, &params, &advice);
    state
        .audit
        .read(
            &caller,
            now_ms(),
            "hvm_recommendation",
            Some(&site.id),
            json!({"org_id": site.org_id, "products": catalogue.products.len()}),
        )
        .await?;
    Ok(Json(serde_json::to_value(recommendation).map_err(|_| ApiError::internal())?))
}

/// The site's latest study: where it is weak against vehicles, so every read is audited.
async fn latest_hvm_study(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<vigie_store::HvmStudy>, ApiError> {
    let site = readable_site(&state, &caller, &id).await?;
    let study = state
        .store
        .latest_hvm_study(&site.id)
        .await?
        .ok_or_else(|| ApiError::not_found("vehicle study for this site"))?;
    state.audit.read(&caller, now_ms(), "hvm_study", Some(&study.id), json!({"site_id": site.id})).await?;
    Ok(Json(study))
}
