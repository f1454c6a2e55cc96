//! The SQL both backends share. Both accept `$N` placeholders and the same column types
//! (TEXT, 64-bit integers, doubles), so one body serves SQLite and PostgreSQL: plain functions
//! generic over the sqlx database, and the public traits implemented once for every
//! [`Backend`]. What really differs (opening a write transaction, the spatial index, where photo
//! bytes live) is the [`Backend`] trait, implemented in `sqlite.rs` and `postgres.rs`.
//!
//! The generic code needs the same facts about the database everywhere (which values it
//! encodes and decodes, that a connection executes queries). Rust does not carry a trait's
//! where-clauses over to the places that use the trait, so the facts are written out in each
//! `where` clause that needs them: on the helper blocks of `Sql` and on each aggregate's trait
//! impl (`accounts.rs`, `sites.rs`, `audit.rs`, `assessment.rs`, `library.rs`).

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, QueryBuilder, Row as _, Transaction, Type,
};
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::audit::{AuditRecord, GENESIS_HASH, StoredAuditEntry, chain_hash};
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::SiteCategory;
use vigie_domain::{OrgId, SiteId};

use crate::{ApiToken, NewSite, Org, Result, Site, SiteFilter, StoreError, User, WriteContext};

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

pub(crate) fn org(
    id: String,
    name: String,
    kind: &str,
    created_at_ms: i64,
    second_factor_required: bool,
) -> Result<Org> {
    Ok(Org { id: id.into(), name, kind: parse_org_kind(kind)?, created_at_ms, second_factor_required })
}

/// The caller as stored; `second_factor` says whether they have one, `second_factor_required`
/// whether their organisation demands it.
pub(crate) struct PrincipalRow {
    pub user_id: String,
    pub email: String,
    pub org_id: String,
    pub role: String,
    pub manages_org: bool,
    pub second_factor: bool,
    pub second_factor_required: bool,
}

pub(crate) fn principal(row: PrincipalRow, overseen_orgs: Vec<String>) -> Result<Principal> {
    Ok(Principal {
        user_id: row.user_id.into(),
        email: row.email,
        org_id: row.org_id.into(),
        role: parse_role(&row.role)?,
        overseen_orgs: overseen_orgs.into_iter().map(OrgId::from).collect(),
        manages_org: row.manages_org,
        must_enrol_second_factor: row.second_factor_required && !row.second_factor,
    })
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
    pub(crate) fn site_from_row(row: &DB::Row) -> Result<Site> {
        let geometry: String = row.try_get("geometry")?;
        let occupancy: Option<i64> = row.try_get("peak_occupancy")?;
        Ok(Site {
            id: row.try_get::<String, _>("id")?.into(),
            org_id: row.try_get::<String, _>("org_id")?.into(),
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

    pub(crate) fn user_from_row(row: &DB::Row) -> Result<User> {
        Ok(User {
            id: row.try_get::<String, _>("id")?.into(),
            email: row.try_get("email")?,
            org_id: row.try_get::<String, _>("org_id")?.into(),
            role: parse_role(&row.try_get::<String, _>("role")?)?,
            created_at_ms: row.try_get("created_at")?,
            disabled_at_ms: row.try_get("disabled_at")?,
            manages_org: row.try_get("manages_org")?,
            second_factor: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
        })
    }

    pub(crate) fn token_from_row(row: &DB::Row) -> Result<ApiToken> {
        Ok(ApiToken {
            id: row.try_get::<String, _>("id")?.into(),
            user_id: row.try_get::<String, _>("user_id")?.into(),
            name: row.try_get("name")?,
            created_at_ms: row.try_get("created_at")?,
            revoked_at_ms: row.try_get("revoked_at")?,
        })
    }

    pub(crate) fn audit_from_row(row: &DB::Row) -> Result<StoredAuditEntry> {
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

    pub(crate) fn org_from_row(row: &DB::Row) -> Result<Org> {
        org(
            row.try_get("id")?,
            row.try_get("name")?,
            &row.try_get::<String, _>("kind")?,
            row.try_get("created_at")?,
            row.try_get("second_factor_required")?,
        )
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

    pub(crate) async fn append_audit_in(tx: &mut Transaction<'_, DB>, record: &AuditRecord) -> Result<()> {
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
            actor_org: ctx.actor_org.as_ref().map(|org| org.to_string()),
            action: action.to_owned(),
            object_type: object_type.to_owned(),
            object_id: object_id.map(str::to_owned),
            details,
        };
        Self::append_audit_in(tx, &record).await
    }

    pub(crate) async fn insert_site(
        tx: &mut Transaction<'_, DB>,
        ctx: &WriteContext,
        org_id: &OrgId,
        new: &NewSite,
    ) -> Result<SiteId> {
        let id = SiteId::new(new_id());
        let columns = site_columns(new)?;
        let imported_version = new.source_ref.as_ref().map(|_| 1i64);
        let insert = sqlx::query(
            "INSERT INTO sites (name, category, geometry, area_m2, min_lon, min_lat, max_lon, max_lat, address, peak_occupancy, tags, id, org_id, source_ref, version, created_at, updated_at, imported_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15, $16)",
        );
        Self::bind_site(insert, new, &columns)
            .bind(id.as_str())
            .bind(org_id.as_str())
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
    pub(crate) async fn rewrite_site(
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
            .bind(current.id.as_str())
            .bind(by_import)
            .execute(&mut **tx)
            .await?;
        Ok(true)
    }

    pub(crate) async fn site_in(tx: &mut Transaction<'_, DB>, id: &str) -> Result<Option<Site>> {
        let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(Self::site_from_row).transpose()
    }

    pub(crate) fn push_site_filters<'a, B: Backend<Db = DB>>(qb: &mut QueryBuilder<'a, DB>, filter: &'a SiteFilter) {
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

    pub(crate) async fn principal_from_row(pool: &Pool<DB>, row: Option<DB::Row>) -> Result<Option<Principal>> {
        let Some(row) = row else { return Ok(None) };
        let org_id: String = row.try_get("org_id")?;
        let overseen: Vec<String> =
            sqlx::query_scalar("SELECT overseen_org FROM oversight WHERE authority_org = $1 ORDER BY overseen_org")
                .bind(&org_id)
                .fetch_all(pool)
                .await?;
        let stored = PrincipalRow {
            user_id: row.try_get("id")?,
            email: row.try_get("email")?,
            role: row.try_get("role")?,
            manages_org: row.try_get("manages_org")?,
            second_factor: row.try_get::<Option<String>, _>("totp_secret")?.is_some(),
            second_factor_required: row.try_get("second_factor_required")?,
            org_id,
        };
        Ok(Some(principal(stored, overseen)?))
    }
}
