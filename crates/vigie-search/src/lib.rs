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
pub mod model;
pub mod query;

pub use dedup::{DuplicatePair, near_duplicates};
pub use error::SearchError;
pub use index::LibraryIndex;
pub use ingest::{IngestChange, IngestOptions, ParsedDocument, parse};
pub use library::SharedLibrary;
pub use model::{Document, DocumentVersion, Format, Lang, Marking, Passage, PassageKind};
pub use query::{Access, SearchHit, SearchQuery, SearchResults};

/// Characters per page in throughput figures (a dense A4 page of prose).
pub const PAGE_CHARS: usize = 3000;

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<time::Date, SearchError> {
    let bad = || SearchError::query(format!("'{s}' is not a date of the form YYYY-MM-DD"));
    let mut parts = s.trim().splitn(3, '-').map(|p| p.parse::<i32>().map_err(|_| bad()));
    let (y, m, d) = (parts.next().ok_or_else(bad)??, parts.next().ok_or_else(bad)??, parts.next().ok_or_else(bad)??);
    let month = time::Month::try_from(u8::try_from(m).map_err(|_| bad())?).map_err(|_| bad())?;
    time::Date::from_calendar_date(y, month, u8::try_from(d).map_err(|_| bad())?).map_err(|_| bad())
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
