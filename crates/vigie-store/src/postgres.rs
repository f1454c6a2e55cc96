//! PostgreSQL: the multi-user backend. Writers take a transaction-scoped advisory lock so
//! that audit entries chain in commit order across every server process.
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};
use vigie_domain::geometry::BoundingBox;

use crate::sql::Backend;

pub struct PgStore {
    pool: PgPool,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Any constant: it only has to be the same for every Vigie writer.
const WRITE_LOCK_KEY: i64 = 0x0056_4947_4945;

impl PgStore {
    pub async fn open(url: &str) -> crate::Result<Self> {
        let options: PgConnectOptions =
            url.parse().map_err(|_| crate::StoreError::UrlInvalid(crate::redact_url(url)))?;
        Self::open_with(options).await
    }

    /// Opens with explicit options (tests use them to pick a schema per test).
    pub async fn open_with(options: PgConnectOptions) -> crate::Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
        MIGRATIONS.run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl Backend for PgStore {
    type Db = Postgres;
    const NAME: &str = "postgres";
    /// PostgreSQL keeps statistics and picks between the indexes itself.
    const ORG_ID_BESIDE_BBOX: &str = "org_id";

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> crate::Result<Transaction<'_, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK_KEY).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Keeps the sites whose box meets `bbox`, in the form the GiST index of migration 0006
    /// answers.
    fn push_bbox_candidates(qb: &mut QueryBuilder<'_, Postgres>, bbox: &BoundingBox) {
        qb.push(" AND box(point(min_lon, min_lat), point(max_lon, max_lat)) && box(point(")
            .push_bind(bbox.west)
            .push(", ")
            .push_bind(bbox.south);
        qb.push("), point(").push_bind(bbox.east).push(", ").push_bind(bbox.north).push("))");
    }

    async fn fetch_built<'a>(&'a self, mut query: QueryBuilder<'a, Postgres>) -> crate::Result<Vec<PgRow>> {
        Ok(query.build().fetch_all(&self.pool).await?)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Photos are large objects, created in the transaction of the row that names them.
    async fn put_photo_bytes(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        _sha256: &str,
        bytes: &[u8],
    ) -> crate::Result<String> {
        let oid: i64 =
            sqlx::query_scalar("SELECT CAST(lo_from_bytea(0, $1) AS BIGINT)").bind(bytes).fetch_one(&mut **tx).await?;
        Ok(oid.to_string())
    }

    async fn read_photo_bytes(&self, blob_ref: &str) -> crate::Result<Vec<u8>> {
        let oid: i64 = blob_ref.parse().map_err(|e| crate::sql::corrupt("photo reference", e))?;
        Ok(sqlx::query_scalar("SELECT lo_get(CAST($1 AS BIGINT)::oid)").bind(oid).fetch_one(&self.pool).await?)
    }
}
