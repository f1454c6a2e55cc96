//! PostgreSQL: the multi-user backend. Writers take a transaction-scoped advisory lock so
//! that audit entries chain in commit order across every server process.
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::sql::impl_store;

pub struct PgStore {
    pool: PgPool,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Any constant: it only has to be the same for every Vigie writer.
const WRITE_LOCK_KEY: i64 = 0x0056_4947_4945;

impl PgStore {
    pub async fn open(url: &str) -> crate::Result<Self> {
        let options: PgConnectOptions = url.parse().map_err(|_| crate::StoreError::UrlInvalid(crate::redact_url(url)))?;
        Self::open_with(options).await
    }

    /// Opens with explicit options (tests use them to pick a schema per test).
    pub async fn open_with(options: PgConnectOptions) -> crate::Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect_with(options).await?;
        MIGRATIONS.run(&pool).await?;
        Ok(PgStore { pool })
    }

    async fn begin_write(&self) -> crate::Result<sqlx::Transaction<'_, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK_KEY).execute(&mut *tx).await?;
        Ok(tx)
    }
}

impl_store!(PgStore, Postgres, "postgres");
crate::assessment::impl_assessment_store!(PgStore, Postgres);
crate::library::impl_library_store!(PgStore, Postgres);
