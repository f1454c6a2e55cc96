//! Vigie's application layer: one function per thing a user does (sign in, list sites, answer
//! a question, validate an assessment, search the library…), behind one [`App`] that holds the
//! store, the library index, the street network, the clock and the audit. Each use case checks
//! access with `vigie_domain::access` and writes its audit entry once, whoever calls it: the
//! HTTP API, the web pages and the command line are adapters that extract the caller, call one
//! use case and present its result. This crate knows no HTTP.
//!
//! Errors are [`Failure`]s of the one code table (`vigie_domain::code`).

pub mod accounts;
pub mod assessments;
pub mod audit;
pub mod bulletins;
pub mod communities;
pub mod console;
pub mod hvm;
pub mod library;
pub mod mail;
pub mod marking;
pub mod notifications;
pub mod reports;
pub mod second_factor;
pub mod secrets;
pub mod sites;
pub mod threat_levels;
pub mod throttle;

use std::sync::Arc;

pub use audit::AuditSink;
use vigie_domain::access::Principal;
pub use vigie_domain::{Code, Failure};
use vigie_store::{Store, WriteContext};

/// A use case's result.
pub type Result<T> = std::result::Result<T, Failure>;

/// Where the time comes from: the shells pass the system clock, tests a fixed one.
pub trait Clock: Send + Sync {
    /// Milliseconds since 1970-01-01 UTC.
    fn now_ms(&self) -> i64;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the application reads the clock; everything below takes time as a value.
    #[allow(clippy::disallowed_methods)]
    fn now_ms(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The settings use cases depend on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a browser session lasts.
    pub session_hours: u32,
    /// Days from validation until a site's next assessment is due.
    pub reassessment_days: u32,
    /// Where users reach this server (`https://vigie.city.example`): the links in e-mails and
    /// webhook calls start with it. Without it they are paths on the server.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { session_hours: 12, reassessment_days: 365, public_url: None }
    }
}

/// The street network hostile-vehicle studies run on, loaded once at start-up.
pub struct HvmNetwork {
    pub graph: vigie_hvm::StreetGraph,
    pub vehicles: vigie_hvm::VehicleSet,
    /// Shown with each study: which extract it was computed on.
    pub name: String,
}

/// Everything a use case needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    audit: AuditSink,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    hvm: Option<Arc<HvmNetwork>>,
    library: Option<Arc<vigie_search::SharedLibrary>>,
    mailer: Option<Arc<mail::Mailer>>,
    barrier_catalogue: Option<Arc<hvm::BarrierCatalogue>>,
    login_throttle: Arc<throttle::LoginThrottle>,
}

impl App {
    /// Must be called inside a Tokio runtime: it starts the audit writer.
    pub fn new(store: Arc<dyn Store>, settings: Settings) -> Self {
        App {
            audit: AuditSink::spawn(store.clone()),
            store,
            clock: Arc::new(SystemClock),
            settings: Arc::new(settings),
            hvm: None,
            library: None,
            mailer: None,
            barrier_catalogue: None,
            login_throttle: Arc::default(),
        }
    }

    /// Tests pass a clock they move by hand.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_hvm(mut self, network: HvmNetwork) -> Self {
        self.hvm = Some(Arc::new(network));
        self
    }

    pub fn with_library(mut self, library: Arc<vigie_search::SharedLibrary>) -> Self {
        self.library = Some(library);
        self
    }

    /// The storage backend's name (`sqlite` or `postgres`), for the health check.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The street network, when one is loaded (vehicle studies, and the streets drawn on
    /// maps: public OpenStreetMap data).
    pub fn street_network(&self) -> Option<&Arc<HvmNetwork>> {
        self.hvm.as_ref()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Who writes, and when: every write is audited with it.
    fn write_context(&self, caller: &Principal) -> WriteContext {
        WriteContext { at_ms: self.now_ms(), actor: caller.user_id.to_string(), actor_org: Some(caller.org_id.clone()) }
    }

    /// Records that `caller` read protected data; fails closed when the entry cannot be written.
    async fn audit_read(
        &self,
        caller: &Principal,
        object_type: &str,
        object_id: Option<&str>,
        details: serde_json::Value,
    ) -> Result<()> {
        self.audit.read(caller, self.now_ms(), object_type, object_id, details).await
    }
}

/// Runs CPU work (argon2, PDF extraction, vehicle dynamics) off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|_| Failure::internal())
}
