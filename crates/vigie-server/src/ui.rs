//! Server-rendered pages: sign-in, sign-out and the registry list. French and English, the
//! language taken from `?lang=`, then the `vigie_lang` cookie, then `Accept-Language`.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use vigie_domain::access::Principal;
use vigie_domain::site::Lang;
use vigie_store::SiteFilter;

use crate::api::{close_session, open_session, LoginBody};
use crate::auth::{cleared_session_cookie, cookie, secret_hash, SESSION_COOKIE};
use crate::error::ApiError;
use crate::{now_ms, AppState};

type Strings = BTreeMap<String, String>;

fn strings(lang: Lang) -> &'static Strings {
    static EN: OnceLock<Strings> = OnceLock::new();
    static FR: OnceLock<Strings> = OnceLock::new();
    let (cell, source) = match lang {
        Lang::En => (&EN, include_str!("../i18n/en.toml")),
        Lang::Fr => (&FR, include_str!("../i18n/fr.toml")),
    };
    // The files are compiled in and checked by a test; an unreadable one yields keys as text.
    cell.get_or_init(|| toml::from_str(source).unwrap_or_default())
}

fn t(lang: Lang, key: &str) -> String {
    strings(lang).get(key).cloned().unwrap_or_else(|| key.to_owned())
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

fn page(lang: Lang, title: &str, body: &str) -> String {
    let other = match lang {
        Lang::En => ("fr", "Français"),
        Lang::Fr => ("en", "English"),
    };
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Vigie</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}}
header{{background:#17324d;color:#fff;padding:.75rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}}
header a{{color:#fff}} main{{padding:1rem;max-width:70rem;margin:auto}}
table{{border-collapse:collapse;width:100%;background:#fff}} th,td{{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #d8dde3}}
label{{display:block;margin:.75rem 0 .25rem}} input{{font-size:1rem;padding:.5rem;width:100%;max-width:22rem;box-sizing:border-box}}
button{{font-size:1rem;padding:.5rem 1rem;margin-top:1rem;background:#17324d;color:#fff;border:0;border-radius:4px;cursor:pointer}}
:focus-visible{{outline:3px solid #f5a623;outline-offset:2px}} .error{{color:#a4000f;font-weight:600}} .spacer{{flex:1}}
</style></head>
<body><header><strong>Vigie</strong><span>{tagline}</span><span class="spacer"></span><a href="?lang={other_code}" hreflang="{other_code}">{other_name}</a></header>
<main>{body}</main></body></html>"#,
        code = lang.code(),
        title = esc(title),
        tagline = esc(&t(lang, "tagline")),
        other_code = other.0,
        other_name = other.1,
        body = body
    )
}

fn lang_cookie(lang: Lang) -> String {
    format!("vigie_lang={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code())
}

fn login_page(lang: Lang, failed: bool, email: &str) -> String {
    let error = if failed { format!(r#"<p class="error" role="alert">{}</p>"#, esc(&t(lang, "login_failed"))) } else { String::new() };
    let body = format!(
        r#"<h1>{title}</h1>{error}
<form method="post" action="/login">
<label for="email">{email_label}</label><input id="email" name="email" type="email" autocomplete="username" required value="{email}">
<label for="password">{password_label}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{sign_in}</button></form>"#,
        title = esc(&t(lang, "login_title")),
        email_label = esc(&t(lang, "email")),
        password_label = esc(&t(lang, "password")),
        email = esc(email),
        sign_in = esc(&t(lang, "sign_in")),
    );
    page(lang, &t(lang, "login_title"), &body)
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

async fn submit_login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Result<Response, ApiError> {
    let lang = choose_lang(None, &headers);
    let body = LoginBody { email: form.email, password: form.password };
    match open_session(&state, &body).await {
        Ok((_, session_cookie)) => Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, session_cookie), (LOCATION, "/".to_owned())]).into_response()),
        Err(err) if err.code == "login_failed" => Ok((StatusCode::UNAUTHORIZED, Html(login_page(lang, true, &body.email))).into_response()),
        Err(err) if err.code == "too_many_requests" => Ok((StatusCode::TOO_MANY_REQUESTS, Html(login_page(lang, true, &body.email))).into_response()),
        Err(err) => Err(err),
    }
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(session) => Ok(state.store.principal_for_session(&secret_hash(session), now_ms()).await?),
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

/// Rows shown on the registry page; the API pages through the rest.
const PAGE_ROWS: u32 = 200;

async fn home(State(state): State<AppState>, Query(param): Query<LangParam>, headers: HeaderMap) -> Result<Response, ApiError> {
    let lang = choose_lang(param.lang.as_deref(), &headers);
    let Some(caller) = signed_in(&state, &headers).await? else {
        return Ok((StatusCode::SEE_OTHER, [(LOCATION, "/login".to_owned())]).into_response());
    };
    let org = state.store.org_by_id(&caller.org_id).await?;
    let sites = state.store.list_sites(&SiteFilter { orgs: caller.readable_orgs(), limit: PAGE_ROWS, ..Default::default() }).await?;
    let ids: Vec<&str> = sites.items.iter().map(|s| s.id.as_str()).collect();
    state.audit.read(&caller, now_ms(), "site", None, json!({"list": ids})).await?;
    let rows: String = sites
        .items
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
                esc(&s.name),
                esc(s.category.name(lang)),
                s.area_m2,
                s.peak_occupancy.map(|o| o.to_string()).unwrap_or_default()
            )
        })
        .collect();
    let table = if sites.items.is_empty() {
        format!("<p>{}</p>", esc(&t(lang, "no_sites")))
    } else {
        format!(
            "<table><caption>{} {}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>{rows}</tbody></table>",
            esc(&t(lang, "showing_first")),
            sites.items.len(),
            esc(&t(lang, "site_name")),
            esc(&t(lang, "site_category")),
            esc(&t(lang, "site_area")),
            esc(&t(lang, "site_occupancy")),
        )
    };
    let body = format!(
        r#"<p>{signed_in_as} <strong>{email}</strong> · {org_label}: {org} · {role_label}: {role}</p>
<form method="post" action="/logout"><button type="submit">{sign_out}</button></form>
<h1>{title}</h1><p>{total} {count_label}</p>{table}"#,
        signed_in_as = esc(&t(lang, "signed_in_as")),
        email = esc(&caller.email),
        org_label = esc(&t(lang, "organisation")),
        org = esc(&org.map(|o| o.name).unwrap_or_default()),
        role_label = esc(&t(lang, "role")),
        role = esc(caller.role.key()),
        sign_out = esc(&t(lang, "sign_out")),
        title = esc(&t(lang, "sites_title")),
        total = sites.total,
        count_label = esc(&t(lang, "sites_count")),
    );
    Ok(([(SET_COOKIE, lang_cookie(lang))], Html(page(lang, &t(lang, "sites_title"), &body))).into_response())
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home)).route("/login", get(show_login).post(submit_login)).route("/logout", post(submit_logout))
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
    fn language_follows_param_then_cookie_then_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, "de-DE,fr-FR;q=0.8,en;q=0.5".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(choose_lang(None, &headers), Lang::Fr);
        headers.insert(COOKIE, "vigie_lang=en".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(choose_lang(None, &headers), Lang::En);
        assert_eq!(choose_lang(Some("fr"), &headers), Lang::Fr);
    }
}
