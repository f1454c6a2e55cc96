//! Passwords and the random secrets of sessions and API tokens.
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Code, Failure};

pub const MIN_PASSWORD_CHARS: usize = 10;

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, Failure> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Failure::new(
            Code::ValidationFailed,
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|_| Failure::internal())
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

/// A new object id: 128 random bits in hex, so that ids reveal neither order nor count.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database keeps of a secret. Secrets are random 256-bit values, so a plain
/// SHA-256 is enough: there is nothing to brute-force.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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
        assert_eq!(hash_password("short").map_err(|e| e.code), Err(Code::ValidationFailed));
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
