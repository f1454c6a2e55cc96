//! `vigie backup` and `vigie restore` (SQLite).
use std::path::PathBuf;

use super::open_store;
use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write; it must not exist yet.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by `vigie backup`.
    file: PathBuf,
}

fn require_sqlite(url: &str) -> Result<(), CliError> {
    if url.starts_with("sqlite:") {
        Ok(())
    } else {
        Err(CliError::new(
            vigie_domain::Code::BackupUnsupported,
            "backup and restore work on SQLite; for PostgreSQL use pg_dump and pg_restore",
        ))
    }
}

pub async fn backup(global: &GlobalArgs, args: BackupArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    require_sqlite(&settings.database_url)?;
    let store = vigie_store::SqliteStore::open(&settings.database_url).await?;
    store.backup(&args.out).await?;
    store.close().await;
    println!("backup written to {}", args.out.display());
    Ok(())
}

pub async fn restore(global: &GlobalArgs, args: RestoreArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    require_sqlite(&settings.database_url)?;
    vigie_store::restore_sqlite(&settings.database_url, &args.file).await?;
    // Opening migrates and proves the restored database is usable.
    let (store, _) = open_store(global).await?;
    let (count, _) = vigie_app::audit::verify_chain(store.as_ref())
        .await
        .map_err(|e| CliError::new(e.code, format!("restored, but: {}", e.message)))?;
    println!("restored {} ({count} audit entries verified)", args.file.display());
    Ok(())
}
