//! Server-rendered pages, from the askama templates in `templates/` (which escape by default).
//! French and English, the language taken from `?lang=`, then the `vigie_lang` cookie, then
//! `Accept-Language`. Every page handler takes a `PageCtx` (the signed-in caller, or a redirect to
//! the sign-in page); a failed page answers an HTML page in the caller's language. Pages read the
//! store with the same access checks as the API; the ES modules in `assets/` call the JSON API for
//! maps, forms and the on-site assessment.
mod accounts;
mod assess;
mod assets;
mod bulletins;
mod communities;
mod library;
mod registry;
mod reports;
#[cfg(test)]
mod route_tests;
mod threat_levels;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use askama::Template;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use vigie_domain::Code;
use vigie_domain::access::{Principal, Role};
use vigie_domain::site::Lang;

use crate::AppState;
use crate::api::{LoginBody, close_session, open_session};
use crate::auth::{SESSION_COOKIE, cleared_session_cookie, cookie};
use crate::error::ApiError;
use crate::throttle::ClientAddress;

type Strings = BTreeMap<String, String>;

fn strings(lang: Lang) -> &'static Strings {
    static EN: OnceLock<Strings> = OnceLock::new();
    static FR: OnceLock<Strings> = OnceLock::new();
    let (cell, source) = match lang {
        Lang::En => (&EN, include_str!("../../i18n/en.toml")),
        Lang::Fr => (&FR, include_str!("../../i18n/fr.toml")),
    };
    // The files are compiled in and checked by a test; an unreadable one yields keys as text.
    cell.get_or_init(|| toml::from_str(source).unwrap_or_default())
}

/// The key of a role's name in the strings.
fn role_key(role: Role) -> &'static str {
    match role {
        Role::Admin => "role_admin",
        Role::Authority => "role_authority",
        Role::Assessor => "role_assessor",
        Role::Operator => "role_operator",
        Role::Viewer => "role_viewer",
    }
}

/// The text of `key` in `lang`; the key itself when the files lack it.
fn t(lang: Lang, key: &str) -> &str {
    strings(lang).get(key).map_or(key, String::as_str)
}

#[derive(Debug, Deserialize, Default)]
struct LangParam {
    lang: Option<String>,
}

fn choose_lang(param: Option<&str>, headers: &HeaderMap) -> Lang {
    if let Some(lang) = param.and_then(|p| Lang::from_code(p).ok()) {
        return lang;
    }
    if let Some(lang) = cookie(headers, "vigie_lang").and_then(|c| Lang::from_code(c).ok()) {
        return lang;
    }
    let accept = headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // The first of fr/en the browser lists wins.
    accept
        .split(',')
        .filter_map(|part| part.split(';').next())
        .filter_map(|tag| tag.trim().get(..2))
        .find_map(|code| Lang::from_code(code).ok())
        .unwrap_or_default()
}

/// The language of a request: `?lang=`, then the cookie, then `Accept-Language`.
fn request_lang(uri: &Uri, headers: &HeaderMap) -> Lang {
    let param = Query::<LangParam>::try_from_uri(uri).ok().and_then(|Query(p)| p.lang);
    choose_lang(param.as_deref(), headers)
}

fn lang_cookie(lang: Lang) -> String {
    format!("vigie_lang={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code())
}

/// The language of a page that needs no sign-in.
struct PageLang(Lang);

impl<S: Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang(request_lang(&parts.uri, &parts.headers)))
    }
}

/// The signed-in caller of a page, with the language and what every page header shows. As an
/// extractor it sends a signed-out caller to the sign-in page.
struct PageCtx {
    lang: Lang,
    caller: Principal,
    org_name: String,
    /// Unread items of the caller's inbox (bulletins, invitations), shown in the header.
    unread: usize,
}

impl PageCtx {
    fn t<'k>(&self, key: &'k str) -> &'k str {
        t(self.lang, key)
    }

    fn role_name(&self) -> &'static str {
        t(self.lang, role_key(self.caller.role))
    }

    /// The layout around a page of this caller.
    fn layout<'a>(&'a self, title: &str, scripts: &'a [&'a str], map: bool) -> Layout<'a> {
        Layout { lang: self.lang, user: Some(self), title: title.to_owned(), scripts, map }
    }
}

/// The caller of a page, or `None` for a caller who is not signed in.
async fn page_ctx(state: &AppState, headers: &HeaderMap, lang: Lang) -> Result<Option<PageCtx>, ApiError> {
    let Some(caller) = signed_in(state, headers).await? else {
        return Ok(None);
    };
    let org_name = state.app.me(&caller).await?.org.map(|o| o.name).unwrap_or_default();
    let unread = if caller.must_enrol_second_factor { 0 } else { state.app.inbox_unread(&caller).await? };
    Ok(Some(PageCtx { lang, caller, org_name, unread }))
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = request_lang(&parts.uri, &parts.headers);
        match page_ctx(state, &parts.headers, lang).await {
            // Until they set up the second factor their organisation requires, a user sees
            // only the account page, where they do it.
            Ok(Some(ctx)) if ctx.caller.must_enrol_second_factor && !parts.uri.path().starts_with("/account") => {
                Err((StatusCode::SEE_OTHER, [(LOCATION, "/account#second-factor-h".to_owned())]).into_response())
            }
            Ok(Some(ctx)) => Ok(ctx),
            Ok(None) => Err((StatusCode::SEE_OTHER, [(LOCATION, "/login".to_owned())]).into_response()),
            Err(err) => Err(PageError(err).into_response()),
        }
    }
}

/// What the layout puts around every page: the header, the stylesheets and scripts.
struct Layout<'a> {
    lang: Lang,
    /// The signed-in caller, for the navigation; `None` on the sign-in and error pages.
    user: Option<&'a PageCtx>,
    title: String,
    /// Asset names of the page's ES modules, in order.
    scripts: &'a [&'a str],
    /// Leaflet (a classic script, loaded before the modules) and its stylesheet.
    map: bool,
}

impl Layout<'_> {
    fn t<'k>(&self, key: &'k str) -> &'k str {
        t(self.lang, key)
    }

    fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    /// The other language's code and name, for the switch in the header.
    fn other_lang(&self) -> (&'static str, &'static str) {
        match self.lang {
            Lang::En => ("fr", "Français"),
            Lang::Fr => ("en", "English"),
        }
    }

    /// Strings the scripts show, handed to them in the page: every key starting with `js_`.
    fn script_strings(&self) -> BTreeMap<&'static str, &'static str> {
        strings(self.lang).iter().filter_map(|(k, v)| k.strip_prefix("js_").map(|k| (k, v.as_str()))).collect()
    }
}

/// A page for a signed-in caller, with the language cookie refreshed.
fn render(ctx: &PageCtx, page: &impl Template) -> Result<Response, PageError> {
    Ok(([(SET_COOKIE, lang_cookie(ctx.lang))], Html(html(page)?)).into_response())
}

fn html(page: &impl Template) -> Result<String, ApiError> {
    page.render().map_err(|err| {
        tracing::error!(error = %err, "a page template failed");
        ApiError::internal()
    })
}

/// The error of a page handler. Its response carries the error's code, from which the
/// `html_errors` layer makes a page in the caller's language.
struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

/// Marks a response as a failed page, for `html_errors`.
#[derive(Clone, Copy)]
struct FailedPage {
    code: Code,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let mut response = self.0.into_response();
        response.extensions_mut().insert(FailedPage { code });
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Layout<'a>,
    message: &'a str,
    signed_in: bool,
}

/// The page for an error, with its status, and a link to the dashboard (or to the sign-in page
/// for a caller without a session).
fn error_page(lang: Lang, signed_in: bool, code: Code) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (title, message) = match status {
        StatusCode::NOT_FOUND => ("error_not_found_title", "error_not_found"),
        StatusCode::FORBIDDEN => ("error_forbidden_title", "error_forbidden"),
        s if s.is_server_error() => ("error_server_title", "error_server"),
        _ => ("error_request_title", "error_request"),
    };
    let page = ErrorPage {
        page: Layout { lang, user: None, title: t(lang, title).to_owned(), scripts: &[], map: false },
        message: t(lang, message),
        signed_in,
    };
    match html(&page) {
        Ok(body) => (status, Html(body)).into_response(),
        Err(_) => (status, t(lang, message).to_owned()).into_response(),
    }
}

/// Turns the errors of page handlers into pages in the caller's language.
async fn html_errors(request: Request, next: Next) -> Response {
    let lang = request_lang(request.uri(), request.headers());
    let signed_in = cookie(request.headers(), SESSION_COOKIE).is_some();
    let response = next.run(request).await;
    match response.extensions().get::<FailedPage>() {
        Some(failed) => error_page(lang, signed_in, failed.code),
        None => response,
    }
}

/// The answer for a URL no route knows: the API's JSON error under `/api`, a page elsewhere.
pub async fn unknown_route(uri: Uri, headers: HeaderMap) -> Response {
    let not_found = ApiError::new(Code::RouteNotFound, "there is no such page or API route");
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        return not_found.into_response();
    }
    error_page(request_lang(&uri, &headers), cookie(&headers, SESSION_COOKIE).is_some(), not_found.code())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: Layout<'a>,
    /// The key of the message saying why signing in failed.
    failure: Option<&'static str>,
    email: &'a str,
}

fn login_page(lang: Lang, failure: Option<&'static str>, email: &str) -> Result<String, ApiError> {
    let page = Layout { lang, user: None, title: t(lang, "login_title").to_owned(), scripts: &[], map: false };
    html(&LoginPage { page, failure, email })
}

#[derive(Template)]
#[template(path = "offline.html")]
struct OfflinePage<'a> {
    page: Layout<'a>,
}

/// What the phone shows for a page it cannot reach offline: each page the signed-in user opens
/// stores this one, in their language, for the service worker (`vigie.js`).
async fn show_offline(PageLang(lang): PageLang) -> Result<Response, PageError> {
    let page = Layout { lang, user: None, title: t(lang, "offline_title").to_owned(), scripts: &[], map: false };
    Ok(([(CACHE_CONTROL, "no-cache")], Html(html(&OfflinePage { page })?)).into_response())
}

async fn show_login(PageLang(lang): PageLang) -> Result<Response, PageError> {
    Ok(([(SET_COOKIE, lang_cookie(lang))], Html(login_page(lang, None, "")?)).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    code: Option<String>,
}

async fn submit_login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    PageLang(lang): PageLang,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let body = LoginBody { email: form.email, password: form.password, code: form.code };
    match open_session(&state, &body, address).await {
        Ok((_, session_cookie)) => {
            Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, session_cookie), (LOCATION, "/".to_owned())]).into_response())
        }
        Err(err) if err.code() == Code::LoginFailed => {
            Ok((StatusCode::UNAUTHORIZED, Html(login_page(lang, Some("login_failed"), &body.email)?)).into_response())
        }
        Err(err) if err.code() == Code::SecondFactorNeeded => {
            Ok((StatusCode::UNAUTHORIZED, Html(login_page(lang, Some("login_code_needed"), &body.email)?))
                .into_response())
        }
        Err(err) if err.code() == Code::TooManyRequests => {
            Ok((StatusCode::TOO_MANY_REQUESTS, Html(login_page(lang, Some("login_throttled"), &body.email)?))
                .into_response())
        }
        // The password was right but the account is disabled.
        Err(err) if err.code() == Code::Forbidden => {
            Ok((StatusCode::FORBIDDEN, Html(login_page(lang, Some("login_disabled"), &body.email)?)).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(session) => Ok(state.app.principal_for_session(session).await?),
        None => Ok(None),
    }
}

async fn submit_logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let cleared = match signed_in(&state, &headers).await? {
        Some(caller) => close_session(&state, cookie(&headers, SESSION_COOKIE), &caller).await?,
        None => cleared_session_cookie(),
    };
    Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, cleared), (LOCATION, "/login".to_owned())]).into_response())
}

pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/login", get(show_login).post(submit_login))
        .route("/offline", get(show_offline))
        .route("/logout", post(submit_logout))
        .merge(registry::routes())
        .merge(accounts::routes())
        .merge(assess::routes())
        .merge(library::routes())
        .merge(bulletins::routes())
        .merge(communities::routes())
        .merge(reports::routes())
        .merge(threat_levels::routes())
        .layer(axum::middleware::from_fn(html_errors));
    Router::new()
        .route("/assets/{tag}/{name}", get(assets::serve))
        .route("/sw.js", get(assets::service_worker))
        .route("/favicon.ico", get(assets::favicon))
        .merge(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    #[test]
    fn both_languages_have_the_same_keys() {
        let en: Vec<_> = strings(Lang::En).keys().collect();
        let fr: Vec<_> = strings(Lang::Fr).keys().collect();
        assert!(!en.is_empty());
        assert_eq!(en, fr);
    }

    #[test]
    fn text_in_a_page_is_escaped() {
        let page = login_page(Lang::En, Some("login_failed"), r#"<script>"x"&'y'</script>"#).unwrap();
        assert!(page.contains("&#60;script&#62;&#34;x&#34;&#38;&#39;y&#39;&#60;/script&#62;"), "{page}");
        assert!(!page.contains("<script>\""), "{page}");
    }

    #[test]
    fn language_follows_param_then_cookie_then_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, "de-DE,fr-FR;q=0.8,en;q=0.5".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(choose_lang(None, &headers), Lang::Fr);
        headers.insert(COOKIE, "vigie_lang=en".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(choose_lang(None, &headers), Lang::En);
        assert_eq!(choose_lang(Some("fr"), &headers), Lang::Fr);
    }
}
