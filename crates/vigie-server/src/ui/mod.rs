//! Server-rendered pages. French and English, the language taken from `?lang=`, then the
//! `vigie_lang` cookie, then `Accept-Language`. Pages read the store with the same access checks
//! as the API; the small scripts in `assets/` call the JSON API for maps, forms and the
//! on-site assessment.
mod assess;
mod assets;
mod library;
mod registry;
#[cfg(test)]
mod route_tests;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
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

fn t(lang: Lang, key: &str) -> String {
    strings(lang).get(key).cloned().unwrap_or_else(|| key.to_owned())
}

/// `t`, escaped for HTML.
fn te(lang: Lang, key: &str) -> String {
    esc(&t(lang, key))
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// JSON placed inside a `<script type="application/json">`: `<` is escaped so that no text can
/// close the element.
fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
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

fn lang_cookie(lang: Lang) -> String {
    format!("vigie_lang={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code())
}

/// The signed-in caller of a page, with what every page header shows.
struct Ctx {
    lang: Lang,
    caller: Principal,
    org_name: String,
}

impl Ctx {
    fn t(&self, key: &str) -> String {
        te(self.lang, key)
    }

    fn role_name(&self) -> String {
        let key = match self.caller.role {
            Role::Admin => "role_admin",
            Role::Authority => "role_authority",
            Role::Assessor => "role_assessor",
            Role::Operator => "role_operator",
            Role::Viewer => "role_viewer",
        };
        self.t(key)
    }
}

/// The caller of a page, or the redirect to the sign-in page.
async fn page_ctx(
    state: &AppState,
    headers: &HeaderMap,
    lang_param: Option<&str>,
) -> Result<Result<Ctx, Response>, ApiError> {
    let lang = choose_lang(lang_param, headers);
    let Some(caller) = signed_in(state, headers).await? else {
        return Ok(Err((StatusCode::SEE_OTHER, [(LOCATION, "/login".to_owned())]).into_response()));
    };
    let org_name = state.app.me(&caller).await?.org.map(|o| o.name).unwrap_or_default();
    Ok(Ok(Ctx { lang, caller, org_name }))
}

/// What a page puts in the layout.
struct Page<'a> {
    title: &'a str,
    body: String,
    /// Asset names of the scripts the page needs, in order.
    scripts: &'a [&'a str],
    /// Leaflet's stylesheet, for pages with a map.
    map: bool,
}

/// Strings the scripts show, handed to them in the page: every key starting with `js_`.
fn script_strings(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = strings(lang)
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("js_").map(|k| (k.to_owned(), serde_json::Value::String(v.clone()))))
        .collect();
    script_json(&serde_json::Value::Object(map))
}

fn layout(lang: Lang, ctx: Option<&Ctx>, page: Page<'_>) -> String {
    let other = match lang {
        Lang::En => ("fr", "Français"),
        Lang::Fr => ("en", "English"),
    };
    let nav = match ctx {
        Some(ctx) => format!(
            r#"<nav aria-label="{nav_label}"><a href="/dashboard">{dashboard}</a><a href="/">{registry}</a><a href="/library">{library}</a></nav>
<span class="spacer"></span><span class="who">{email} · {org} · {role}</span>
<form method="post" action="/logout" class="inline"><button type="submit" class="link">{sign_out}</button></form>"#,
            nav_label = ctx.t("nav_label"),
            dashboard = ctx.t("dashboard_title"),
            registry = ctx.t("sites_title_short"),
            library = ctx.t("library_title"),
            email = esc(&ctx.caller.email),
            org = esc(&ctx.org_name),
            role = ctx.role_name(),
            sign_out = ctx.t("sign_out"),
        ),
        None => r#"<span class="spacer"></span>"#.to_owned(),
    };
    let map_css = if page.map {
        format!(r#"<link rel="stylesheet" href="{}">"#, assets::url("leaflet.css"))
    } else {
        String::new()
    };
    let scripts: String =
        page.scripts.iter().map(|s| format!(r#"<script src="{}" defer></script>"#, assets::url(s))).collect();
    format!(
        r##"<!doctype html>
<html lang="{code}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Vigie</title>
{map_css}<link rel="stylesheet" href="{css}">
<script id="vigie-strings" type="application/json">{strings}</script>
<script src="{app}" defer></script>{scripts}</head>
<body><a class="skip" href="#main">{skip}</a>
<header><a href="/" class="brand">Vigie</a>{nav}<a href="?lang={other_code}" hreflang="{other_code}" lang="{other_code}">{other_name}</a></header>
<main id="main" tabindex="-1">{body}</main></body></html>"##,
        code = lang.code(),
        title = esc(page.title),
        css = assets::url("vigie.css"),
        app = assets::url("vigie.js"),
        strings = script_strings(lang),
        skip = te(lang, "skip_to_content"),
        other_code = other.0,
        other_name = other.1,
        body = page.body,
    )
}

/// A page for a signed-in caller, with the language cookie refreshed.
fn render(ctx: &Ctx, page: Page<'_>) -> Response {
    ([(SET_COOKIE, lang_cookie(ctx.lang))], Html(layout(ctx.lang, Some(ctx), page))).into_response()
}

fn login_page(lang: Lang, failed: bool, email: &str) -> String {
    let error = if failed {
        format!(r#"<p class="error" role="alert">{}</p>"#, te(lang, "login_failed"))
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{title}</h1><p>{tagline}</p>{error}
<form method="post" action="/login" class="card narrow">
<label for="email">{email_label}</label><input id="email" name="email" type="email" autocomplete="username" required value="{email}">
<label for="password">{password_label}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{sign_in}</button></form>"#,
        title = te(lang, "login_title"),
        tagline = te(lang, "tagline"),
        email_label = te(lang, "email"),
        password_label = te(lang, "password"),
        email = esc(email),
        sign_in = te(lang, "sign_in"),
    );
    layout(lang, None, Page { title: &t(lang, "login_title"), body, scripts: &[], map: false })
}

async fn show_login(Query(param): Query<LangParam>, headers: HeaderMap) -> Response {
    let lang = choose_lang(param.lang.as_deref(), &headers);
    ([(SET_COOKIE, lang_cookie(lang))], Html(login_page(lang, false, ""))).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn submit_login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let lang = choose_lang(None, &headers);
    let body = LoginBody { email: form.email, password: form.password };
    match open_session(&state, &body, address).await {
        Ok((_, session_cookie)) => {
            Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, session_cookie), (LOCATION, "/".to_owned())]).into_response())
        }
        Err(err) if err.code() == Code::LoginFailed => {
            Ok((StatusCode::UNAUTHORIZED, Html(login_page(lang, true, &body.email))).into_response())
        }
        Err(err) if err.code() == Code::TooManyRequests => {
            Ok((StatusCode::TOO_MANY_REQUESTS, Html(login_page(lang, true, &body.email))).into_response())
        }
        Err(err) => Err(err),
    }
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(session) => Ok(state.app.principal_for_session(session).await?),
        None => Ok(None),
    }
}

async fn submit_logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let cleared = match signed_in(&state, &headers).await? {
        Some(caller) => close_session(&state, cookie(&headers, SESSION_COOKIE), &caller).await?,
        None => cleared_session_cookie(),
    };
    Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, cleared), (LOCATION, "/login".to_owned())]).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(show_login).post(submit_login))
        .route("/logout", post(submit_logout))
        .route("/assets/{tag}/{name}", get(assets::serve))
        .route("/sw.js", get(assets::service_worker))
        .merge(registry::routes())
        .merge(assess::routes())
        .merge(library::routes())
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
    fn html_is_escaped() {
        assert_eq!(esc(r#"<script>"x"&'y'</script>"#), "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;");
    }

    #[test]
    fn json_in_a_page_cannot_close_its_script() {
        assert_eq!(script_json(&serde_json::json!({"a": "</script>"})), r#"{"a":"\u003c/script>"}"#);
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
