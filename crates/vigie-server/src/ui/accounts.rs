//! Accounts without a terminal: an administrator lists, invites, changes the role of, disables
//! and re-enables users and makes password-reset links; every user changes their password; an
//! invited user sets theirs through the one-time link. Plain forms: the session cookie is
//! `SameSite=Strict`, so another site cannot post them.
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{HOST, LOCATION, SET_COOKIE};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use vigie_app::accounts::AccountLink;
use vigie_app::mail::Delivery;
use vigie_domain::access::{LinkPurpose, OrgKind, Role, User};
use vigie_domain::site::Lang;
use vigie_domain::{OrgId, UserId};
use vigie_store::Org;

use super::{Layout, PageCtx, PageError, PageLang, html, render, role_key, t};
use crate::AppState;

const KINDS: [OrgKind; 3] = [OrgKind::Authority, OrgKind::Operator, OrgKind::Other];

fn kind_key(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Authority => "kind_authority",
        OrgKind::Operator => "kind_operator",
        OrgKind::Other => "kind_other",
    }
}

const ROLES: [Role; 5] = [Role::Admin, Role::Authority, Role::Assessor, Role::Operator, Role::Viewer];

/// A row of the accounts table.
struct UserRow {
    id: String,
    email: String,
    org: String,
    role: Role,
    disabled: bool,
    manages_org: bool,
    second_factor: bool,
}

/// A link just made, shown once to the administrator.
struct ShownLink {
    email: String,
    url: String,
    path: String,
    invite: bool,
    /// Whether it was mailed too, in words; `None` when no SMTP server is configured.
    mailed: Option<String>,
}

/// An organisation with its kind, the organisations it oversees and its sign-in rule.
struct OrgRow {
    id: String,
    name: String,
    kind: &'static str,
    oversees: String,
    second_factor_required: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    page: Layout<'a>,
    /// A platform administrator (creates organisations and oversight links); otherwise an
    /// organisation's own administrator.
    platform_admin: bool,
    users: Vec<UserRow>,
    orgs: Vec<Org>,
    org_rows: Vec<OrgRow>,
    kinds: Vec<(&'static str, &'static str)>,
    roles: Vec<(&'static str, &'static str)>,
    link: Option<ShownLink>,
}

/// The link's full address as the administrator reached this server (the `Host` they used),
/// to hand on as it is.
fn link_url(state: &AppState, headers: &HeaderMap, secret: &str) -> String {
    let scheme = if state.config.cookie_secure { "https" } else { "http" };
    match headers.get(HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{scheme}://{host}/welcome/{secret}"),
        None => format!("/welcome/{secret}"),
    }
}

/// Mails a link just made to its user, in the administrator's language first and the
/// other after it (the user's own is not known yet).
async fn mail_link(state: &AppState, ctx: &PageCtx, link: &AccountLink, url: &str) -> Result<Delivery, PageError> {
    let (subject_key, body_key) = match link.purpose {
        LinkPurpose::Invite => ("mail_invite_subject", "mail_invite_body"),
        LinkPurpose::Reset => ("mail_reset_subject", "mail_reset_body"),
    };
    let other = match ctx.lang {
        Lang::En => Lang::Fr,
        Lang::Fr => Lang::En,
    };
    let body = [ctx.lang, other]
        .iter()
        .map(|&lang| t(lang, body_key).replace("{email}", &link.user.email).replace("{url}", url))
        .collect::<Vec<_>>()
        .join("\n\n----\n\n");
    let subject = format!("{} / {}", t(ctx.lang, subject_key), t(other, subject_key));
    Ok(state.app.mail_account_link(&ctx.caller, link, &subject, body).await?)
}

async fn users_page(
    state: &AppState,
    ctx: &PageCtx,
    headers: &HeaderMap,
    link: Option<AccountLink>,
) -> Result<Response, PageError> {
    let users = state.app.users(&ctx.caller).await?;
    let platform_admin = ctx.caller.is_admin();
    // An organisation's administrator invites into, and sets the rules of, their own only.
    let orgs: Vec<Org> = state
        .app
        .organisations(&ctx.caller)
        .await?
        .into_iter()
        .filter(|o| ctx.caller.can_manage_accounts_of(&o.id))
        .collect();
    let links = if platform_admin { state.app.oversight_links(&ctx.caller).await? } else { Vec::new() };
    let org_name = |id: &OrgId| orgs.iter().find(|o| &o.id == id).map(|o| o.name.clone()).unwrap_or_default();
    let org_rows = orgs
        .iter()
        .map(|o| OrgRow {
            id: o.id.to_string(),
            name: o.name.clone(),
            kind: t(ctx.lang, kind_key(o.kind)),
            oversees: links.iter().filter(|(a, _)| *a == o.id).map(|(_, b)| org_name(b)).collect::<Vec<_>>().join(", "),
            second_factor_required: o.second_factor_required,
        })
        .collect();
    let rows = users
        .iter()
        .map(|u: &User| UserRow {
            id: u.id.to_string(),
            email: u.email.clone(),
            org: org_name(&u.org_id),
            role: u.role,
            disabled: u.disabled_at_ms.is_some(),
            manages_org: u.manages_org,
            second_factor: u.second_factor,
        })
        .collect();
    let link = match link {
        Some(l) => {
            let url = link_url(state, headers, &l.secret);
            let mailed = match mail_link(state, ctx, &l, &url).await? {
                Delivery::NotConfigured => None,
                Delivery::Sent => Some(ctx.t("link_mailed").replace("{email}", &l.user.email)),
                Delivery::Failed(reason) => Some(ctx.t("link_mail_failed").replace("{reason}", &reason)),
            };
            Some(ShownLink {
                email: l.user.email.clone(),
                url,
                path: format!("/welcome/{}", l.secret),
                invite: l.purpose == LinkPurpose::Invite,
                mailed,
            })
        }
        None => None,
    };
    let grantable = ROLES.iter().filter(|r| platform_admin || **r != Role::Admin);
    let page = UsersPage {
        page: ctx.layout(ctx.t("users_title"), &[], false),
        platform_admin,
        users: rows,
        org_rows,
        kinds: KINDS.iter().map(|k| (k.key(), t(ctx.lang, kind_key(*k)))).collect(),
        orgs,
        roles: grantable.map(|r| (r.key(), t(ctx.lang, role_key(*r)))).collect(),
        link,
    };
    render(ctx, &page)
}

async fn show_users(State(state): State<AppState>, ctx: PageCtx, headers: HeaderMap) -> Result<Response, PageError> {
    users_page(&state, &ctx, &headers, None).await
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    org_id: String,
    role: String,
}

async fn invite(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    let role = Role::from_key(&form.role)?;
    let link = state.app.invite_user(&ctx.caller, form.email.trim(), &OrgId::new(form.org_id), role).await?;
    users_page(&state, &ctx, &headers, Some(link)).await
}

#[derive(Deserialize)]
struct UpdateForm {
    role: String,
    /// "1" to disable, "0" to enable.
    disabled: String,
    /// "1": manages the accounts of their organisation.
    manages_org: String,
}

async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<UserId>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, PageError> {
    let change = vigie_store::UserChange {
        role: Role::from_key(&form.role)?,
        disabled: form.disabled == "1",
        manages_org: form.manages_org == "1",
    };
    state.app.update_user(&ctx.caller, &id, change).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/admin/users".to_owned())]).into_response())
}

async fn reset(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    Path(id): Path<UserId>,
) -> Result<Response, PageError> {
    let link = state.app.reset_link(&ctx.caller, &id).await?;
    users_page(&state, &ctx, &headers, Some(link)).await
}

#[derive(Deserialize)]
struct OrgForm {
    name: String,
    kind: String,
}

async fn create_org(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<OrgForm>,
) -> Result<Response, PageError> {
    state.app.create_organisation(&ctx.caller, &form.name, OrgKind::from_key(&form.kind)?).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/admin/users#orgs-h".to_owned())]).into_response())
}

#[derive(Deserialize)]
struct OversightForm {
    authority: String,
    overseen: String,
}

#[derive(Deserialize)]
struct OrgRuleForm {
    /// "1": every user of the organisation signs in with a second factor.
    second_factor_required: String,
}

async fn set_org_rule(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<OrgId>,
    Form(form): Form<OrgRuleForm>,
) -> Result<Response, PageError> {
    state.app.set_org_second_factor(&ctx.caller, &id, form.second_factor_required == "1").await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/admin/users#orgs-h".to_owned())]).into_response())
}

async fn add_oversight(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<OversightForm>,
) -> Result<Response, PageError> {
    state.app.add_oversight(&ctx.caller, &OrgId::new(form.authority), &OrgId::new(form.overseen)).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/admin/users#orgs-h".to_owned())]).into_response())
}

/// A token of the account page.
struct TokenRow {
    id: String,
    name: String,
    created: String,
    revoked: bool,
}

/// A second factor being set up: the key, as text and as a QR code for the app.
struct SetupView {
    secret: String,
    /// The QR code of the `otpauth://` address, an SVG `data:` URL.
    qr: String,
    /// Why the last code was refused.
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    page: Layout<'a>,
    changed: bool,
    error: Option<String>,
    tokens: Vec<TokenRow>,
    /// A token just created: its secret, shown once.
    new_token: Option<String>,
    second_factor: vigie_app::second_factor::SecondFactorStatus,
    setup: Option<SetupView>,
    /// What just happened to the second factor, as a message key.
    second_factor_news: Option<&'static str>,
}

/// What the account page shows beyond the password and tokens.
#[derive(Default)]
struct AccountExtras {
    new_token: Option<String>,
    setup: Option<SetupView>,
    second_factor_news: Option<&'static str>,
}

fn qr_data_url(uri: &str) -> Result<String, PageError> {
    use base64::Engine as _;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| vigie_domain::Failure::internal())?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

fn setup_view(secret: String, uri: &str, error: Option<String>) -> Result<SetupView, PageError> {
    Ok(SetupView { qr: qr_data_url(uri)?, secret, error })
}

async fn account_page(
    state: &AppState,
    ctx: &PageCtx,
    outcome: Result<bool, String>,
    extras: AccountExtras,
) -> Result<Response, PageError> {
    let tokens = state
        .app
        .tokens(&ctx.caller)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name,
            created: super::assess::date_of(t.created_at_ms),
            revoked: t.revoked_at_ms.is_some(),
        })
        .collect();
    let refused = outcome.is_err() || extras.setup.as_ref().is_some_and(|s| s.error.is_some());
    let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = AccountPage {
        page: ctx.layout(ctx.t("account_title"), &[], false),
        changed: outcome.as_ref().is_ok_and(|changed| *changed),
        error: outcome.err(),
        tokens,
        new_token: extras.new_token,
        second_factor: state.app.second_factor_status(&ctx.caller).await?,
        setup: extras.setup,
        second_factor_news: extras.second_factor_news,
    };
    Ok((status, render(ctx, &page)?).into_response())
}

async fn show_account(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    account_page(&state, &ctx, Ok(false), AccountExtras::default()).await
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    match state.app.create_token(&ctx.caller, &form.name).await {
        Ok(made) => {
            let extras = AccountExtras { new_token: Some(made.secret), ..AccountExtras::default() };
            account_page(&state, &ctx, Ok(false), extras).await
        }
        Err(err) if err.code.http_status() == 422 => {
            account_page(&state, &ctx, Err(err.message), AccountExtras::default()).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<vigie_domain::TokenId>,
) -> Result<Response, PageError> {
    state.app.revoke_token(&ctx.caller, &id).await?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, "/account".to_owned())]).into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let outcome = if form.new_password != form.confirm_password {
        Err(ctx.t("password_mismatch").to_owned())
    } else {
        match state.app.change_password(&ctx.caller, &form.current_password, &form.new_password).await {
            Ok(()) => Ok(true),
            Err(err) if err.code.http_status() == 422 => Err(err.message),
            Err(err) => return Err(err.into()),
        }
    };
    account_page(&state, &ctx, outcome, AccountExtras::default()).await
}

/// Draws a key and shows it with its QR code, to add to an authenticator app.
async fn start_second_factor(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let drawn = state.app.second_factor_setup(&ctx.caller)?;
    let extras = AccountExtras { setup: Some(setup_view(drawn.secret, &drawn.uri, None)?), ..AccountExtras::default() };
    account_page(&state, &ctx, Ok(false), extras).await
}

#[derive(Deserialize)]
struct EnableForm {
    secret: String,
    code: String,
}

async fn enable_second_factor(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<EnableForm>,
) -> Result<Response, PageError> {
    match state.app.enable_second_factor(&ctx.caller, &form.secret, &form.code).await {
        Ok(()) => {
            let extras =
                AccountExtras { second_factor_news: Some("second_factor_enabled"), ..AccountExtras::default() };
            account_page(&state, &ctx, Ok(false), extras).await
        }
        Err(err) if err.code.http_status() == 422 => {
            // The same key again, so that the app already holding it still works.
            let uri = state.app.second_factor_uri(&ctx.caller, &form.secret)?;
            let setup = setup_view(form.secret, &uri, Some(err.message))?;
            account_page(&state, &ctx, Ok(false), AccountExtras { setup: Some(setup), ..AccountExtras::default() })
                .await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize)]
struct DisableForm {
    current_password: String,
}

async fn disable_second_factor(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<DisableForm>,
) -> Result<Response, PageError> {
    let outcome = match state.app.disable_second_factor(&ctx.caller, &form.current_password).await {
        Ok(()) => Ok(false),
        Err(err) if err.code.http_status() == 422 => Err(err.message),
        Err(err) => return Err(err.into()),
    };
    let news = outcome.is_ok().then_some("second_factor_disabled");
    account_page(&state, &ctx, outcome, AccountExtras { second_factor_news: news, ..AccountExtras::default() }).await
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    page: Layout<'a>,
    email: &'a str,
    error: Option<String>,
}

fn welcome_page(lang: vigie_domain::site::Lang, email: &str, error: Option<String>) -> Result<String, PageError> {
    let page = Layout { lang, user: None, title: t(lang, "welcome_title").to_owned(), scripts: &[], map: false };
    Ok(html(&WelcomePage { page, email, error })?)
}

/// The page of a one-time link: the user chooses a password. A used or expired link is a
/// missing page.
async fn show_welcome(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Path(secret): Path<String>,
) -> Result<Response, PageError> {
    let user = state.app.link_user(&secret).await?.ok_or_else(|| vigie_domain::Failure::not_found("link"))?;
    Ok(Html(welcome_page(lang, &user.email, None)?).into_response())
}

#[derive(Deserialize)]
struct WelcomeForm {
    new_password: String,
    confirm_password: String,
}

async fn accept_welcome(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Path(secret): Path<String>,
    Form(form): Form<WelcomeForm>,
) -> Result<Response, PageError> {
    let user = state.app.link_user(&secret).await?.ok_or_else(|| vigie_domain::Failure::not_found("link"))?;
    let refused = |message: String| -> Result<Response, PageError> {
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(welcome_page(lang, &user.email, Some(message))?)).into_response())
    };
    if form.new_password != form.confirm_password {
        return refused(t(lang, "password_mismatch").to_owned());
    }
    match state.app.accept_link(&secret, &form.new_password).await {
        Ok(session) => {
            let cookie = crate::api::session_cookie_of(&state, &session);
            Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, cookie), (LOCATION, "/".to_owned())]).into_response())
        }
        Err(err) if err.code.http_status() == 422 => refused(err.message),
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Deserialize, Default)]
struct AuditParams {
    user: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    action: Option<String>,
    /// `YYYY-MM-DD`, UTC, from the start of the day.
    from: Option<String>,
    /// `YYYY-MM-DD`, UTC, to the end of the day.
    to: Option<String>,
}

/// A row of the audit viewer.
struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    object: String,
    details: String,
}

/// The outcome of "verify the chain", for the page.
struct Verified {
    intact: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    page: Layout<'a>,
    params: AuditParams,
    rows: Vec<AuditRow>,
    limit: u32,
    verified: Option<Verified>,
}

fn day_ms(date: Option<&str>, field: &str, end_of_day: bool) -> Result<Option<i64>, PageError> {
    let Some(date) = date.map(str::trim).filter(|d| !d.is_empty()) else { return Ok(None) };
    let invalid = || vigie_domain::DomainError::validation(field, "a date is written YYYY-MM-DD");
    let mut parts = date.splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid().into());
    };
    let month = u8::try_from(month).ok().and_then(|m| time::Month::try_from(m).ok()).ok_or_else(invalid)?;
    let day =
        u8::try_from(day).ok().and_then(|d| time::Date::from_calendar_date(year, month, d).ok()).ok_or_else(invalid)?;
    let day = if end_of_day { day.next_day().unwrap_or(day) } else { day };
    Ok(Some(day.midnight().assume_utc().unix_timestamp() * 1000))
}

async fn audit_page(
    state: &AppState,
    ctx: &PageCtx,
    params: AuditParams,
    verified: Option<Verified>,
) -> Result<Response, PageError> {
    let users = state.app.users(&ctx.caller).await?;
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    // The form takes an email; the log keeps user ids (or `cli`, `system`, `anonymous`).
    let actor = text(&params.user)
        .map(|who| users.iter().find(|u| u.email == who.to_lowercase()).map_or(who, |u| u.id.to_string()));
    let filter = vigie_store::AuditFilter {
        actor,
        object_type: text(&params.object_type),
        object_id: text(&params.object_id),
        action_prefix: text(&params.action),
        from_ms: day_ms(params.from.as_deref(), "from", false)?,
        to_ms: day_ms(params.to.as_deref(), "to", true)?,
        limit: vigie_app::audit::MAX_AUDIT_ROWS,
    };
    let entries = state.app.audit_log(&ctx.caller, filter).await?;
    let who = |actor: &str| {
        users.iter().find(|u| u.id.as_str() == actor).map_or_else(|| actor.to_owned(), |u| u.email.clone())
    };
    let rows = entries
        .iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at: super::assess::date_of(e.record.at_ms),
            actor: who(&e.record.actor),
            action: e.record.action.clone(),
            object: match &e.record.object_id {
                Some(id) => format!("{} {id}", e.record.object_type),
                None => e.record.object_type.clone(),
            },
            details: e.record.details.to_string(),
        })
        .collect();
    let page = AuditPage {
        page: ctx.layout(ctx.t("audit_title"), &[], false),
        params,
        rows,
        limit: vigie_app::audit::MAX_AUDIT_ROWS,
        verified,
    };
    render(ctx, &page)
}

async fn show_audit(
    State(state): State<AppState>,
    ctx: PageCtx,
    axum::extract::Query(params): axum::extract::Query<AuditParams>,
) -> Result<Response, PageError> {
    audit_page(&state, &ctx, params, None).await
}

async fn verify_audit(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let verified = match state.app.verify_audit_log(&ctx.caller).await {
        Ok((count, head)) => Verified {
            intact: true,
            message: ctx
                .t("audit_intact")
                .replace("{count}", &count.to_string())
                .replace("{head}", &head.map(|h| h.hash).unwrap_or_default()),
        },
        Err(err) if err.code == vigie_domain::Code::AuditChainBroken => {
            Verified { intact: false, message: err.message }
        }
        Err(err) => return Err(err.into()),
    };
    audit_page(&state, &ctx, AuditParams::default(), Some(verified)).await
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(show_users).post(invite))
        .route("/admin/users/{id}", post(update))
        .route("/admin/users/{id}/reset", post(reset))
        .route("/account", get(show_account).post(change_password))
        .route("/account/tokens", post(create_token))
        .route("/account/second-factor/setup", post(start_second_factor))
        .route("/account/second-factor", post(enable_second_factor))
        .route("/account/second-factor/off", post(disable_second_factor))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/orgs", post(create_org))
        .route("/admin/orgs/{id}/second-factor", post(set_org_rule))
        .route("/admin/oversight", post(add_oversight))
        .route("/welcome/{secret}", get(show_welcome).post(accept_welcome))
        .route("/admin/audit", get(show_audit))
        .route("/admin/audit/verify", post(verify_audit))
}
