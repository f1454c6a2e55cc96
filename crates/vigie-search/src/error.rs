//! The crate's one error enum. Codes are stable: shells map them to HTTP and JSON.
use thiserror::Error;
use vigie_domain::{Code, DomainError, Failure};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// The bytes could not be read as a document of the announced kind.
    #[error("the document '{name}' could not be read: {reason} / le document « {name} » est illisible : {reason}")]
    DocumentUnreadable { name: String, reason: String },
    /// The file is not text, Markdown, HTML or PDF.
    #[error(
        "the format of '{name}' is not supported; use text, Markdown, HTML or PDF / le format de « {name} » n'est pas pris en charge ; utilisez texte, Markdown, HTML ou PDF"
    )]
    DocumentFormatUnsupported { name: String },
    /// A TLP marking outside TLP 2.0.
    #[error(
        "unknown marking '{given}'; expected TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT or TLP:RED / marquage inconnu « {given} »"
    )]
    MarkingInvalid { given: String },
    /// A language other than those the library analyses.
    #[error("unknown language '{given}'; expected fr or en / langue inconnue « {given} » ; attendu fr ou en")]
    LanguageInvalid { given: String },
    /// The search request cannot be run (empty, unbalanced quotes, bad range, limit).
    #[error("the search cannot be run: {reason} / la recherche ne peut pas être lancée : {reason}")]
    QueryInvalid { reason: String },
    /// The shipped glossary is malformed (a build-time data error).
    #[error("the glossary is malformed: {reason} / le glossaire est mal formé : {reason}")]
    GlossaryInvalid { reason: String },
    /// Another process (a running server) holds the index directory.
    #[error(
        "the search index is in use by another Vigie process: {reason} / l'index de recherche est utilisé par un autre processus Vigie : {reason}"
    )]
    IndexBusy { reason: String },
    /// The index on disk or in memory failed.
    #[error("the search index failed: {reason} / l'index de recherche a échoué : {reason}")]
    IndexFailed { reason: String },
}

impl SearchError {
    pub fn code(&self) -> Code {
        match self {
            SearchError::DocumentUnreadable { .. } => Code::DocumentUnreadable,
            SearchError::DocumentFormatUnsupported { .. } => Code::DocumentFormatUnsupported,
            SearchError::MarkingInvalid { .. } => Code::MarkingInvalid,
            SearchError::LanguageInvalid { .. } => Code::LanguageInvalid,
            SearchError::QueryInvalid { .. } => Code::QueryInvalid,
            SearchError::GlossaryInvalid { .. } => Code::GlossaryInvalid,
            SearchError::IndexBusy { .. } => Code::SearchIndexBusy,
            SearchError::IndexFailed { .. } => Code::SearchIndexFailed,
        }
    }

    pub(crate) fn query(reason: impl Into<String>) -> Self {
        SearchError::QueryInvalid { reason: reason.into() }
    }
}

impl From<SearchError> for Failure {
    fn from(err: SearchError) -> Self {
        Failure::new(err.code(), err.to_string())
    }
}

/// The library's nouns (markings, languages) are checked by the domain.
impl From<DomainError> for SearchError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::MarkingInvalid { given } => SearchError::MarkingInvalid { given },
            DomainError::LanguageInvalid { given } => SearchError::LanguageInvalid { given },
            other => SearchError::QueryInvalid { reason: other.to_string() },
        }
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        match e {
            tantivy::TantivyError::LockFailure(..) => SearchError::IndexBusy { reason: e.to_string() },
            _ => SearchError::IndexFailed { reason: e.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        let all = [
            SearchError::DocumentUnreadable { name: "a".into(), reason: "b".into() },
            SearchError::DocumentFormatUnsupported { name: "a".into() },
            SearchError::MarkingInvalid { given: "x".into() },
            SearchError::LanguageInvalid { given: "x".into() },
            SearchError::query("x"),
            SearchError::GlossaryInvalid { reason: "x".into() },
            SearchError::IndexBusy { reason: "x".into() },
            SearchError::IndexFailed { reason: "x".into() },
        ];
        for e in all {
            assert!(e.code().key().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", e.code());
            assert!(!e.to_string().is_empty());
        }
    }
}
