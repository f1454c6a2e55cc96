pub mod accounts;
pub mod assess;
pub mod audit;
pub mod backup;
pub mod hvm;
pub mod library;
pub mod methodology;
pub mod serve;
pub mod sites;

use std::sync::Arc;

use vigie_store::{Store, WriteContext};

use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

impl From<vigie_store::StoreError> for CliError {
    fn from(err: vigie_store::StoreError) -> Self {
        CliError::new(err.code(), err.to_string())
    }
}

/// Opens the configured database (creating and migrating it if needed).
pub async fn open_store(global: &GlobalArgs) -> Result<(Arc<dyn Store>, Settings), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    let store = vigie_store::open(&settings.database_url).await?;
    Ok((store, settings))
}

/// Writes made from the command line are audited as the `cli` actor.
pub fn cli_context() -> WriteContext {
    WriteContext { at_ms: vigie_server::now_ms(), actor: "cli".into(), actor_org: None }
}

pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
