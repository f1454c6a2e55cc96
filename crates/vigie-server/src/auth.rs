//! Passwords, secrets, and who is calling.
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use vigie_domain::access::Principal;

use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "vigie_session";
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::new(
            "validation_failed",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|_| ApiError::internal())
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Checks a password against a user's hash, or against a fixed hash when there is no such
/// user, so that a wrong email takes as long as a wrong password and reveals nothing. Runs on
/// a blocking thread: argon2 is deliberately slow and must not stall the async workers.
pub async fn check_password(phc: Option<String>, password: String) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| {
        DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default()).clone()
    });
    let verified = tokio::task::spawn_blocking(move || verify_password(&phc, &password)).await.unwrap_or(false);
    known && verified
}

/// A fresh random secret for a session or an API token (256 bits, URL-safe).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a secret. Secrets are random 256-bit values, so a plain
/// SHA-256 is enough: there is nothing to brute-force.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

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
            state.store.principal_for_token(&secret_hash(token)).await?
        } else if let Some(session) = session_cookie(parts) {
            state.store.principal_for_session(&secret_hash(session), crate::now_ms()).await?
        } else {
            None
        };
        principal.map(Caller).ok_or_else(ApiError::unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "wrong horse battery"));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(hash_password("short").map_err(|e| e.code), Err("validation_failed"));
    }

    #[test]
    fn secrets_are_unique_and_hashed() {
        let (a, b) = (new_secret("vg_"), new_secret("vg_"));
        assert_ne!(a, b);
        assert!(a.starts_with("vg_") && a.len() > 40);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), a);
    }
}
