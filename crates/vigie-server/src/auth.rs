//! Who is calling: the API token or the session cookie of a request.
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use vigie_domain::access::Principal;

use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "vigie_session";

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name` in the request headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

pub fn session_cookie(parts: &Parts) -> Option<&str> {
    cookie(&parts.headers, SESSION_COOKIE)
}

/// The `Set-Cookie` value that ends a browser session.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The signed-in caller. Extracting it fails with `unauthenticated` when the request carries
/// no valid token or session.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = if let Some(token) = bearer_token(parts) {
            state.app.principal_for_token(token).await?
        } else if let Some(session) = session_cookie(parts) {
            state.app.principal_for_session(session).await?
        } else {
            None
        };
        let principal = principal.ok_or_else(|| ApiError(vigie_domain::Failure::unauthenticated()))?;
        if principal.must_enrol_second_factor {
            return Err(ApiError(vigie_domain::Failure::new(
                vigie_domain::Code::SecondFactorEnrolmentRequired,
                "your organisation requires a second factor: set it up on your account page (/account) first",
            )));
        }
        Ok(Caller(principal))
    }
}
