//! Search requests, the caller's access, and results.
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

/// What the caller may read, resolved by the shell from the session. A passage is readable
/// when its marking is at most `max_marking` and either it is TLP:CLEAR or TLP:GREEN
/// (community-wide) or its document belongs to one of `orgs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `None`: every organisation (administrators).
    pub orgs: Option<Vec<String>>,
    pub max_marking: Marking,
}

impl Access {
    /// Anonymous readers: TLP:CLEAR only.
    pub fn public() -> Self {
        Access { orgs: Some(Vec::new()), max_marking: Marking::Clear }
    }

    pub fn can_read(&self, owner_org: &str, marking: Marking) -> bool {
        marking <= self.max_marking
            && (marking <= Marking::Green || self.orgs.as_ref().is_none_or(|orgs| orgs.iter().any(|o| o == owner_org)))
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
    fn access_rules() {
        let a = Access { orgs: Some(vec!["a".into()]), max_marking: Marking::Amber };
        assert!(a.can_read("b", Marking::Clear) && a.can_read("b", Marking::Green));
        assert!(a.can_read("a", Marking::Amber) && !a.can_read("b", Marking::Amber));
        assert!(!a.can_read("a", Marking::Red));
        assert!(!Access::public().can_read("x", Marking::Green));
        let admin = Access { orgs: None, max_marking: Marking::Red };
        assert!(admin.can_read("z", Marking::Red));
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
