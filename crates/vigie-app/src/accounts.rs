//! Signing in and out, who is calling, organisations and API tokens.
use std::net::IpAddr;

use serde_json::json;
use vigie_domain::access::{OrgKind, Principal};
use vigie_domain::audit::AuditRecord;
use vigie_domain::{DomainError, TokenId};
use vigie_store::{ApiToken, Org, WriteContext};

use crate::secrets::{check_password, new_secret, secret_hash};
use crate::throttle::{Blocked, WINDOW_MS};
use crate::{App, Code, Failure, Result};

/// A session just opened: who signed in and the secret the browser keeps in its cookie.
pub struct Session {
    pub principal: Principal,
    pub secret: String,
    /// How long the session lasts, in seconds.
    pub max_age_s: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("principal", &self.principal).field("secret", &"***").finish()
    }
}

/// A token just created: its secret is shown once, here; only its hash is kept.
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

/// The signed-in caller and their organisation.
pub struct Me {
    pub principal: Principal,
    pub org: Option<Org>,
}

impl App {
    /// Checks credentials and opens a session. Failed attempts are audited, and the message
    /// never says whether the email exists. `address` is the client's, for the count of
    /// failures per address (see [`crate::throttle`]).
    pub async fn sign_in(&self, email: &str, password: &str, address: Option<IpAddr>) -> Result<Session> {
        let failed = || Failure::new(Code::LoginFailed, "wrong email or password");
        let now = self.now_ms();
        let email = email.trim().to_lowercase();
        // An email is short and has no control characters; anything else cannot be an account,
        // and is never written anywhere (it might be a password typed in the wrong box).
        let plausible =
            email.len() <= 254 && email.contains('@') && !email.chars().any(|c| c.is_control() || c.is_whitespace());
        if let Some(blocked) = self.login_throttle.blocked(&email, address, now) {
            let from = match blocked {
                Blocked::Account => "for this account",
                Blocked::Address => "from your network address",
            };
            return Err(Failure::new(
                Code::TooManyRequests,
                format!("too many failed sign-ins {from}; try again in {} minutes", WINDOW_MS / 60_000),
            ));
        }
        let found = if plausible { self.store.user_by_email(&email).await? } else { None };
        let hash = found.as_ref().map(|f| f.password_hash.clone());
        let verified = check_password(hash, password.to_owned()).await;
        let Some(found) = found.filter(|_| verified) else {
            self.login_throttle.record_failure(&email, address, now);
            let record = AuditRecord {
                at_ms: now,
                actor: "anonymous".into(),
                actor_org: None,
                action: "user.login_failed".into(),
                object_type: "user".into(),
                object_id: None,
                details: json!({ "email": if plausible { email.as_str() } else { "(not an email address)" } }),
            };
            self.audit.append(record).await?;
            return Err(failed());
        };
        self.login_throttle.succeeded(&email);
        let secret = new_secret("");
        let ctx =
            WriteContext { at_ms: now, actor: found.user.id.to_string(), actor_org: Some(found.user.org_id.clone()) };
        let expires = now + i64::from(self.settings.session_hours) * 3_600_000;
        self.store.create_session(&ctx, &secret_hash(&secret), &found.user.id, expires).await?;
        let principal =
            self.store.principal_for_session(&secret_hash(&secret), now).await?.ok_or_else(Failure::internal)?;
        Ok(Session { principal, secret, max_age_s: u64::from(self.settings.session_hours) * 3600 })
    }

    /// Ends the session whose secret the browser sent, if any.
    pub async fn sign_out(&self, caller: &Principal, session_secret: Option<&str>) -> Result<()> {
        if let Some(secret) = session_secret {
            self.store.delete_session(&self.write_context(caller), &secret_hash(secret)).await?;
        }
        Ok(())
    }

    /// Who holds this API token; `None` for an unknown or revoked one.
    pub async fn principal_for_token(&self, token: &str) -> Result<Option<Principal>> {
        Ok(self.store.principal_for_token(&secret_hash(token)).await?)
    }

    /// Who holds this browser session; `None` for an unknown or expired one.
    pub async fn principal_for_session(&self, secret: &str) -> Result<Option<Principal>> {
        Ok(self.store.principal_for_session(&secret_hash(secret), self.now_ms()).await?)
    }

    pub async fn me(&self, caller: &Principal) -> Result<Me> {
        let org = self.store.org_by_id(&caller.org_id).await?;
        Ok(Me { principal: caller.clone(), org })
    }

    /// The organisations the caller may read.
    pub async fn organisations(&self, caller: &Principal) -> Result<Vec<Org>> {
        Ok(self.store.list_orgs().await?.into_iter().filter(|o| caller.can_read_org(&o.id)).collect())
    }

    pub async fn create_organisation(&self, caller: &Principal, name: &str, kind: OrgKind) -> Result<Org> {
        if !caller.is_admin() {
            return Err(Failure::forbidden("only an administrator can create organisations"));
        }
        if name.trim().is_empty() {
            return Err(DomainError::validation("name", "an organisation needs a name").into());
        }
        Ok(self.store.create_org(&self.write_context(caller), name, kind).await?)
    }

    pub async fn tokens(&self, caller: &Principal) -> Result<Vec<ApiToken>> {
        Ok(self.store.list_tokens(&caller.user_id).await?)
    }

    pub async fn create_token(&self, caller: &Principal, name: &str) -> Result<NewToken> {
        vigie_domain::site::check_text("name", name)?;
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(DomainError::validation("name", "a token needs a name of 1 to 100 characters").into());
        }
        let secret = new_secret("vg_");
        let token = self
            .store
            .create_token(&self.write_context(caller), &caller.user_id, name.trim(), &secret_hash(&secret))
            .await?;
        Ok(NewToken { token, secret })
    }

    pub async fn revoke_token(&self, caller: &Principal, token_id: &TokenId) -> Result<()> {
        Ok(self.store.revoke_token(&self.write_context(caller), &caller.user_id, token_id).await?)
    }
}
