//! SQLite: the embedded default. WAL journal, foreign keys on, `synchronous=FULL` so that a
//! committed write survives a crash, `BEGIN IMMEDIATE` for writes so that writers queue on the
//! busy timeout instead of failing half-way.
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use vigie_domain::geometry::BoundingBox;

use crate::sql::Backend;

pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (or `sqlite:PATH`), creating the file and its folder if needed.
    pub async fn open(url: &str) -> crate::Result<Self> {
        let path = database_path(url)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| crate::StoreError::Backup(format!("cannot create {}: {e}", parent.display())))?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options(&path)).await?;
        MIGRATIONS.run(&pool).await?;
        Ok(SqliteStore { pool, path })
    }

    /// Writes a consistent copy of the live database to `out` (SQLite's `VACUUM INTO`), and its
    /// photos to the `photos/` folder next to `out`.
    pub async fn backup(&self, out: &Path) -> crate::Result<()> {
        if out.exists() {
            return Err(crate::StoreError::Backup(format!("{} already exists; choose a new file name", out.display())));
        }
        let target =
            out.to_str().ok_or_else(|| crate::StoreError::Backup("the backup path is not valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.pool).await?;
        copy_photos(&self.photos_dir(), &photos_dir_of(out))
            .map_err(|e| crate::StoreError::Backup(format!("cannot copy the photos next to the backup: {e}")))
    }

    /// Photos are files named by their SHA-256 under `photos/` next to the database, written and
    /// synced before the row that names them commits; a crash in between leaves an unnamed file,
    /// never a row without its photo.
    fn photos_dir(&self) -> PathBuf {
        photos_dir_of(&self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// The library's search index folder next to the database at `db` (`NAME.library-index`).
pub fn library_index_dir_of(db: &Path) -> PathBuf {
    let stem = db.file_stem().and_then(|s| s.to_str()).unwrap_or("vigie");
    db.with_file_name(format!("{stem}.library-index"))
}

/// The photo folder of the database at `db`.
pub fn photos_dir_of(db: &Path) -> PathBuf {
    db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("photos")
}

/// Copies the photo files `from` holds and `to` lacks. Names are content hashes, so backups in
/// one folder can share their photo folder safely.
fn copy_photos(from: &Path, to: &Path) -> std::io::Result<()> {
    if !from.is_dir() || from == to {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else { continue };
        if !to.join(name).exists() {
            write_durably(to, name, &std::fs::read(entry.path())?)?;
        }
    }
    Ok(())
}

/// Writes `dir/name` so that it survives a crash once this returns: a temporary file, synced,
/// renamed into place, then the folder synced. An existing file (same content) is kept.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let target = dir.join(name);
    if target.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let staging = dir.join(format!(".{name}.partial"));
    let mut file = std::fs::File::create(&staging)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staging, &target)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Replaces the database at `url` with the backup `from`, after checking that the backup is
/// a Vigie database this binary can migrate. The old file is kept as `PATH.before-restore.N`.
/// The server must not be running.
pub async fn restore(url: &str, from: &Path) -> crate::Result<()> {
    let target = database_path(url)?;
    let staging = target.with_extension("restoring");
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(from, &staging)
        .map_err(|e| crate::StoreError::Backup(format!("cannot read the backup {}: {e}", from.display())))?;
    let check = async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(&staging).create_if_missing(false))
            .await?;
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await?;
        let has_schema: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'sites', 'audit_log')").fetch_one(&pool).await?;
        if integrity != "ok" || has_schema != 3 {
            pool.close().await;
            return Err(crate::StoreError::Backup(format!(
                "{} is not a readable Vigie database backup",
                from.display()
            )));
        }
        MIGRATIONS.run(&pool).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
        pool.close().await;
        Ok(())
    };
    if let Err(err) = check.await {
        let _ = std::fs::remove_file(&staging);
        return Err(match err {
            crate::StoreError::Database(_) => {
                crate::StoreError::Backup(format!("{} is not a readable Vigie database backup", from.display()))
            }
            other => other,
        });
    }
    if target.exists() {
        // Fold the WAL into the file first, so the copy kept aside holds every commit.
        let current =
            SqlitePoolOptions::new().max_connections(1).connect_with(options(&target).create_if_missing(false)).await?;
        let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&current).await?;
        current.close().await;
        if busy != 0 {
            let _ = std::fs::remove_file(&staging);
            return Err(crate::StoreError::Backup(
                "the database is in use; stop `vigie serve` before restoring".into(),
            ));
        }
        let aside = (1..)
            .map(|n| target.with_extension(format!("db.before-restore.{n}")))
            .find(|p| !p.exists())
            .unwrap_or_else(|| target.with_extension("db.before-restore"));
        std::fs::rename(&target, &aside)
            .map_err(|e| crate::StoreError::Backup(format!("cannot move the current database aside: {e}")))?;
    }
    copy_photos(&photos_dir_of(from), &photos_dir_of(&target))
        .map_err(|e| crate::StoreError::Backup(format!("cannot restore the photos: {e}")))?;
    std::fs::rename(&staging, &target)
        .map_err(|e| crate::StoreError::Backup(format!("cannot put the backup in place: {e}")))?;
    // The library's search index describes the database that was replaced: drop it, and the
    // next start rebuilds it from the restored store.
    let index = library_index_dir_of(&target);
    if index.exists() {
        std::fs::remove_dir_all(&index).map_err(|e| {
            crate::StoreError::Backup(format!("cannot remove the old search index {}: {e}", index.display()))
        })?;
    }
    Ok(())
}

/// The file path in a `sqlite://PATH` or `sqlite:PATH` URL (query string ignored).
pub fn database_path(url: &str) -> crate::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| crate::StoreError::UrlInvalid(url.to_owned()))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(crate::StoreError::UrlInvalid(format!(
            "{url} (Vigie needs a file so that data survives a restart)"
        )));
    }
    // Validate it the way sqlx would, for the same error on both paths.
    SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|_| crate::StoreError::UrlInvalid(url.to_owned()))?;
    Ok(PathBuf::from(path))
}

impl Backend for SqliteStore {
    type Db = Sqlite;
    const NAME: &str = "sqlite";
    /// How the organisation filter is written beside a box: with a unary `+`, which keeps
    /// SQLite from answering through the (org_id, name) index. Without statistics its planner
    /// preferred that index and walked every site of the organisation (11 ms on 10,000 sites)
    /// instead of asking the spatial index for the few in the box (under 1 ms).
    const ORG_ID_BESIDE_BBOX: &str = "+org_id";

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> crate::Result<Transaction<'_, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Keeps the sites whose box may meet `bbox`, as the R*Tree of migration 0006 finds them.
    fn push_bbox_candidates(qb: &mut QueryBuilder<'_, Sqlite>, bbox: &BoundingBox) {
        qb.push(
            " AND id IN (SELECT k.site_id FROM sites_rtree r JOIN site_keys k ON k.key = r.key WHERE r.min_lon <= ",
        )
        .push_bind(bbox.east);
        qb.push(" AND r.max_lon >= ").push_bind(bbox.west);
        qb.push(" AND r.min_lat <= ").push_bind(bbox.north);
        qb.push(" AND r.max_lat >= ").push_bind(bbox.south).push(")");
    }

    async fn fetch_built<'a>(&'a self, mut query: QueryBuilder<'a, Sqlite>) -> crate::Result<Vec<SqliteRow>> {
        Ok(query.build().fetch_all(&self.pool).await?)
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn put_photo_bytes(
        &self,
        _tx: &mut Transaction<'_, Sqlite>,
        sha256: &str,
        bytes: &[u8],
    ) -> crate::Result<String> {
        let dir = self.photos_dir();
        let name = sha256.to_owned();
        let bytes = bytes.to_vec();
        let written = tokio::task::spawn_blocking(move || write_durably(&dir, &name, &bytes)).await;
        match written {
            Ok(Ok(())) => Ok(sha256.to_owned()),
            Ok(Err(err)) => Err(crate::StoreError::Corrupt(format!("cannot write the photo file: {err}"))),
            Err(err) => Err(crate::StoreError::Corrupt(format!("cannot write the photo file: {err}"))),
        }
    }

    async fn read_photo_bytes(&self, blob_ref: &str) -> crate::Result<Vec<u8>> {
        let path = self.photos_dir().join(blob_ref);
        tokio::fs::read(&path)
            .await
            .map_err(|e| crate::StoreError::Corrupt(format!("photo file {} is unreadable: {e}", path.display())))
    }
}
