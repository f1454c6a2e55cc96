//! Vigie's HTTP shell. Handlers extract the caller and the request, call one use case of
//! `vigie-app` and present its result as JSON or a page; they hold no rules of their own.

pub mod api;
pub mod assessments;
pub mod auth;
pub mod bulletins;
pub mod communities;
pub mod error;
pub mod extract;
pub mod library;
pub mod notifications;
pub mod openapi;
pub mod reports;
pub mod threat_levels;
pub mod throttle;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use vigie_store::Store;

/// Settings the server needs, checked by the binary before it starts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a browser session lasts.
    pub session_hours: u32,
    /// Mark the session cookie `Secure` (set it when Vigie is served over HTTPS).
    pub cookie_secure: bool,
    /// Days from validation until a site's next assessment is due.
    pub reassessment_days: u32,
    /// Where users reach the server: the start of the links in e-mails and webhook calls.
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        // The application's defaults, so that the two never disagree.
        let app = vigie_app::Settings::default();
        ServerConfig {
            body_limit: 2 * 1024 * 1024,
            session_hours: app.session_hours,
            cookie_secure: false,
            reassessment_days: app.reassessment_days,
            public_url: None,
        }
    }
}

pub use vigie_app::HvmNetwork;

#[derive(Clone)]
pub struct AppState {
    pub app: vigie_app::App,
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// Must be called inside a Tokio runtime: the application starts its audit writer.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let settings = vigie_app::Settings {
            session_hours: config.session_hours,
            reassessment_days: config.reassessment_days,
            public_url: config.public_url.clone(),
        };
        AppState { app: vigie_app::App::new(store, settings), config: Arc::new(config) }
    }

    pub fn with_hvm(mut self, network: HvmNetwork) -> Self {
        self.app = self.app.with_hvm(network);
        self
    }

    /// The barrier catalogue the site page's vehicle study answers from.
    pub fn with_barrier_catalogue(mut self, catalogue: vigie_app::hvm::BarrierCatalogue) -> Self {
        self.app = self.app.with_barrier_catalogue(catalogue);
        self
    }

    /// Mails the one-time links of invitations and password resets.
    pub fn with_mailer(mut self, mailer: vigie_app::mail::Mailer) -> Self {
        self.app = self.app.with_mailer(mailer);
        self
    }

    /// The guidance library's search index (see `vigie_app::library::open`).
    pub fn with_library(mut self, library: Arc<vigie_search::SharedLibrary>) -> Self {
        self.app = self.app.with_library(library);
        self
    }
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    Router::new()
        .merge(ui::routes())
        .merge(api::routes())
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
