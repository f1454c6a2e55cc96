//! Search requests, the caller's access, and results.
use std::collections::HashSet;

use serde::Serialize;
use time::Date;

use crate::error::SearchError;
use crate::{Lang, Marking};

/// Upper bound on `limit`, so that one request cannot ask for the whole library.
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free words and `"quoted phrases"`; phrases must appear as written (analysed).
    pub text: String,
    /// Only passages of documents carrying at least one of these tags (empty: any).
    pub tags: Vec<String>,
    /// Only passages in this language (absent: any). The query is analysed in every language
    /// regardless, and expanded through the glossary.
    pub language: Option<Lang>,
    /// Inclusive date range on the document's date; documents without a date are left out
    /// when either bound is set.
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
    /// Only these markings (empty: any the caller may read).
    pub markings: Vec<Marking>,
    pub limit: usize,
}

impl SearchQuery {
    pub fn new(text: impl Into<String>) -> Self {
        SearchQuery {
            text: text.into(),
            tags: Vec::new(),
            language: None,
            date_from: None,
            date_to: None,
            markings: Vec::new(),
            limit: 10,
        }
    }
}

/// What the caller may read: the documents the TLP rule (`vigie_domain::sharing::may_read`)
/// lets them read, decided by the application for each request. The index only applies it,
/// so that the rule lives in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `None`: every document (the console's operator).
    documents: Option<HashSet<String>>,
}

impl Access {
    pub fn everything() -> Self {
        Access { documents: None }
    }

    /// Only the documents `ids`.
    pub fn documents<I: Into<String>>(ids: impl IntoIterator<Item = I>) -> Self {
        Access { documents: Some(ids.into_iter().map(Into::into).collect()) }
    }

    pub fn can_read(&self, document_id: &str) -> bool {
        self.documents.as_ref().is_none_or(|ids| ids.contains(document_id))
    }

    /// The readable documents, `None` for all of them.
    pub fn readable(&self) -> Option<&HashSet<String>> {
        self.documents.as_ref()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub document_id: String,
    pub document_title: String,
    pub passage_id: String,
    /// The heading path joined with ` › `.
    pub heading: String,
    /// HTML: escaped text with hits in `<mark>…</mark>`.
    pub snippet: String,
    pub score: f32,
    pub language: Lang,
    pub marking: Marking,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    /// Readable passages that match, before near-duplicate documents are collapsed. Never
    /// counts what the caller may not read.
    pub total: usize,
}

/// A parsed query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Words(String),
    Phrase(String),
}

pub(crate) fn parse_text(text: &str) -> Result<Vec<Part>, SearchError> {
    // Typographic quotes count as quotes: people paste them from documents.
    let normalised: String = text.chars().map(|c| if matches!(c, '«' | '»' | '“' | '”') { '"' } else { c }).collect();
    if normalised.matches('"').count() % 2 == 1 {
        return Err(SearchError::query("a quotation mark is not closed"));
    }
    let parts: Vec<Part> = normalised
        .split('"')
        .enumerate()
        .filter(|(_, s)| !s.trim().is_empty())
        .map(|(i, s)| if i % 2 == 1 { Part::Phrase(s.trim().to_owned()) } else { Part::Words(s.trim().to_owned()) })
        .collect();
    if parts.is_empty() {
        return Err(SearchError::query("the query is empty"));
    }
    Ok(parts)
}

pub(crate) fn validate(q: &SearchQuery) -> Result<Vec<Part>, SearchError> {
    if q.limit == 0 || q.limit > MAX_LIMIT {
        return Err(SearchError::query(format!("the limit must be between 1 and {MAX_LIMIT}")));
    }
    if let (Some(from), Some(to)) = (q.date_from, q.date_to)
        && from > to
    {
        return Err(SearchError::query("the start date is after the end date"));
    }
    if q.text.chars().count() > 1000 {
        return Err(SearchError::query("the query is longer than 1,000 characters"));
    }
    parse_text(&q.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_make_phrases() {
        assert_eq!(
            parse_text("chiens \"détecteurs d'explosifs\" gare").unwrap(),
            vec![
                Part::Words("chiens".into()),
                Part::Phrase("détecteurs d'explosifs".into()),
                Part::Words("gare".into())
            ]
        );
        assert_eq!(parse_text("« voiture-bélier »").unwrap(), vec![Part::Phrase("voiture-bélier".into())]);
        assert_eq!(parse_text("\"ouvert").map_err(|e| e.code().key()), Err("query_invalid"));
        assert_eq!(parse_text("  ").map_err(|e| e.code().key()), Err("query_invalid"));
    }

    #[test]
    fn access_is_a_set_of_documents() {
        let some = Access::documents(["a"]);
        assert!(some.can_read("a") && !some.can_read("b"));
        assert!(!Access::documents(Vec::<String>::new()).can_read("a"));
        assert!(Access::everything().can_read("z"));
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut q = SearchQuery::new("x");
        q.limit = 0;
        assert!(validate(&q).is_err());
        q.limit = 5;
        q.date_from = crate::parse_date("2020-01-02").ok();
        q.date_to = crate::parse_date("2020-01-01").ok();
        assert!(validate(&q).is_err());
    }
}
