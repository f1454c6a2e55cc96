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

/// Opens the configured database (creating and migrating it if needed).
pub async fn open_store(global: &GlobalArgs) -> Result<(Arc<dyn Store>, Settings), CliError> {
    let settings = Settings::resolve(global, &ServeArgs::default())?;
    let store = vigie_store::open(&settings.database_url).await?;
    Ok((store, settings))
}

/// Writes made from the command line are audited as the `cli` actor.
pub fn cli_context() -> WriteContext {
    use vigie_app::Clock;
    WriteContext { at_ms: vigie_app::SystemClock.now_ms(), actor: "cli".into(), actor_org: None }
}

/// The organisation named `name`, or an error that says how to list them.
pub async fn org_named(store: &dyn Store, name: &str) -> Result<vigie_store::Org, CliError> {
    store.org_by_name(name).await?.ok_or_else(|| {
        CliError::new(vigie_domain::Code::NotFound, format!("no organisation named '{name}' (see `vigie orgs list`)"))
    })
}

/// The user with `email`, or an error that says how to list them.
pub async fn user_with_email(store: &dyn Store, email: &str) -> Result<vigie_store::User, CliError> {
    Ok(store
        .user_by_email(email)
        .await?
        .ok_or_else(|| {
            CliError::new(
                vigie_domain::Code::NotFound,
                format!("no user with email '{email}' (see `vigie users list`)"),
            )
        })?
        .user)
}

pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
