//! Vigie's storage. One [`Store`], made of a trait per aggregate; a SQLite and a PostgreSQL implementation, each with
//! its own append-only migrations embedded in the binary and applied by [`open`].
//!
//! Every write method takes a [`WriteContext`] and appends its audit entry in the same
//! transaction as the write: a write cannot land without its audit row, nor the reverse.

mod accounts;
mod assessment;
mod audit;
mod bulletins;
mod communities;
mod library;
mod marking;
mod model;
mod outbox;
mod postgres;
mod recipients;
mod reports;
mod sites;
mod sql;
mod sqlite;
mod threat_levels;

use std::sync::Arc;

pub use accounts::AccountStore;
pub use assessment::{AnswerWrite, AssessmentStore, NewAssessment, NewPhoto, TransitionData};
pub use audit::{AuditFilter, AuditStore};
pub use bulletins::BulletinStore;
pub use communities::CommunityStore;
pub use library::{IngestStatus, LibraryChanges, LibraryIngest, LibraryStore, StoredDocument};
pub use marking::{MarkedObject, MarkingStore};
pub use model::*;
pub use outbox::{Attempt, Channel, Delivery, NewDelivery, OutboxStore, Webhook};
pub use postgres::PgStore;
pub use recipients::Naming;
pub use reports::{Case, ReportPhoto, ReportStore, ReportWindow};
pub use sites::SiteStore;
pub use sqlite::{SqliteStore, database_path, library_index_dir_of, restore as restore_sqlite};
pub use threat_levels::{Checklist, ChecklistItem, ThreatLevelStore};
pub use vigie_domain::assessment::{
    Action, ActionFields, AnswerContent, AssessedSite, Assessment, AssessmentSummary, Photo, ScenarioRisk, StoredAnswer,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    /// The object's state forbids the change (e.g. answers of a submitted assessment).
    #[error("{0}")]
    Locked(String),
    /// An answer changed since the writer read it; `current` is what is stored now.
    #[error("this answer was changed by someone else meanwhile")]
    AnswerConflict { current: Box<StoredAnswer> },
    #[error("{0} not found")]
    NotFound(String),
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://…")]
    UrlInvalid(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Backup(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn code(&self) -> vigie_domain::Code {
        match self {
            StoreError::Conflict(_) => vigie_domain::Code::Conflict,
            StoreError::NotFound(_) => vigie_domain::Code::NotFound,
            StoreError::Locked(_) => vigie_domain::Code::AssessmentLocked,
            StoreError::AnswerConflict { .. } => vigie_domain::Code::AnswerConflict,
            StoreError::UrlInvalid(_) => vigie_domain::Code::DatabaseUrlInvalid,
            StoreError::Corrupt(_) => vigie_domain::Code::StorageCorrupt,
            StoreError::Backup(_) => vigie_domain::Code::BackupFailed,
            StoreError::Database(_) | StoreError::Migration(_) => vigie_domain::Code::StorageFailed,
        }
    }
}

impl From<StoreError> for vigie_domain::Failure {
    fn from(err: StoreError) -> Self {
        use vigie_domain::{Code, Failure};
        match err {
            StoreError::Conflict(message) => Failure::new(Code::Conflict, message),
            StoreError::NotFound(what) => Failure::not_found(&what),
            StoreError::Locked(message) => Failure::new(Code::AssessmentLocked, message),
            StoreError::AnswerConflict { current } => Failure::new(
                Code::AnswerConflict,
                "this answer was changed by someone else since you last saw it: keep theirs or send yours again with base_version set to theirs",
            )
            .with_details(serde_json::json!({ "question_id": current.question_id, "current": *current })),
            StoreError::UrlInvalid(_) => Failure::new(Code::DatabaseUrlInvalid, err.to_string()),
            StoreError::Backup(_) => Failure::new(Code::BackupFailed, err.to_string()),
            StoreError::Corrupt(_) | StoreError::Database(_) | StoreError::Migration(_) => {
                // The cause goes to the log, never to the client.
                tracing::error!(code = err.code().key(), error = %err, "storage error");
                let code = if matches!(err, StoreError::Corrupt(_)) { Code::StorageCorrupt } else { Code::StorageFailed };
                Failure::new(code, "the database could not complete the request; the error was logged")
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The whole store: one object, one trait per aggregate (accounts, sites and their studies,
/// assessments, the library, communities, bulletins, field reports, threat levels, the audit log), each in its
/// own file.
pub trait Store:
    AccountStore
    + SiteStore
    + AssessmentStore
    + LibraryStore
    + CommunityStore
    + BulletinStore
    + ReportStore
    + ThreatLevelStore
    + OutboxStore
    + MarkingStore
    + AuditStore
    + Send
    + Sync
{
    /// Which backend this is: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

impl<B> Store for B
where
    B: sql::Backend
        + AccountStore
        + SiteStore
        + AssessmentStore
        + LibraryStore
        + CommunityStore
        + BulletinStore
        + ReportStore
        + ThreatLevelStore
        + OutboxStore
        + MarkingStore
        + AuditStore,
{
    fn backend(&self) -> &'static str {
        B::NAME
    }
}

/// Opens (creating it if needed) and migrates the database at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(url).await?))
    } else {
        Err(StoreError::UrlInvalid(redact_url(url)))
    }
}

/// Hides the password of a database URL before it is shown or logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact_url("postgres://vigie:s3cret@localhost/vigie"),
            "postgres://vigie:***@localhost/vigie"
        );
        assert_eq!(super::redact_url("sqlite://./vigie-data/vigie.db"), "sqlite://./vigie-data/vigie.db");
    }
}
