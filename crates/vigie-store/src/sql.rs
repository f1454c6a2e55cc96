//! The SQL both backends share. Both accept `$N` placeholders and the same column types
//! (TEXT, 64-bit integers, doubles), so one body serves SQLite and PostgreSQL: plain functions
//! generic over the sqlx database, and the public traits implemented once for every
//! [`Backend`]. What really differs (opening a write transaction, the spatial index, where photo
//! bytes live) is the [`Backend`] trait, implemented in `sqlite.rs` and `postgres.rs`.
//!
//! The generic code needs the same facts about the database everywhere (which values it
//! encodes and decodes, that a connection executes queries). Rust does not carry a trait's
//! where-clauses over to the places that use the trait, so the facts are written out in each
//! `where` clause that needs them: on the helper blocks of `Sql` and on the three trait impls.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row as _, Transaction, Type,
};
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::audit::{AuditRecord, GENESIS_HASH, StoredAuditEntry, chain_hash};
use vigie_domain::geometry::BoundingBox;
use vigie_domain::hvm::HvmStudySummary;
use vigie_domain::site::SiteCategory;

use crate::{
    ApiToken, HvmStudy, ImportOutcome, NewHvmStudy, NewSite, NewUser, Org, Result, Site, SiteFilter, SitePage, Store,
    StoreError, User, UserWithSecret, WriteContext,
};

pub(crate) const SITE_COLUMNS: &str = "id, org_id, name, category, geometry, area_m2, address, peak_occupancy, tags, source_ref, version, created_at, updated_at";

pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

pub(crate) fn parse_org_kind(kind: &str) -> Result<OrgKind> {
    OrgKind::from_key(kind).map_err(|e| corrupt("organisation kind", e))
}

pub(crate) fn parse_role(role: &str) -> Result<Role> {
    Role::from_key(role).map_err(|e| corrupt("role", e))
}

pub(crate) fn parse_category(category: &str) -> Result<SiteCategory> {
    SiteCategory::from_key(category).map_err(|e| corrupt("site category", e))
}

pub(crate) fn parse_tags(tags: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(tags).map_err(|e| corrupt("site tags", e))
}

pub(crate) fn org(id: String, name: String, kind: &str, created_at_ms: i64) -> Result<Org> {
    Ok(Org { id, name, kind: parse_org_kind(kind)?, created_at_ms })
}

pub(crate) fn principal(
    user_id: String,
    email: String,
    org_id: String,
    role: &str,
    overseen_orgs: Vec<String>,
) -> Result<Principal> {
    Ok(Principal { user_id, email, org_id, role: parse_role(role)?, overseen_orgs })
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Turns a unique-constraint violation into a readable conflict.
pub(crate) fn conflict_or(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message()),
        _ => StoreError::Database(err),
    }
}

/// What differs between SQLite and PostgreSQL; the shared SQL is written once over it.
pub trait Backend: Send + Sync + 'static {
    type Db: Database;
    /// `sqlite` or `postgres`.
    const NAME: &'static str;
    /// How the organisation filter is written beside a box (see each backend for why).
    const ORG_ID_BESIDE_BBOX: &'static str;

    fn pool(&self) -> &Pool<Self::Db>;
    /// Opens a transaction that serialises writers (the audit chain needs it).
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'_, Self::Db>>> + Send;
    /// Keeps the sites whose box may meet `bbox`, in the form the backend's spatial index answers.
    fn push_bbox_candidates(qb: &mut QueryBuilder<'_, Self::Db>, bbox: &BoundingBox);
    /// sqlx gives each backend's query result its own `rows_affected`, with no trait over them.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;
    /// Runs a built query. Only the concrete backends can: over a generic database the built
    /// query borrows the builder for as long as the arguments' own lifetime (`DB::Arguments<'q>`
    /// is invariant there), so the builder could not be dropped afterwards.
    fn fetch_built<'a>(
        &'a self,
        query: QueryBuilder<'a, Self::Db>,
    ) -> impl Future<Output = Result<Vec<<Self::Db as Database>::Row>>> + Send;
    /// Stores a photo's bytes in the transaction of the row that names them; returns the reference
    /// the row keeps.
    fn put_photo_bytes(
        &self,
        tx: &mut Transaction<'_, Self::Db>,
        sha256: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<String>> + Send;
    fn read_photo_bytes(&self, blob_ref: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

/// A value the shared SQL both binds and reads: one name for the three sqlx bounds.
pub trait Value<DB: Database>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

impl<DB: Database, T> Value<DB> for T where T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

/// The shared helpers, as associated functions of one type so that the database's bounds are
/// written once per block rather than once per function.
pub(crate) struct Sql<DB>(PhantomData<DB>);

/// The site's stored representation: geometry and tags as JSON text.
struct SiteColumns {
    geometry: String,
    bbox: BoundingBox,
    tags: String,
}

fn site_columns(new: &NewSite) -> Result<SiteColumns> {
    let bbox =
        new.site.geometry.bounding_box().ok_or_else(|| StoreError::Corrupt("site geometry has no extent".into()))?;
    let tags = serde_json::to_string(&new.site.tags).map_err(|e| corrupt("site tags", e))?;
    Ok(SiteColumns { geometry: new.site.geometry.to_geojson().to_string(), bbox, tags })
}

impl<DB> Sql<DB>
where
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
    fn site_from_row(row: &DB::Row) -> Result<Site> {
        let geometry: String = row.try_get("geometry")?;
        let occupancy: Option<i64> = row.try_get("peak_occupancy")?;
        Ok(Site {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            name: row.try_get("name")?,
            category: parse_category(&row.try_get::<String, _>("category")?)?,
            geometry: serde_json::from_str(&geometry).map_err(|e| corrupt("site geometry", e))?,
            area_m2: row.try_get("area_m2")?,
            address: row.try_get("address")?,
            peak_occupancy: occupancy.map(u32::try_from).transpose().map_err(|e| corrupt("peak occupancy", e))?,
            tags: parse_tags(&row.try_get::<String, _>("tags")?)?,
            source_ref: row.try_get("source_ref")?,
            version: row.try_get("version")?,
            created_at_ms: row.try_get("created_at")?,
            updated_at_ms: row.try_get("updated_at")?,
        })
    }

    fn user_from_row(row: &DB::Row) -> Result<User> {
        Ok(User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            org_id: row.try_get("org_id")?,
            role: parse_role(&row.try_get::<String, _>("role")?)?,
            created_at_ms: row.try_get("created_at")?,
        })
    }

    fn token_from_row(row: &DB::Row) -> Result<ApiToken> {
        Ok(ApiToken {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            created_at_ms: row.try_get("created_at")?,
            revoked_at_ms: row.try_get("revoked_at")?,
        })
    }

    fn audit_from_row(row: &DB::Row) -> Result<StoredAuditEntry> {
        let details: String = row.try_get("details")?;
        Ok(StoredAuditEntry {
            seq: row.try_get("seq")?,
            record: AuditRecord {
                at_ms: row.try_get("at")?,
                actor: row.try_get("actor")?,
                actor_org: row.try_get("actor_org")?,
                action: row.try_get("action")?,
                object_type: row.try_get("object_type")?,
                object_id: row.try_get("object_id")?,
                details: serde_json::from_str(&details).map_err(|e| corrupt("audit details", e))?,
            },
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    fn org_from_row(row: &DB::Row) -> Result<Org> {
        org(row.try_get("id")?, row.try_get("name")?, &row.try_get::<String, _>("kind")?, row.try_get("created_at")?)
    }

    /// Binds a site's content columns as `$1`…`$11`, in the order both INSERT and UPDATE use.
    fn bind_site<'q>(
        query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
        new: &'q NewSite,
        columns: &'q SiteColumns,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        query
            .bind(&new.site.name)
            .bind(new.site.category.key())
            .bind(&columns.geometry)
            .bind(new.site.geometry.area_m2())
            .bind(columns.bbox.west)
            .bind(columns.bbox.south)
            .bind(columns.bbox.east)
            .bind(columns.bbox.north)
            .bind(&new.site.address)
            .bind(new.site.peak_occupancy.map(i64::from))
            .bind(&columns.tags)
    }

    async fn append_audit_in(tx: &mut Transaction<'_, DB>, record: &AuditRecord) -> Result<()> {
        let last =
            sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
        let (seq, prev_hash) = match last {
            Some(row) => (row.try_get::<i64, _>("seq")? + 1, row.try_get::<String, _>("hash")?),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = chain_hash(&prev_hash, seq, record);
        sqlx::query("INSERT INTO audit_log (seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(seq)
            .bind(record.at_ms)
            .bind(&record.actor)
            .bind(&record.actor_org)
            .bind(&record.action)
            .bind(&record.object_type)
            .bind(&record.object_id)
            .bind(record.details.to_string())
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(crate) async fn audit(
        tx: &mut Transaction<'_, DB>,
        ctx: &WriteContext,
        action: &str,
        object_type: &str,
        object_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<()> {
        let record = AuditRecord {
            at_ms: ctx.at_ms,
            actor: ctx.actor.clone(),
            actor_org: ctx.actor_org.clone(),
            action: action.to_owned(),
            object_type: object_type.to_owned(),
            object_id: object_id.map(str::to_owned),
            details,
        };
        Self::append_audit_in(tx, &record).await
    }

    async fn insert_site(
        tx: &mut Transaction<'_, DB>,
        ctx: &WriteContext,
        org_id: &str,
        new: &NewSite,
    ) -> Result<String> {
        let id = new_id();
        let columns = site_columns(new)?;
        let imported_version = new.source_ref.as_ref().map(|_| 1i64);
        let insert = sqlx::query(
            "INSERT INTO sites (name, category, geometry, area_m2, min_lon, min_lat, max_lon, max_lat, address, peak_occupancy, tags, id, org_id, source_ref, version, created_at, updated_at, imported_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15, $16)",
        );
        Self::bind_site(insert, new, &columns)
            .bind(&id)
            .bind(org_id)
            .bind(&new.source_ref)
            .bind(ctx.at_ms)
            .bind(imported_version)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                conflict_or(e, || {
                    format!(
                        "the organisation already has a site from {}",
                        new.source_ref.as_deref().unwrap_or("this source")
                    )
                })
            })?;
        Ok(id)
    }

    /// Overwrites a site's content and bumps its version; `false` when nothing changed.
    /// `by_import` records the new version as the import's own.
    async fn rewrite_site(
        tx: &mut Transaction<'_, DB>,
        ctx: &WriteContext,
        current: &Site,
        new: &NewSite,
        by_import: bool,
    ) -> Result<bool> {
        let columns = site_columns(new)?;
        let unchanged = current.name == new.site.name
            && current.category == new.site.category
            && current.geometry == new.site.geometry.to_geojson()
            && current.address == new.site.address
            && current.peak_occupancy == new.site.peak_occupancy
            && current.tags == new.site.tags;
        if unchanged {
            return Ok(false);
        }
        let update = sqlx::query(
            "UPDATE sites SET name = $1, category = $2, geometry = $3, area_m2 = $4, min_lon = $5, min_lat = $6, max_lon = $7, max_lat = $8, address = $9, peak_occupancy = $10, tags = $11, version = version + 1, updated_at = $12, imported_version = CASE WHEN $14 THEN version + 1 ELSE imported_version END WHERE id = $13",
        );
        Self::bind_site(update, new, &columns)
            .bind(ctx.at_ms)
            .bind(&current.id)
            .bind(by_import)
            .execute(&mut **tx)
            .await?;
        Ok(true)
    }

    async fn site_in(tx: &mut Transaction<'_, DB>, id: &str) -> Result<Option<Site>> {
        let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(Self::site_from_row).transpose()
    }

    fn push_site_filters<'a, B: Backend<Db = DB>>(qb: &mut QueryBuilder<'a, DB>, filter: &'a SiteFilter) {
        qb.push(" WHERE 1 = 1");
        if let Some(orgs) = &filter.orgs {
            let column = if filter.bbox.is_some() { B::ORG_ID_BESIDE_BBOX } else { "org_id" };
            qb.push(" AND ").push(column).push(" IN (");
            let mut list = qb.separated(", ");
            for org in orgs {
                list.push_bind(org.as_str());
            }
            list.push_unseparated(")");
        }
        if let Some(category) = filter.category {
            qb.push(" AND category = ").push_bind(category.key());
        }
        if let Some(bbox) = filter.bbox {
            // The spatial index finds the candidates; the exact test below keeps the rule
            // one and the same on both backends (an index may round boxes outwards).
            B::push_bbox_candidates(qb, &bbox);
            qb.push(" AND min_lon <= ").push_bind(bbox.east);
            qb.push(" AND max_lon >= ").push_bind(bbox.west);
            qb.push(" AND min_lat <= ").push_bind(bbox.north);
            qb.push(" AND max_lat >= ").push_bind(bbox.south);
        }
    }

    async fn principal_from_row(pool: &Pool<DB>, row: Option<DB::Row>) -> Result<Option<Principal>> {
        let Some(row) = row else { return Ok(None) };
        let org_id: String = row.try_get("org_id")?;
        let overseen: Vec<String> =
            sqlx::query_scalar("SELECT overseen_org FROM oversight WHERE authority_org = $1 ORDER BY overseen_org")
                .bind(&org_id)
                .fetch_all(pool)
                .await?;
        let role: String = row.try_get("role")?;
        Ok(Some(principal(row.try_get("id")?, row.try_get("email")?, org_id, &role, overseen)?))
    }
}

#[async_trait]
impl<B, DB> Store for B
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
    fn backend(&self) -> &'static str {
        B::NAME
    }

    #[tracing::instrument(skip_all)]
    async fn create_org(&self, ctx: &WriteContext, name: &str, kind: OrgKind) -> Result<Org> {
        let org = Org { id: new_id(), name: name.trim().to_owned(), kind, created_at_ms: ctx.at_ms };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO orgs (id, name, kind, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&org.id)
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
        let row = sqlx::query("SELECT id, name, kind, created_at FROM orgs WHERE name = $1")
            .bind(name.trim())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::org_from_row).transpose()
    }

    async fn org_by_id(&self, id: &str) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name, kind, created_at FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::org_from_row).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows =
            sqlx::query("SELECT id, name, kind, created_at FROM orgs ORDER BY name").fetch_all(self.pool()).await?;
        rows.iter().map(Sql::<DB>::org_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn add_oversight(&self, ctx: &WriteContext, authority_org: &str, overseen_org: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO oversight (authority_org, overseen_org) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(authority_org)
            .bind(overseen_org)
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
            id: new_id(),
            email: new.email.trim().to_lowercase(),
            org_id: new.org_id,
            role: new.role,
            created_at_ms: ctx.at_ms,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, org_id, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.org_id)
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
        let row = sqlx::query("SELECT id, email, org_id, role, password_hash, created_at FROM users WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(UserWithSecret { user: Sql::<DB>::user_from_row(&row)?, password_hash: row.try_get("password_hash")? })
        })
        .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn create_session(
        &self,
        ctx: &WriteContext,
        token_hash: &str,
        user_id: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
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
        let row = sqlx::query("SELECT u.id, u.email, u.org_id, u.role FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2")
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
    async fn create_token(&self, ctx: &WriteContext, user_id: &str, name: &str, token_hash: &str) -> Result<ApiToken> {
        let token = ApiToken {
            id: new_id(),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            created_at_ms: ctx.at_ms,
            revoked_at_ms: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO api_tokens (id, token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&token.id)
            .bind(token_hash)
            .bind(user_id)
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
        let row = sqlx::query("SELECT u.id, u.email, u.org_id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        Sql::<DB>::principal_from_row(self.pool(), row).await
    }

    async fn list_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT id, user_id, name, created_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Sql::<DB>::token_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_token(&self, ctx: &WriteContext, user_id: &str, token_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let revoked =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(ctx.at_ms)
                .bind(token_id)
                .bind(user_id)
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

    #[tracing::instrument(skip_all)]
    async fn create_site(&self, ctx: &WriteContext, org_id: &str, new: &NewSite) -> Result<Site> {
        let mut tx = self.begin_write().await?;
        let id = Sql::<DB>::insert_site(&mut tx, ctx, org_id, new).await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.create",
            "site",
            Some(&id),
            serde_json::json!({"org_id": org_id, "name": new.site.name}),
        )
        .await?;
        let site = Sql::<DB>::site_in(&mut tx, &id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        tx.commit().await?;
        Ok(site)
    }

    #[tracing::instrument(skip_all)]
    async fn get_site(&self, id: &str) -> Result<Option<Site>> {
        let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::site_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn site_names(&self, ids: &[&str]) -> Result<std::collections::HashMap<String, String>> {
        let mut names = std::collections::HashMap::with_capacity(ids.len());
        // Chunks keep each query well under both backends' limits on bound parameters.
        for chunk in ids.chunks(500) {
            let mut select = QueryBuilder::new("SELECT id, name FROM sites WHERE id IN (");
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            list.push_unseparated(")");
            for row in self.fetch_built(select).await? {
                names.insert(row.try_get("id")?, row.try_get("name")?);
            }
        }
        Ok(names)
    }

    #[tracing::instrument(skip_all)]
    async fn update_site(
        &self,
        ctx: &WriteContext,
        id: &str,
        new: &NewSite,
        expected_version: Option<i64>,
    ) -> Result<Site> {
        let mut tx = self.begin_write().await?;
        let current = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(StoreError::Conflict(format!(
                "the site was changed by someone else (version {} now, {expected} expected); reload it and apply your change again",
                current.version
            )));
        }
        if Sql::<DB>::rewrite_site(&mut tx, ctx, &current, new, false).await? {
            Sql::<DB>::audit(
                &mut tx,
                ctx,
                "site.update",
                "site",
                Some(id),
                serde_json::json!({"org_id": current.org_id, "version": current.version + 1}),
            )
            .await?;
        }
        let site = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        tx.commit().await?;
        Ok(site)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_site(&self, ctx: &WriteContext, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let current = Sql::<DB>::site_in(&mut tx, id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
        let assessments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessments WHERE site_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if assessments > 0 {
            return Err(StoreError::Conflict(format!(
                "the site has {assessments} assessment(s), which are kept for the record: it cannot be deleted"
            )));
        }
        sqlx::query("DELETE FROM sites WHERE id = $1").bind(id).execute(&mut *tx).await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.delete",
            "site",
            Some(id),
            serde_json::json!({"org_id": current.org_id, "name": current.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn list_sites(&self, filter: &SiteFilter) -> Result<SitePage> {
        let limit = filter.limit.clamp(1, crate::MAX_PAGE);
        let empty = SitePage { items: Vec::new(), total: 0, limit, offset: filter.offset };
        if filter.orgs.as_ref().is_some_and(Vec::is_empty) {
            return Ok(empty);
        }
        let mut count = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM sites");
        Sql::<DB>::push_site_filters::<B>(&mut count, filter);
        let counted = self.fetch_built(count).await?;
        let total: i64 = counted.first().ok_or_else(|| corrupt("site count", "no row"))?.try_get(0)?;
        let mut select = QueryBuilder::<DB>::new(format!("SELECT {SITE_COLUMNS} FROM sites"));
        Sql::<DB>::push_site_filters::<B>(&mut select, filter);
        select.push(" ORDER BY name, id LIMIT ").push_bind(i64::from(limit));
        select.push(" OFFSET ").push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX));
        let rows = self.fetch_built(select).await?;
        let items = rows.iter().map(Sql::<DB>::site_from_row).collect::<Result<Vec<_>>>()?;
        Ok(SitePage { items, total: u64::try_from(total).unwrap_or(0), ..empty })
    }

    #[tracing::instrument(skip_all)]
    async fn import_sites(&self, ctx: &WriteContext, org_id: &str, sites: &[NewSite]) -> Result<ImportOutcome> {
        let mut outcome = ImportOutcome::default();
        let mut tx = self.begin_write().await?;
        for new in sites {
            let existing = match &new.source_ref {
                Some(source) => {
                    sqlx::query("SELECT id, version, imported_version FROM sites WHERE org_id = $1 AND source_ref = $2")
                        .bind(org_id)
                        .bind(source)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| {
                            Ok::<_, StoreError>((
                                row.try_get::<String, _>("id")?,
                                row.try_get::<i64, _>("version")?,
                                row.try_get::<Option<i64>, _>("imported_version")?,
                            ))
                        })
                        .transpose()?
                }
                None => None,
            };
            match existing {
                None => {
                    outcome.created.push(Sql::<DB>::insert_site(&mut tx, ctx, org_id, new).await?);
                    outcome.imported += 1;
                }
                // Someone edited it since the last import: their edit wins.
                Some((_, version, imported)) if imported != Some(version) => outcome.locally_edited += 1,
                Some((id, _, _)) => {
                    let current =
                        Sql::<DB>::site_in(&mut tx, &id).await?.ok_or_else(|| StoreError::NotFound("site".into()))?;
                    if Sql::<DB>::rewrite_site(&mut tx, ctx, &current, new, true).await? {
                        outcome.updated += 1;
                        outcome.changed.push(id);
                    } else {
                        outcome.unchanged += 1;
                    }
                }
            }
        }
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "site.import",
            "org",
            Some(org_id),
            serde_json::to_value(&outcome).map_err(|e| corrupt("import summary", e))?,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn create_hvm_study(&self, ctx: &WriteContext, study: &NewHvmStudy) -> Result<HvmStudy> {
        let stored = HvmStudy {
            id: new_id(),
            site_id: study.site_id.clone(),
            org_id: study.org_id.clone(),
            created_at_ms: ctx.at_ms,
            created_by: ctx.actor.clone(),
            vehicles_version: study.vehicles_version.clone(),
            network: study.network.clone(),
            result: study.result.clone(),
            summary: HvmStudySummary::of(&study.result)
                .ok_or_else(|| corrupt("hvm study", "the result does not have the shape of a study"))?,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO hvm_studies (id, site_id, org_id, created_at, created_by, vehicles_version, network, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&stored.id)
            .bind(&stored.site_id)
            .bind(&stored.org_id)
            .bind(stored.created_at_ms)
            .bind(&stored.created_by)
            .bind(&stored.vehicles_version)
            .bind(&stored.network)
            .bind(stored.result.to_string())
            .execute(&mut *tx)
            .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "hvm_study.create",
            "site",
            Some(&stored.site_id),
            serde_json::json!({"study_id": stored.id, "org_id": stored.org_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    #[tracing::instrument(skip_all)]
    async fn latest_hvm_study(&self, site_id: &str) -> Result<Option<HvmStudy>> {
        let row = sqlx::query("SELECT id, site_id, org_id, created_at, created_by, vehicles_version, network, result FROM hvm_studies WHERE site_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(site_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            let result: String = row.try_get("result")?;
            let result: serde_json::Value = serde_json::from_str(&result).map_err(|e| corrupt("hvm study", e))?;
            Ok(HvmStudy {
                id: row.try_get("id")?,
                site_id: row.try_get("site_id")?,
                org_id: row.try_get("org_id")?,
                created_at_ms: row.try_get("created_at")?,
                created_by: row.try_get("created_by")?,
                vehicles_version: row.try_get("vehicles_version")?,
                network: row.try_get("network")?,
                summary: HvmStudySummary::of(&result)
                    .ok_or_else(|| corrupt("hvm study", "the result does not have the shape of a study"))?,
                result,
            })
        })
        .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for record in records {
            Sql::<DB>::append_audit_in(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredAuditEntry>> {
        let rows = sqlx::query("SELECT seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Sql::<DB>::audit_from_row).collect()
    }

    async fn audit_tail(&self, count: u32) -> Result<Vec<StoredAuditEntry>> {
        let rows = sqlx::query("SELECT seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT $1")
            .bind(i64::from(count))
            .fetch_all(self.pool())
            .await?;
        let mut entries = rows.iter().map(Sql::<DB>::audit_from_row).collect::<Result<Vec<_>>>()?;
        entries.reverse();
        Ok(entries)
    }
}
