pub mod accounts;
pub mod assess;
pub mod audit;
pub mod backup;
pub mod bulletins;
pub mod hvm;
pub mod library;
pub mod methodology;
pub mod reports;
pub mod serve;
pub mod sites;

use std::sync::Arc;

use vigie_store::Store;

use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

/// Opens and migrates the configured database. A SQLite file that does not exist is an error:
/// a mistyped `--database-url` would otherwise create an empty database and report zero sites
/// as a success. `vigie init` and `vigie serve` create it.
pub async fn open_store(global: &GlobalArgs) -> Result<(Arc<dyn Store>, Settings), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    if settings.database_url.starts_with("sqlite:") {
        let path = vigie_store::database_path(&settings.database_url)?;
        if !path.exists() {
            return Err(CliError::new(
                vigie_domain::Code::DatabaseMissing,
                format!(
                    "there is no database at {}: check --database-url (or VIGIE_DATABASE_URL), or run `vigie init` to create one",
                    path.display()
                ),
            ));
        }
    }
    let store = vigie_store::open(&settings.database_url).await?;
    Ok((store, settings))
}

/// `vigie init`: creates and migrates the configured database; an existing one is migrated.
pub async fn init(global: &GlobalArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    let existed = match vigie_store::database_path(&settings.database_url) {
        Ok(path) => path.exists(),
        Err(_) => true,
    };
    let store = vigie_store::open(&settings.database_url).await?;
    let shown = vigie_store::redact_url(&settings.database_url);
    if existed {
        println!("the database {shown} ({}) is ready", store.backend());
    } else {
        println!("created the database {shown} ({})", store.backend());
    }
    Ok(())
}

/// The application over the configured database, for the console's use cases.
pub async fn open_app(global: &GlobalArgs) -> Result<(vigie_app::App, Arc<dyn Store>, Settings), CliError> {
    let (store, settings) = open_store(global).await?;
    Ok((vigie_app::App::new(store.clone(), vigie_app::Settings::default()), store, settings))
}

pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
