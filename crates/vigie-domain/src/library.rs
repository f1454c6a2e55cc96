//! Plain, serialisable records the store persists: documents, their versions, their passages.
use crate::id::{DocumentId, OrgId, PassageId};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::DomainError;
pub use crate::site::Lang;

/// TLP 2.0 marking, ordered from the most to the least shareable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Marking {
    #[default]
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Marking {
    pub const ALL: [Marking; 5] = [Marking::Clear, Marking::Green, Marking::Amber, Marking::AmberStrict, Marking::Red];

    pub fn label(self) -> &'static str {
        match self {
            Marking::Clear => "TLP:CLEAR",
            Marking::Green => "TLP:GREEN",
            Marking::Amber => "TLP:AMBER",
            Marking::AmberStrict => "TLP:AMBER+STRICT",
            Marking::Red => "TLP:RED",
        }
    }

    /// Accepts the TLP 2.0 labels, case-insensitively, with or without the `TLP:` prefix.
    /// TLP 1.0's WHITE is refused on purpose: silently mapping markings is how leaks start.
    pub fn parse(given: &str) -> Result<Self, DomainError> {
        let upper = given.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("TLP:").unwrap_or(&upper);
        Self::ALL
            .into_iter()
            .find(|m| &m.label()[4..] == bare)
            .ok_or_else(|| DomainError::MarkingInvalid { given: given.to_owned() })
    }

    pub fn rank(self) -> u64 {
        self as u64
    }
}

impl TryFrom<String> for Marking {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Marking::parse(&s)
    }
}

impl From<Marking> for String {
    fn from(m: Marking) -> String {
        m.label().to_owned()
    }
}

/// Languages the library analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
}

/// A document's current metadata. The id is chosen by the caller (the store) and stays
/// the same across versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: DocumentId,
    pub org_id: OrgId,
    pub title: String,
    pub language: Lang,
    pub source: Option<String>,
    #[serde(with = "date_serde")]
    pub date: Option<Date>,
    pub tags: Vec<String>,
    pub marking: Marking,
    /// Who the document is shared with under its marking (a community for GREEN, named
    /// people for RED), besides its organisation; decided by [`crate::sharing::may_read`].
    #[serde(default)]
    pub recipients: crate::sharing::Recipients,
}

/// One ingested content of a document. Same `content_hash` = same content: nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersion {
    pub document_id: DocumentId,
    /// SHA-256 of the raw bytes, hex.
    pub content_hash: String,
    pub format: Format,
    pub filename: String,
    /// Characters of cleaned text; pages are counted as 3,000 characters.
    pub char_count: usize,
    /// MinHash signature of the cleaned text, for near-duplicate detection.
    pub signature: Vec<u32>,
}

impl DocumentVersion {
    pub fn pages(&self) -> f64 {
        self.char_count as f64 / PAGE_CHARS as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassageKind {
    Paragraph,
    List,
    Table,
}

/// A searchable unit of a document, under its heading path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Derived from the document id and the passage's text, so that an unchanged passage keeps
    /// its id across versions and references from the methodology stay valid.
    pub id: PassageId,
    pub document_id: DocumentId,
    pub ordinal: u32,
    pub heading_path: Vec<String>,
    pub kind: PassageKind,
    pub text: String,
}

impl Passage {
    /// The heading path as one line, e.g. `III. RÉSEAUX … › Objectifs`.
    pub fn heading(&self) -> String {
        self.heading_path.join(" › ")
    }
}

/// Dates travel as `YYYY-MM-DD`.
/// A document read into passages, ready to be stored and indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDocument {
    pub document: Document,
    pub version: DocumentVersion,
    pub passages: Vec<Passage>,
}

/// Characters per page in throughput figures and page counts (a dense A4 page of prose).
pub const PAGE_CHARS: usize = 3000;

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `YYYY-MM-DD`; `None` for anything else.
pub fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.trim().splitn(3, '-').map(|p| p.parse::<i32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

mod date_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_some(&super::format_date(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                super::parse_date(&s)
                    .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a date of the form YYYY-MM-DD")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markings_parse_tlp2_labels_only() {
        assert_eq!(Marking::parse("TLP:AMBER+STRICT"), Ok(Marking::AmberStrict));
        assert_eq!(Marking::parse("tlp:green"), Ok(Marking::Green));
        assert_eq!(Marking::parse("red"), Ok(Marking::Red));
        for bad in ["TLP:WHITE", "", "TLP:AMBER STRICT", "secret"] {
            assert_eq!(Marking::parse(bad).map_err(|e| e.code().key()), Err("marking_invalid"), "{bad}");
        }
        assert!(Marking::Clear < Marking::Green && Marking::AmberStrict < Marking::Red);
    }

    #[test]
    fn document_round_trips_through_json() {
        let doc = Document {
            id: "d".into(),
            org_id: "o".into(),
            title: "t".into(),
            language: Lang::Fr,
            source: None,
            date: Some(Date::from_calendar_date(2017, time::Month::October, 18).unwrap()),
            tags: vec!["eu".into()],
            marking: Marking::Amber,
            recipients: crate::sharing::Recipients { orgs: vec!["mall".into()], ..Default::default() },
        };
        let json = serde_json::to_string(&doc).unwrap();
        assert!(json.contains("\"2017-10-18\"") && json.contains("\"TLP:AMBER\""), "{json}");
        assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), doc);
    }
}
