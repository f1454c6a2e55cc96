//! Vigie's guidance library engine: ingest documents (text, Markdown, HTML, PDF) into
//! passages that follow their structure, search them in French and English with access
//! control inside the query, and flag near-duplicate documents.
//!
//! Pure parts (`ingest`, `dedup`, `glossary`, `analysis`, `highlight`) do no I/O; `index` owns
//! the tantivy index, in RAM or in a directory, rebuildable from stored passages.
#![deny(clippy::indexing_slicing)] // pure code: a bad index is an error to return, not a panic

pub mod analysis;
pub mod dedup;
pub mod demo;
pub mod error;
pub mod glossary;
pub mod highlight;
pub mod index;
pub mod ingest;
pub mod library;
pub mod query;

pub use dedup::{DuplicatePair, near_duplicates};
pub use error::SearchError;
pub use index::LibraryIndex;
pub use ingest::{IngestChange, IngestOptions, parse};
pub use library::SharedLibrary;
pub use query::{Access, SearchHit, SearchQuery, SearchResults};
pub use vigie_domain::library::{
    Document, DocumentVersion, Format, Lang, Marking, PAGE_CHARS, ParsedDocument, Passage, PassageKind, format_date,
};

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<time::Date, SearchError> {
    vigie_domain::library::parse_date(s)
        .ok_or_else(|| SearchError::query(format!("'{s}' is not a date of the form YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_round_trip() {
        let d = super::parse_date("2020-12-09").unwrap();
        assert_eq!(super::format_date(d), "2020-12-09");
        assert!(super::parse_date("2020-13-01").is_err());
        assert!(super::parse_date("yesterday").is_err());
    }
}
