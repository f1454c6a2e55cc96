//! `vigie serve`.
use std::io::Write;

use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

pub async fn run(global: &GlobalArgs, serve: &ServeArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(global, serve)?;
    let store = vigie_store::open(&settings.database_url).await?;
    if serve.demo {
        crate::demo::check_safe(store.as_ref(), settings.bind).await?;
        crate::demo::load(store.as_ref()).await?;
    }
    let listener = tokio::net::TcpListener::bind(settings.bind).await.map_err(|e| CliError::new("bind_failed", format!("cannot listen on {}: {e}", settings.bind)))?;
    let address = listener.local_addr().map_err(|e| CliError::new("bind_failed", e.to_string()))?;
    println!("Vigie is listening on http://{address} (database: {}, {})", vigie_store::redact_url(&settings.database_url), store.backend());
    let _ = std::io::stdout().flush();
    let state = vigie_server::AppState::new(store, settings.server);
    vigie_server::serve(state, listener).await.map_err(|e| CliError::new("server_failed", e.to_string()))
}
