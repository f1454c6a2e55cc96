//! Organisations, users, sessions and API tokens: who may call, and as whom.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Row as _, Type};
use vigie_domain::access::{LinkPurpose, OrgKind, Principal};
use vigie_domain::{OrgId, TokenId, UserId};

use crate::sql::{Backend, Sql, Value, conflict_or, new_id};
use crate::{ApiToken, NewUser, Org, Result, StoreError, User, UserChange, UserWithSecret, WriteContext};

const USER_COLUMNS: &str = "id, email, org_id, role, created_at, disabled_at, manages_org, totp_secret";
const ORG_COLUMNS: &str = "id, name, kind, created_at, second_factor_required";
/// The user of a live one-time link: unused and unexpired at `$2`.
const LIVE_LINK_USER: &str = "SELECT u.id, u.email, u.org_id, u.role, u.created_at, u.disabled_at, u.manages_org, u.totp_secret FROM account_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2";

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_org(&self, ctx: &WriteContext, name: &str, kind: OrgKind) -> Result<Org>;
    async fn org_by_name(&self, name: &str) -> Result<Option<Org>>;
    async fn org_by_id(&self, id: &OrgId) -> Result<Option<Org>>;
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    /// Lets `authority_org` read the sites of `overseen_org`.
    async fn add_oversight(&self, ctx: &WriteContext, authority_org: &OrgId, overseen_org: &OrgId) -> Result<()>;
    /// Every oversight link: (authority, overseen).
    async fn oversight_links(&self) -> Result<Vec<(OrgId, OrgId)>>;

    async fn create_user(&self, ctx: &WriteContext, user: NewUser) -> Result<User>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserWithSecret>>;
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>>;
    /// Every user, or those of one organisation, by email.
    async fn list_users(&self, org: Option<&OrgId>) -> Result<Vec<User>>;
    /// Sets a user's role, whether the account is disabled and whether it manages its
    /// organisation's accounts. Disabling ends its sessions; its tokens stop working while it
    /// is disabled (principals are only found for enabled users).
    async fn update_user(&self, ctx: &WriteContext, id: &UserId, change: UserChange) -> Result<User>;
    /// Sets (or, with `None`, removes) the user's TOTP secret.
    async fn set_second_factor(&self, ctx: &WriteContext, id: &UserId, totp_secret: Option<&str>) -> Result<()>;
    /// Records that the TOTP code of time step `step` was used: `false` when that step (or a
    /// later one) was used already, so that a code works once (RFC 6238, section 5.2).
    async fn use_second_factor_step(&self, id: &UserId, step: i64) -> Result<bool>;
    /// Whether every user of `org` must sign in with a second factor.
    async fn set_org_second_factor(&self, ctx: &WriteContext, org: &OrgId, required: bool) -> Result<Org>;
    async fn set_password(&self, ctx: &WriteContext, id: &UserId, password_hash: &str) -> Result<()>;
    /// Stores a one-time link (its secret's hash) for `user_id`; earlier unused links of the
    /// user stop working.
    async fn create_account_link(
        &self,
        ctx: &WriteContext,
        user_id: &UserId,
        token_hash: &str,
        purpose: LinkPurpose,
        expires_at_ms: i64,
    ) -> Result<()>;
    /// The user a live (unused, unexpired) link is for.
    async fn account_link_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>>;
    /// Uses a live link: sets the user's password, removes any second factor and marks the
    /// link used, in one transaction; `None` when the link is unknown, used or expired.
    async fn use_account_link(&self, ctx: &WriteContext, token_hash: &str, password_hash: &str)
    -> Result<Option<User>>;

    async fn create_session(
        &self,
        ctx: &WriteContext,
        token_hash: &str,
        user_id: &UserId,
        expires_at_ms: i64,
    ) -> Result<()>;
    async fn principal_for_session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Principal>>;
    async fn delete_session(&self, ctx: &WriteContext, token_hash: &str) -> Result<()>;

    async fn create_token(
        &self,
        ctx: &WriteContext,
        user_id: &UserId,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiToken>;
    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>>;
    async fn list_tokens(&self, user_id: &UserId) -> Result<Vec<ApiToken>>;
    /// Revokes one of `user_id`'s tokens; `NotFound` when it has no such live token.
    async fn revoke_token(&self, ctx: &WriteContext, user_id: &UserId, token_id: &TokenId) -> Result<()>;
}

#[async_trait]
impl<B, DB> AccountStore for B
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    #[tracing::instrument(skip_all)]
    async fn create_org(&self, ctx: &WriteContext, name: &str, kind: OrgKind) -> Result<Org> {
        let org = Org {
            id: new_id().into(),
            name: name.trim().to_owned(),
            kind,
            created_at_ms: ctx.at_ms,
            second_factor_required: false,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO orgs (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(kind.key())
            .bind(org.created_at_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("an organisation named '{}' already exists", org.name)))?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "org.create",
            "org",
            Some(&org.id),
            serde_json::json!({"name": org.name, "kind": kind.key()}),
        )
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        let row = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = $1"))
            .bind(name.trim())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::org_from_row).transpose()
    }

    async fn org_by_id(&self, id: &OrgId) -> Result<Option<Org>> {
        let row = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::org_from_row).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name")).fetch_all(self.pool()).await?;
        rows.iter().map(Sql::<DB>::org_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn oversight_links(&self) -> Result<Vec<(OrgId, OrgId)>> {
        let rows =
            sqlx::query("SELECT authority_org, overseen_org FROM oversight ORDER BY authority_org, overseen_org")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("authority_org")?.into(),
                    row.try_get::<String, _>("overseen_org")?.into(),
                ))
            })
            .collect()
    }

    async fn add_oversight(&self, ctx: &WriteContext, authority_org: &OrgId, overseen_org: &OrgId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO oversight (authority_org, overseen_org) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(authority_org.as_str())
            .bind(overseen_org.as_str())
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "org.oversight_add",
            "org",
            Some(overseen_org),
            serde_json::json!({"authority_org": authority_org}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn create_user(&self, ctx: &WriteContext, new: NewUser) -> Result<User> {
        let user = User {
            id: new_id().into(),
            email: new.email.trim().to_lowercase(),
            org_id: new.org_id,
            role: new.role,
            created_at_ms: ctx.at_ms,
            disabled_at_ms: None,
            manages_org: false,
            second_factor: false,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, org_id, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.as_str())
        .bind(&user.email)
        .bind(user.org_id.as_str())
        .bind(user.role.key())
        .bind(&new.password_hash)
        .bind(user.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a user with email {} already exists", user.email)))?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "user.create",
            "user",
            Some(&user.id),
            serde_json::json!({"email": user.email, "org_id": user.org_id, "role": user.role.key()}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    #[tracing::instrument(skip_all)]
    async fn user_by_email(&self, email: &str) -> Result<Option<UserWithSecret>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(UserWithSecret {
                user: Sql::<DB>::user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
                totp_secret: row.try_get("totp_secret")?,
            })
        })
        .transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Sql::<DB>::user_from_row(&row)).transpose()
    }

    async fn list_users(&self, org: Option<&OrgId>) -> Result<Vec<User>> {
        let rows = match org {
            Some(org) => {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY email"))
                    .bind(org.as_str())
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email")).fetch_all(self.pool()).await?
            }
        };
        rows.iter().map(Sql::<DB>::user_from_row).collect()
    }

    async fn update_user(&self, ctx: &WriteContext, id: &UserId, change: UserChange) -> Result<User> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound("user".into()))?;
        let before = Sql::<DB>::user_from_row(&row)?;
        let disabled_at = match (change.disabled, before.disabled_at_ms) {
            (false, _) => None,
            (true, Some(at)) => Some(at),
            (true, None) => Some(ctx.at_ms),
        };
        sqlx::query("UPDATE users SET role = $1, disabled_at = $2, manages_org = $3 WHERE id = $4")
            .bind(change.role.key())
            .bind(disabled_at)
            .bind(change.manages_org)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if change.disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        }
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "user.update",
            "user",
            Some(id),
            serde_json::json!({
                "role": change.role.key(),
                "from_role": before.role.key(),
                "disabled": change.disabled,
                "manages_org": change.manages_org,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(User { role: change.role, disabled_at_ms: disabled_at, manages_org: change.manages_org, ..before })
    }

    async fn set_second_factor(&self, ctx: &WriteContext, id: &UserId, totp_secret: Option<&str>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE id = $2")
            .bind(totp_secret.map(str::to_owned))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if B::rows_affected(&changed) == 0 {
            return Err(StoreError::NotFound("user".into()));
        }
        let action = if totp_secret.is_some() { "user.second_factor_on" } else { "user.second_factor_off" };
        Sql::<DB>::audit(&mut tx, ctx, action, "user", Some(id), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_second_factor_step(&self, id: &UserId, step: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let used = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(B::rows_affected(&used) == 1)
    }

    async fn set_org_second_factor(&self, ctx: &WriteContext, org: &OrgId, required: bool) -> Result<Org> {
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query(&format!("UPDATE orgs SET second_factor_required = $1 WHERE id = $2 RETURNING {ORG_COLUMNS}"))
                .bind(required)
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound("organisation".into()))?;
        let updated = Sql::<DB>::org_from_row(&row)?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "org.second_factor",
            "org",
            Some(org),
            serde_json::json!({"required": required}),
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn set_password(&self, ctx: &WriteContext, id: &UserId, password_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if B::rows_affected(&changed) == 0 {
            return Err(StoreError::NotFound("user".into()));
        }
        Sql::<DB>::audit(&mut tx, ctx, "user.password", "user", Some(id), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_account_link(
        &self,
        ctx: &WriteContext,
        user_id: &UserId,
        token_hash: &str,
        purpose: LinkPurpose,
        expires_at_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE account_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
            .bind(ctx.at_ms)
            .bind(user_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO account_links (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(purpose.key())
            .bind(ctx.at_ms)
            .bind(expires_at_ms)
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            &format!("user.link_{}", purpose.key()),
            "user",
            Some(user_id),
            serde_json::json!({"expires_at_ms": expires_at_ms}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_link_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(LIVE_LINK_USER).bind(token_hash).bind(now_ms).fetch_optional(self.pool()).await?;
        row.map(|row| Sql::<DB>::user_from_row(&row)).transpose()
    }

    async fn use_account_link(
        &self,
        ctx: &WriteContext,
        token_hash: &str,
        password_hash: &str,
    ) -> Result<Option<User>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(LIVE_LINK_USER).bind(token_hash).bind(ctx.at_ms).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Ok(None) };
        let user = Sql::<DB>::user_from_row(&row)?;
        sqlx::query("UPDATE account_links SET used_at = $1 WHERE token_hash = $2")
            .bind(ctx.at_ms)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        // A reset link is also the way back in for someone who lost the phone holding their
        // second factor: it removes it (their organisation's rule then asks for a new one).
        sqlx::query("UPDATE users SET password_hash = $1, totp_secret = NULL, totp_last_step = NULL WHERE id = $2")
            .bind(password_hash)
            .bind(user.id.as_str())
            .execute(&mut *tx)
            .await?;
        let link_ctx = WriteContext { actor: user.id.to_string(), actor_org: Some(user.org_id.clone()), ..ctx.clone() };
        Sql::<DB>::audit(
            &mut tx,
            &link_ctx,
            "user.password",
            "user",
            Some(&user.id),
            serde_json::json!({"by": "one-time link", "second_factor_removed": user.second_factor}),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(User { second_factor: false, ..user }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_session(
        &self,
        ctx: &WriteContext,
        token_hash: &str,
        user_id: &UserId,
        expires_at_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(ctx.at_ms)
            .bind(expires_at_ms)
            .execute(&mut *tx)
            .await?;
        // Expired sessions are dead weight; clearing them here keeps the table small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(ctx.at_ms).execute(&mut *tx).await?;
        Sql::<DB>::audit(&mut tx, ctx, "user.login", "user", Some(user_id), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn principal_for_session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Principal>> {
        let row = sqlx::query("SELECT u.id, u.email, u.org_id, u.role, u.manages_org, u.totp_secret, o.second_factor_required FROM sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL")
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(self.pool())
            .await?;
        Sql::<DB>::principal_from_row(self.pool(), row).await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_session(&self, ctx: &WriteContext, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let deleted =
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *tx).await?;
        if B::rows_affected(&deleted) > 0 {
            Sql::<DB>::audit(&mut tx, ctx, "user.logout", "user", Some(&ctx.actor), serde_json::json!({})).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn create_token(
        &self,
        ctx: &WriteContext,
        user_id: &UserId,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiToken> {
        let token = ApiToken {
            id: new_id().into(),
            user_id: user_id.clone(),
            name: name.to_owned(),
            created_at_ms: ctx.at_ms,
            revoked_at_ms: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO api_tokens (id, token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token.id.as_str())
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(name)
            .bind(ctx.at_ms)
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "token.create",
            "token",
            Some(&token.id),
            serde_json::json!({"user_id": user_id, "name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    #[tracing::instrument(skip_all)]
    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>> {
        let row = sqlx::query("SELECT u.id, u.email, u.org_id, u.role, u.manages_org, u.totp_secret, o.second_factor_required FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        Sql::<DB>::principal_from_row(self.pool(), row).await
    }

    async fn list_tokens(&self, user_id: &UserId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT id, user_id, name, created_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Sql::<DB>::token_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_token(&self, ctx: &WriteContext, user_id: &UserId, token_id: &TokenId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let revoked =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(ctx.at_ms)
                .bind(token_id.as_str())
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await?;
        if B::rows_affected(&revoked) == 0 {
            return Err(StoreError::NotFound("token".into()));
        }
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "token.revoke",
            "token",
            Some(token_id),
            serde_json::json!({"user_id": user_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
