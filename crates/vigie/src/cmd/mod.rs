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

use vigie_store::Store;

use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

/// Opens the configured database (creating and migrating it if needed).
pub async fn open_store(global: &GlobalArgs) -> Result<(Arc<dyn Store>, Settings), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    let store = vigie_store::open(&settings.database_url).await?;
    Ok((store, settings))
}

/// The application over the configured database, for the console's use cases.
pub async fn open_app(global: &GlobalArgs) -> Result<(vigie_app::App, Arc<dyn Store>, Settings), CliError> {
    let (store, settings) = open_store(global).await?;
    Ok((vigie_app::App::new(store.clone(), vigie_app::Settings::default()), store, settings))
}

pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
