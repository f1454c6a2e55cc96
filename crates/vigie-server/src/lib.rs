//! Vigie's HTTP shell. Handlers translate between HTTP and the store and domain; rules live
//! in `vigie-domain`, data in `vigie-store`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod assessments;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod library;
pub mod openapi;
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { body_limit: 2 * 1024 * 1024, session_hours: 12, cookie_secure: false, reassessment_days: 365 }
    }
}

/// The street network hostile-vehicle studies run on, loaded once at start-up.
pub struct HvmNetwork {
    pub graph: vigie_hvm::StreetGraph,
    pub vehicles: vigie_hvm::VehicleSet,
    /// Shown with each study: which extract it was computed on.
    pub name: String,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub audit: audit::AuditSink,
    pub config: Arc<ServerConfig>,
    pub hvm: Option<Arc<HvmNetwork>>,
    pub login_throttle: Arc<throttle::LoginThrottle>,
    /// The guidance library's search index (see `library::open`); `None` until loaded.
    pub library: Option<Arc<vigie_search::SharedLibrary>>,
}

impl AppState {
    /// Must be called inside a Tokio runtime: it starts the audit writer.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        AppState {
            audit: audit::AuditSink::spawn(store.clone()),
            store,
            config: Arc::new(config),
            hvm: None,
            login_throttle: Arc::default(),
            library: None,
        }
    }

    pub fn with_hvm(mut self, network: HvmNetwork) -> Self {
        self.hvm = Some(Arc::new(network));
        self
    }
}

/// The shells read the clock; the domain and the store take time as a parameter.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
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
