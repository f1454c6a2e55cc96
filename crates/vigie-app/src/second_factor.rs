//! The optional second factor: a time-based one-time code (TOTP, RFC 6238: HMAC-SHA-1, six
//! digits, 30-second steps, one step of clock drift either way) from an authenticator app.
//! A user sets it up on their account page; an organisation's administrator may require it
//! of every user of the organisation. Each code works once (RFC 6238, section 5.2).
use rand::RngCore;
use totp_rs::{Builder, Secret, Totp};
use vigie_domain::access::Principal;
use vigie_domain::{DomainError, OrgId, UserId};
use vigie_store::Org;

use crate::secrets::check_password;
use crate::{App, Code, Failure, Result};

/// Shown in the authenticator app next to the account.
const ISSUER: &str = "Vigie";

/// A secret just drawn for the caller, not stored until they prove their app holds it.
pub struct SecondFactorSetup {
    /// Base32, as the user may type it into an app.
    pub secret: String,
    /// The `otpauth://` address an app reads from a QR code.
    pub uri: String,
}

impl std::fmt::Debug for SecondFactorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorSetup").field("secret", &"***").finish()
    }
}

/// The caller's second factor, for their account page.
#[derive(Debug, Clone, Copy)]
pub struct SecondFactorStatus {
    pub enabled: bool,
    pub required: bool,
}

fn totp(secret_base32: &str, account: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|_| DomainError::validation("secret", "the setup key is not valid: start the setup again"))?;
    // An email may hold ':' only in odd quoted forms; the app label just drops it.
    let account = account.replace(':', " ");
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|_| DomainError::validation("secret", "the setup key is not valid: start the setup again").into())
}

/// The time step (30-second window since the epoch) a code belongs to, if it is right at
/// `now_ms` (one step early or late accepted).
fn matching_step(secret_base32: &str, account: &str, code: &str, now_ms: i64) -> Result<Option<i64>> {
    let now_s = u64::try_from(now_ms / 1000).unwrap_or(0);
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(totp(secret_base32, account)?.check(&code, now_s).and_then(|step| i64::try_from(step).ok()))
}

impl App {
    /// Draws a new secret for the caller to add to their authenticator app.
    pub fn second_factor_setup(&self, caller: &Principal) -> Result<SecondFactorSetup> {
        let mut bytes = vec![0u8; 20];
        rand::rng().fill_bytes(&mut bytes);
        let secret = Secret::from(bytes).to_base32();
        let uri = self.second_factor_uri(caller, &secret)?;
        Ok(SecondFactorSetup { secret, uri })
    }

    /// The `otpauth://` address of a key being set up (to show its QR code again).
    pub fn second_factor_uri(&self, caller: &Principal, secret: &str) -> Result<String> {
        totp(secret, &caller.email)?.to_url().map_err(|_| Failure::internal())
    }

    /// Whether the caller has a second factor, and whether their organisation requires one.
    pub async fn second_factor_status(&self, caller: &Principal) -> Result<SecondFactorStatus> {
        let user = self.store.user_by_id(&caller.user_id).await?.ok_or_else(|| Failure::not_found("user"))?;
        let org = self.store.org_by_id(&caller.org_id).await?;
        Ok(SecondFactorStatus { enabled: user.second_factor, required: org.is_some_and(|o| o.second_factor_required) })
    }

    /// Turns the second factor on, once the code from the app matches the secret.
    pub async fn enable_second_factor(&self, caller: &Principal, secret: &str, code: &str) -> Result<()> {
        let step = matching_step(secret, &caller.email, code, self.now_ms())?.ok_or_else(|| {
            DomainError::validation("code", "this code does not match: check the app's clock and type the newest code")
        })?;
        self.store.set_second_factor(&self.write_context(caller), &caller.user_id, Some(secret)).await?;
        // The code just typed has served; it must not open a session too.
        self.store.use_second_factor_step(&caller.user_id, step).await?;
        Ok(())
    }

    /// Turns the second factor off, given the password; not while the organisation requires it.
    pub async fn disable_second_factor(&self, caller: &Principal, password: &str) -> Result<()> {
        let org = self.store.org_by_id(&caller.org_id).await?;
        if org.is_some_and(|o| o.second_factor_required) {
            return Err(Failure::forbidden("your organisation requires a second factor: it cannot be turned off"));
        }
        let hash = self.store.user_by_email(&caller.email).await?.map(|f| f.password_hash);
        if !check_password(hash, password.to_owned()).await {
            return Err(DomainError::validation("current_password", "the current password is not right").into());
        }
        Ok(self.store.set_second_factor(&self.write_context(caller), &caller.user_id, None).await?)
    }

    /// Whether every user of `org` must sign in with a second factor: the platform's or the
    /// organisation's own administrator decides. Users without one are asked to set it up at
    /// their next request.
    pub async fn set_org_second_factor(&self, caller: &Principal, org: &OrgId, required: bool) -> Result<Org> {
        if !caller.can_manage_accounts_of(org) {
            return Err(Failure::forbidden("only an administrator of this organisation decides its sign-in rules"));
        }
        Ok(self.store.set_org_second_factor(&self.write_context(caller), org, required).await?)
    }

    /// Checks the code of a user who has a second factor, during sign-in: `Ok(())` when it is
    /// right and unused.
    pub(crate) async fn check_second_factor(
        &self,
        user: &UserId,
        email: &str,
        secret: &str,
        code: Option<&str>,
    ) -> Result<()> {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(Failure::new(Code::SecondFactorNeeded, "enter the 6-digit code from your authenticator app"));
        };
        let step = matching_step(secret, email, code, self.now_ms())?;
        match step {
            Some(step) if self.store.use_second_factor_step(user, step).await? => Ok(()),
            _ => Err(Failure::new(Code::LoginFailed, "wrong email, password or code")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 key "12345678901234567890" at T = 59 s gives 94287082
    /// on 8 digits; on 6 digits, its last six: 287082.
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(matching_step(&secret, "a@example.org", "287082", 59_000).unwrap(), Some(1));
        assert_eq!(matching_step(&secret, "a@example.org", "287 082", 59_000).unwrap(), Some(1));
        // One step of drift either way, not two.
        assert_eq!(matching_step(&secret, "a@example.org", "287082", 89_000).unwrap(), Some(1));
        assert_eq!(matching_step(&secret, "a@example.org", "287082", 119_000).unwrap(), None);
        assert_eq!(matching_step(&secret, "a@example.org", "000000", 59_000).unwrap(), None);
        assert!(matching_step("not base32!", "a@example.org", "287082", 59_000).is_err());
    }
}
