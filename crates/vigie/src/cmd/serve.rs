//! `vigie serve`.
use std::io::Write;

use crate::config::{GlobalArgs, ServeArgs, Settings};
use crate::error::CliError;

pub async fn run(global: &GlobalArgs, serve: &ServeArgs) -> Result<(), CliError> {
    let settings = Settings::resolve(global, serve)?;
    let store = vigie_store::open(&settings.database_url).await?;
    if serve.demo {
        let app = vigie_app::App::new(store.clone(), vigie_app::Settings::default());
        crate::demo::check_safe(&app, settings.bind).await?;
        crate::demo::load(&app).await?;
    }
    let listener = tokio::net::TcpListener::bind(settings.bind).await.map_err(|e| {
        CliError::new(vigie_domain::Code::BindFailed, format!("cannot listen on {}: {e}", settings.bind))
    })?;
    let address = listener.local_addr().map_err(|e| CliError::new(vigie_domain::Code::BindFailed, e.to_string()))?;
    println!(
        "Vigie is listening on http://{address} (database: {}, {})",
        vigie_store::redact_url(&settings.database_url),
        store.backend()
    );
    let _ = std::io::stdout().flush();
    let mut state = vigie_server::AppState::new(store.clone(), settings.server);
    state = state.with_library(
        crate::cmd::library::open_index(
            store.as_ref(),
            &settings.database_url,
            crate::cmd::library::WhenBusy::BuildInMemory,
        )
        .await?,
    );
    match (&settings.barrier_catalogue, serve.demo) {
        (Some(path), _) => state = state.with_barrier_catalogue(read_catalogue(path)?),
        (None, true) => state = state.with_barrier_catalogue(crate::demo::barrier_catalogue()?),
        (None, false) => {}
    }
    if let Some(mail) = &settings.mail {
        let mailer = vigie_app::mail::Mailer::new(&mail.smtp_url, &mail.from)
            .map_err(|e| CliError::new(vigie_domain::Code::ConfigInvalid, e.message))?;
        state = state.with_mailer(mailer);
    }
    match (&settings.osm, serve.demo) {
        (Some(path), _) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            state = state.with_hvm(load_network(path.clone(), name).await?);
        }
        (None, true) => {
            let demo_extract = crate::demo::extract_file()?;
            state = state.with_hvm(
                load_network(demo_extract.path().to_path_buf(), "helsinki-centre.osm.pbf (demo)".into()).await?,
            );
        }
        (None, false) => {}
    }
    // Notifications queued by bulletins go out from here, every few seconds.
    state.app.spawn_notifier(std::time::Duration::from_secs(5));
    vigie_server::serve(state, listener)
        .await
        .map_err(|e| CliError::new(vigie_domain::Code::ServerFailed, e.to_string()))
}

/// The barrier catalogue a user gave, checked once at start.
fn read_catalogue(path: &std::path::Path) -> Result<vigie_app::hvm::BarrierCatalogue, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            vigie_domain::Code::ConfigUnreadable,
            format!("cannot read the barrier catalogue {}: {e}", path.display()),
        )
    })?;
    let catalogue = vigie_hvm::Catalogue::from_csv(&text).map_err(CliError::from)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(vigie_app::hvm::BarrierCatalogue { name, catalogue })
}

/// Builds the street graph once, off the async workers.
async fn load_network(path: std::path::PathBuf, name: String) -> Result<vigie_server::HvmNetwork, CliError> {
    let graph = tokio::task::spawn_blocking(move || {
        vigie_hvm::osm::load_graph(&path, &vigie_hvm::GraphOptions::default(), &vigie_osm::NoProgress)
    })
    .await
    .map_err(|e| CliError::new(vigie_domain::Code::Internal, format!("the street network loader stopped: {e}")))?
    .map_err(CliError::from)?;
    let vehicles = vigie_hvm::VehicleSet::default_set().map_err(CliError::from)?;
    Ok(vigie_server::HvmNetwork { graph, vehicles, name })
}
