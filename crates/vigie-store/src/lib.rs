//! Vigie's storage. One [`Store`] trait; a SQLite and a PostgreSQL implementation, each with
//! its own append-only migrations embedded in the binary and applied by [`open`].
//!
//! Every write method takes a [`WriteContext`] and appends its audit entry in the same
//! transaction as the write: a write cannot land without its audit row, nor the reverse.

mod assessment;
mod library;
mod model;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use vigie_domain::access::Principal;
use vigie_domain::audit::{AuditRecord, StoredAuditEntry};

pub use assessment::{AnswerWrite, AssessmentStore, NewAssessment, NewPhoto, TransitionData};
pub use library::{IngestStatus, LibraryChanges, LibraryIngest, LibraryStore, StoredDocument};
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::{SqliteStore, database_path, library_index_dir_of, restore as restore_sqlite};
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

/// The whole store: the registry and accounts here, assessments and the library in their own
/// traits (one object; the areas are split only to keep each file readable).
#[async_trait]
pub trait Store: AssessmentStore + LibraryStore + Send + Sync {
    /// Which backend this is: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    async fn create_org(&self, ctx: &WriteContext, name: &str, kind: vigie_domain::access::OrgKind) -> Result<Org>;
    async fn org_by_name(&self, name: &str) -> Result<Option<Org>>;
    async fn org_by_id(&self, id: &str) -> Result<Option<Org>>;
    async fn list_orgs(&self) -> Result<Vec<Org>>;
    /// Lets `authority_org` read the sites of `overseen_org`.
    async fn add_oversight(&self, ctx: &WriteContext, authority_org: &str, overseen_org: &str) -> Result<()>;

    async fn create_user(&self, ctx: &WriteContext, user: NewUser) -> Result<User>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserWithSecret>>;

    async fn create_session(
        &self,
        ctx: &WriteContext,
        token_hash: &str,
        user_id: &str,
        expires_at_ms: i64,
    ) -> Result<()>;
    async fn principal_for_session(&self, token_hash: &str, now_ms: i64) -> Result<Option<Principal>>;
    async fn delete_session(&self, ctx: &WriteContext, token_hash: &str) -> Result<()>;

    async fn create_token(&self, ctx: &WriteContext, user_id: &str, name: &str, token_hash: &str) -> Result<ApiToken>;
    async fn principal_for_token(&self, token_hash: &str) -> Result<Option<Principal>>;
    async fn list_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>>;
    /// Revokes one of `user_id`'s tokens; `NotFound` when it has no such live token.
    async fn revoke_token(&self, ctx: &WriteContext, user_id: &str, token_id: &str) -> Result<()>;

    async fn create_site(&self, ctx: &WriteContext, org_id: &str, site: &NewSite) -> Result<Site>;
    async fn get_site(&self, id: &str) -> Result<Option<Site>>;
    /// The names of the sites among `ids` that exist, by id: one query for a whole list
    /// (dashboards name hundreds of sites), not one per site.
    async fn site_names(&self, ids: &[&str]) -> Result<std::collections::HashMap<String, String>>;
    /// Replaces a site's fields; with `expected_version`, refuses (Conflict) when the stored
    /// version differs, so that a concurrent edit is never silently overwritten.
    async fn update_site(
        &self,
        ctx: &WriteContext,
        id: &str,
        site: &NewSite,
        expected_version: Option<i64>,
    ) -> Result<Site>;
    async fn delete_site(&self, ctx: &WriteContext, id: &str) -> Result<()>;
    async fn list_sites(&self, filter: &SiteFilter) -> Result<SitePage>;
    /// Imports sites in one transaction: all or nothing. Sites whose `source_ref` the
    /// organisation already holds are updated when they changed, else skipped.
    async fn import_sites(&self, ctx: &WriteContext, org_id: &str, sites: &[NewSite]) -> Result<ImportOutcome>;

    /// Stores a hostile-vehicle study of a site (the result JSON of `vigie_hvm::analyse_site`).
    async fn create_hvm_study(&self, ctx: &WriteContext, study: &NewHvmStudy) -> Result<HvmStudy>;
    /// The site's most recent study, if any.
    async fn latest_hvm_study(&self, site_id: &str) -> Result<Option<HvmStudy>>;

    /// Appends audit entries on their own (reads of sensitive objects, failed logins), all
    /// in one transaction.
    async fn append_audit(&self, records: &[AuditRecord]) -> Result<()>;
    /// The whole audit log in sequence order (tests and small logs; see `audit_page`).
    async fn audit_entries(&self) -> Result<Vec<StoredAuditEntry>> {
        let mut all = Vec::new();
        loop {
            let page = self.audit_page(all.last().map_or(0, |e: &StoredAuditEntry| e.seq), 10_000).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }
    /// Up to `limit` entries after sequence number `after_seq`, in order: verification walks
    /// the log page by page, in bounded memory.
    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredAuditEntry>>;
    /// The last `count` entries, oldest first.
    async fn audit_tail(&self, count: u32) -> Result<Vec<StoredAuditEntry>>;
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
