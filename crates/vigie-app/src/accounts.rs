//! Signing in and out, who is calling, organisations and API tokens.
use std::net::IpAddr;

use serde_json::json;
use vigie_domain::access::{LinkPurpose, OrgKind, Principal, Role, User};
use vigie_domain::audit::AuditRecord;
use vigie_domain::{DomainError, OrgId, TokenId, UserId};
use vigie_store::{ApiToken, NewUser, Org, UserChange, WriteContext};

use crate::secrets::{check_password, hash_password, new_secret, secret_hash};
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

/// How long an invitation or a password-reset link works.
pub const LINK_HOURS: i64 = 72;

/// A one-time link just made for `user`: its secret goes in the URL shown to the
/// administrator (`/welcome/SECRET`), once; only its hash is kept.
pub struct AccountLink {
    pub user: User,
    pub purpose: LinkPurpose,
    pub secret: String,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for AccountLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountLink")
            .field("user", &self.user)
            .field("purpose", &self.purpose)
            .field("secret", &"***")
            .finish()
    }
}

/// The signed-in caller and their organisation.
pub struct Me {
    pub principal: Principal,
    pub org: Option<Org>,
}

impl App {
    /// Checks credentials and opens a session. Failed attempts are audited, and the message
    /// never says whether the email exists. `code` is the authenticator app's, for a user who
    /// set up a second factor. `address` is the client's, for the count of failures per
    /// address (see [`crate::throttle`]).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        code: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<Session> {
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
        let failure = |reason: &'static str| AuditRecord {
            at_ms: now,
            actor: "anonymous".into(),
            actor_org: None,
            action: "user.login_failed".into(),
            object_type: "user".into(),
            object_id: None,
            details: json!({
                "email": if plausible { email.as_str() } else { "(not an email address)" },
                "reason": reason,
            }),
        };
        let Some(found) = found.filter(|_| verified) else {
            self.login_throttle.record_failure(&email, address, now);
            self.audit.append(failure("password")).await?;
            return Err(failed());
        };
        if let Some(secret) = &found.totp_secret {
            match self.check_second_factor(&found.user.id, &email, secret, code).await {
                Ok(()) => {}
                // Asking for the code is not a failure: the password was right.
                Err(err) if err.code == Code::SecondFactorNeeded => return Err(err),
                Err(err) => {
                    self.login_throttle.record_failure(&email, address, now);
                    self.audit.append(failure("second factor")).await?;
                    return Err(err);
                }
            }
        }
        self.login_throttle.succeeded(&email);
        if found.user.disabled_at_ms.is_some() {
            return Err(Failure::forbidden("this account is disabled: ask your administrator"));
        }
        self.open_session(&found.user).await
    }

    /// A new session for `user`, who has just proved who they are.
    async fn open_session(&self, user: &User) -> Result<Session> {
        let now = self.now_ms();
        let secret = new_secret("");
        let ctx = WriteContext { at_ms: now, actor: user.id.to_string(), actor_org: Some(user.org_id.clone()) };
        let expires = now + i64::from(self.settings.session_hours) * 3_600_000;
        self.store.create_session(&ctx, &secret_hash(&secret), &user.id, expires).await?;
        let principal =
            self.store.principal_for_session(&secret_hash(&secret), now).await?.ok_or_else(Failure::internal)?;
        Ok(Session { principal, secret, max_age_s: u64::from(self.settings.session_hours) * 3600 })
    }

    /// Every account an administrator manages: all of them for the platform's administrator,
    /// its own organisation's for an organisation's administrator; the read is audited.
    pub async fn users(&self, caller: &Principal) -> Result<Vec<User>> {
        let users = if caller.is_admin() {
            self.store.list_users(None).await?
        } else if caller.manages_org {
            self.store.list_users(Some(&caller.org_id)).await?
        } else {
            return Err(Failure::forbidden("only an administrator manages accounts"));
        };
        self.audit_read(caller, "user", None, json!({"list": users.len()})).await?;
        Ok(users)
    }

    /// Invites someone: the account exists at once (with no usable password) and a one-time
    /// link lets them choose their password. An administrator's use case (an organisation's
    /// administrator invites into their organisation).
    pub async fn invite_user(
        &self,
        caller: &Principal,
        email: &str,
        org_id: &OrgId,
        role: Role,
    ) -> Result<AccountLink> {
        require_manager_of(caller, org_id, role)?;
        crate::console::check_email(email)?;
        self.store.org_by_id(org_id).await?.ok_or_else(|| Failure::not_found("organisation"))?;
        // Nobody knows this password: the account opens only through the link.
        let password_hash = hash_password(&new_secret("unusable-"))?;
        let new = NewUser { email: email.to_owned(), org_id: org_id.clone(), role, password_hash };
        let user = self.store.create_user(&self.write_context(caller), new).await?;
        self.account_link(caller, user, LinkPurpose::Invite).await
    }

    /// A one-time link for `id` to set a new password; earlier links stop working.
    pub async fn reset_link(&self, caller: &Principal, id: &UserId) -> Result<AccountLink> {
        let user = self.managed_user(caller, id).await?;
        self.account_link(caller, user, LinkPurpose::Reset).await
    }

    async fn account_link(&self, caller: &Principal, user: User, purpose: LinkPurpose) -> Result<AccountLink> {
        let secret = new_secret("");
        let expires_at_ms = self.now_ms() + LINK_HOURS * 3_600_000;
        self.store
            .create_account_link(&self.write_context(caller), &user.id, &secret_hash(&secret), purpose, expires_at_ms)
            .await?;
        Ok(AccountLink { user, purpose, secret, expires_at_ms })
    }

    /// Changes a user's role, whether they manage their organisation's accounts, or disables
    /// (re-enables) the account: a disabled user's sessions end and their tokens stop at once.
    /// Nobody disables themself or gives up their own administration (the last administrator
    /// would lock everyone out).
    pub async fn update_user(&self, caller: &Principal, id: &UserId, change: UserChange) -> Result<User> {
        let before = self.managed_user(caller, id).await?;
        require_manager_of(caller, &before.org_id, change.role)?;
        let gives_up = if caller.is_admin() { change.role != Role::Admin } else { !change.manages_org };
        if *id == caller.user_id && (change.disabled || gives_up) {
            return Err(DomainError::validation(
                "role",
                "you cannot disable your own account or give up your own administrator role",
            )
            .into());
        }
        Ok(self.store.update_user(&self.write_context(caller), id, change).await?)
    }

    /// A user the caller administers; another organisation's is "not found", and a platform
    /// administrator's account is the platform administrators' alone.
    async fn managed_user(&self, caller: &Principal, id: &UserId) -> Result<User> {
        let user = self.store.user_by_id(id).await?.ok_or_else(|| Failure::not_found("user"))?;
        if !caller.can_manage_accounts_of(&user.org_id) {
            return Err(Failure::not_found("user"));
        }
        if user.role == Role::Admin && !caller.is_admin() {
            return Err(Failure::forbidden("only a platform administrator changes an administrator's account"));
        }
        Ok(user)
    }

    /// Whom a live one-time link is for (its page shows the email); `None` when it is unknown,
    /// used or expired.
    pub async fn link_user(&self, secret: &str) -> Result<Option<User>> {
        Ok(self.store.account_link_user(&secret_hash(secret), self.now_ms()).await?)
    }

    /// Sets the password through a one-time link and signs the user in.
    pub async fn accept_link(&self, secret: &str, password: &str) -> Result<Session> {
        let password_hash = hash_password(password)?;
        let ctx = WriteContext { at_ms: self.now_ms(), actor: "link".into(), actor_org: None };
        let user = self.store.use_account_link(&ctx, &secret_hash(secret), &password_hash).await?.ok_or_else(|| {
            Failure::new(
                Code::NotFound,
                "this link was used already or has expired: ask your administrator for a new one",
            )
        })?;
        if user.disabled_at_ms.is_some() {
            return Err(Failure::forbidden("this account is disabled: ask your administrator"));
        }
        self.open_session(&user).await
    }

    /// Every user changes their own password, giving the current one.
    pub async fn change_password(&self, caller: &Principal, current: &str, new: &str) -> Result<()> {
        let found = self.store.user_by_email(&caller.email).await?;
        let hash = found.map(|f| f.password_hash);
        if !check_password(hash, current.to_owned()).await {
            return Err(DomainError::validation("current_password", "the current password is not right").into());
        }
        let password_hash = hash_password(new)?;
        Ok(self.store.set_password(&self.write_context(caller), &caller.user_id, &password_hash).await?)
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

    /// The names of organisations, by id: who sent a bulletin the caller reads, who received
    /// one the caller sent. A name says nothing protected; the ids come from objects the caller
    /// was allowed to read.
    pub async fn organisation_names(&self, ids: &[OrgId]) -> Result<std::collections::HashMap<OrgId, String>> {
        let mut names = std::collections::HashMap::new();
        for id in ids {
            if !names.contains_key(id)
                && let Some(org) = self.store.org_by_id(id).await?
            {
                names.insert(org.id, org.name);
            }
        }
        Ok(names)
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

    /// Every oversight link, for an administrator: (authority, overseen).
    pub async fn oversight_links(&self, caller: &Principal) -> Result<Vec<(OrgId, OrgId)>> {
        require_admin(caller)?;
        Ok(self.store.oversight_links().await?)
    }

    /// Lets an authority read the sites of another organisation. An administrator's use case.
    pub async fn add_oversight(&self, caller: &Principal, authority: &OrgId, overseen: &OrgId) -> Result<()> {
        require_admin(caller)?;
        let found = |id: &OrgId| {
            let id = id.clone();
            async move { self.store.org_by_id(&id).await?.ok_or_else(|| Failure::not_found("organisation")) }
        };
        let authority = found(authority).await?;
        check_can_oversee(&authority)?;
        let overseen = found(overseen).await?;
        if authority.id == overseen.id {
            return Err(DomainError::validation("overseen", "an organisation already reads its own sites").into());
        }
        Ok(self.store.add_oversight(&self.write_context(caller), &authority.id, &overseen.id).await?)
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

fn require_admin(caller: &Principal) -> Result<()> {
    if caller.is_admin() { Ok(()) } else { Err(Failure::forbidden("only an administrator manages accounts")) }
}

/// May the caller give `role` to a user of `org`? Only the platform's administrators make
/// administrators.
fn require_manager_of(caller: &Principal, org: &OrgId, role: Role) -> Result<()> {
    if !caller.can_manage_accounts_of(org) {
        return Err(Failure::forbidden("only an administrator of this organisation manages its accounts"));
    }
    if role == Role::Admin && !caller.is_admin() {
        return Err(Failure::forbidden("only a platform administrator makes administrators"));
    }
    Ok(())
}

/// Only an authority oversees other organisations.
pub(crate) fn check_can_oversee(authority: &Org) -> Result<()> {
    if authority.kind == OrgKind::Authority {
        Ok(())
    } else {
        Err(Failure::new(
            Code::ValidationFailed,
            format!("'{}' is not an authority; only authorities oversee others", authority.name),
        ))
    }
}
