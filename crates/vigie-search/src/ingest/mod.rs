//! Ingest: bytes and metadata in, a document, its version and its passages out. Pure: the
//! caller reads the file and stores the result.
mod blocks;
mod html;
mod inline;
mod lang;
mod reflow;
mod split;

use sha2::{Digest, Sha256};
use time::Date;
use vigie_domain::{DocumentId, OrgId};

pub use lang::detect as detect_language;

use crate::dedup;
use crate::error::SearchError;
use crate::{Document, DocumentVersion, Format, Lang, Marking, ParsedDocument};
use blocks::Block;

/// What the caller knows about a document; what it leaves out is detected or defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    /// Defaults to a slug of the file name.
    pub document_id: Option<String>,
    pub org_id: String,
    pub title: Option<String>,
    /// Detected from the text when absent.
    pub language: Option<Lang>,
    pub source: Option<String>,
    pub date: Option<Date>,
    pub tags: Vec<String>,
    /// TLP:CLEAR unless told otherwise: the library's documents are public by default.
    pub marking: Marking,
    pub recipients: vigie_domain::sharing::Recipients,
}

impl IngestOptions {
    pub fn new(org_id: impl Into<String>) -> Self {
        IngestOptions {
            document_id: None,
            org_id: org_id.into(),
            title: None,
            language: None,
            source: None,
            date: None,
            tags: Vec::new(),
            marking: Marking::Clear,
            recipients: vigie_domain::sharing::Recipients::default(),
        }
    }
}

/// What re-ingesting a document means for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestChange {
    New,
    /// Same bytes as the stored version: nothing to write, nothing to reindex.
    Unchanged,
    NewVersion,
}

/// Compares a freshly parsed version with the stored one (if any).
pub fn change(stored: Option<&DocumentVersion>, parsed: &DocumentVersion) -> IngestChange {
    match stored {
        None => IngestChange::New,
        Some(s) if s.content_hash == parsed.content_hash => IngestChange::Unchanged,
        Some(_) => IngestChange::NewVersion,
    }
}

/// The format from the file name's extension, else from the first bytes.
pub fn detect_format(bytes: &[u8], filename: &str) -> Result<Format, SearchError> {
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" => return Ok(Format::Text),
        "md" | "markdown" => return Ok(Format::Markdown),
        "html" | "htm" | "xhtml" => return Ok(Format::Html),
        "pdf" => return Ok(Format::Pdf),
        _ => {}
    }
    if bytes.starts_with(b"%PDF") {
        return Ok(Format::Pdf);
    }
    let head = String::from_utf8_lossy(bytes.get(..512).unwrap_or(bytes)).trim_start().to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Ok(Format::Html);
    }
    if ext.is_empty() && std::str::from_utf8(bytes).is_ok() {
        return Ok(Format::Text);
    }
    Err(SearchError::DocumentFormatUnsupported { name: filename.to_owned() })
}

/// Parses one document. Same bytes and options give the same result, ids included.
pub fn parse(bytes: &[u8], filename: &str, options: IngestOptions) -> Result<ParsedDocument, SearchError> {
    let unreadable =
        |reason: &str| SearchError::DocumentUnreadable { name: filename.to_owned(), reason: reason.to_owned() };
    let format = detect_format(bytes, filename)?;
    let utf8 = || std::str::from_utf8(bytes).map_err(|_| unreadable("the text is not UTF-8"));
    let (html_title, blocks) = match format {
        Format::Text => (None, reflow::reflow(&[utf8()?.replace("\r\n", "\n")])),
        Format::Markdown => (None, blocks::from_markdown(&utf8()?.replace("\r\n", "\n"))),
        Format::Html => {
            let (title, md) = html::to_markdown(utf8()?);
            (title, blocks::from_markdown(&md))
        }
        Format::Pdf => (None, reflow::reflow(&pdf_pages(bytes).map_err(|r| unreadable(&r))?)),
    };
    let document_id = DocumentId::new(options.document_id.clone().unwrap_or_else(|| slug(filename)));
    let title = options
        .title
        .clone()
        .or(html_title)
        .or_else(|| leading_heading(&blocks))
        .unwrap_or_else(|| file_stem(filename));
    let passages = split::passages(&document_id, blocks);
    if passages.is_empty() {
        return Err(unreadable("no text was found (a scanned PDF has no text layer)"));
    }
    let full_text = passages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n");
    let language = options.language.unwrap_or_else(|| lang::detect(&full_text));
    let version = DocumentVersion {
        document_id: document_id.clone(),
        content_hash: hex::encode(Sha256::digest(bytes)),
        format,
        filename: filename.to_owned(),
        char_count: full_text.chars().count(),
        signature: dedup::signature(&full_text),
    };
    let mut tags = options.tags;
    tags.sort();
    tags.dedup();
    let document = Document {
        id: document_id,
        org_id: OrgId::new(options.org_id),
        title,
        language,
        source: options.source,
        date: options.date,
        tags,
        marking: options.marking,
        recipients: options.recipients,
    };
    Ok(ParsedDocument { document, version, passages })
}

/// Page texts of a PDF's text layer. The extractor may panic on malformed files; that is
/// caught and reported as an unreadable document rather than taking the process down.
fn pdf_pages(bytes: &[u8]) -> Result<Vec<String>, String> {
    let owned = bytes.to_vec();
    match std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem_by_pages(&owned)) {
        Ok(Ok(pages)) => Ok(pages),
        Ok(Err(e)) => Err(format!("the PDF could not be decoded ({e})")),
        Err(_) => Err("the PDF could not be decoded".to_owned()),
    }
}

/// A title written as a heading before any text.
fn leading_heading(blocks: &[Block]) -> Option<String> {
    match blocks.first() {
        Some(Block::Heading { text, .. }) => Some(text.clone()),
        _ => None,
    }
}

fn file_stem(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    base.rsplit_once('.').map_or(base, |(stem, _)| stem).to_owned()
}

/// The id of an organisation's document from its file name: the same file ingested again by
/// the same organisation is the same document (a new version when it changed), and two
/// organisations with a file of the same name never share an id.
pub fn document_id(org_id: &str, filename: &str) -> String {
    let digest = Sha256::digest(format!("{org_id}\0{}", slug(filename)).as_bytes());
    format!("{}-{}", slug(filename), &hex::encode(digest)[..12])
}

/// `Plan d'action (2017).md` → `plan-d-action-2017`.
pub fn slug(filename: &str) -> String {
    let folded = crate::analysis::fold(&file_stem(filename));
    let s: String = folded.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() { "document".to_owned() } else { parts.join("-") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_extension_or_content() {
        assert_eq!(detect_format(b"x", "a.MD"), Ok(Format::Markdown));
        assert_eq!(detect_format(b"%PDF-1.4", "scan"), Ok(Format::Pdf));
        assert_eq!(detect_format(b"<!DOCTYPE html><p>x", "page"), Ok(Format::Html));
        assert_eq!(detect_format(b"plain", "notes"), Ok(Format::Text));
        assert_eq!(
            detect_format(b"PK\x03\x04", "a.docx").map_err(|e| e.code().key()),
            Err("document_format_unsupported")
        );
    }

    #[test]
    fn parse_fills_metadata_and_versions_by_content() {
        let md = "# Guide des chiens détecteurs\n\nLes chiens détecteurs d'explosifs protègent les espaces publics et les gares.\n";
        let mut opts = IngestOptions::new("org-a");
        opts.tags = vec!["chiens".into(), "chiens".into()];
        let a = parse(md.as_bytes(), "Guide chiens.md", opts.clone()).unwrap();
        assert_eq!(a.document.id, "guide-chiens");
        assert_eq!(slug("dir/Plan d'action.pdf-extraction.txt"), "plan-d-action-pdf-extraction");
        assert_eq!(a.document.title, "Guide des chiens détecteurs");
        assert_eq!(a.document.language, Lang::Fr);
        assert_eq!(a.document.marking, Marking::Clear);
        assert_eq!(a.document.tags, vec!["chiens"]);
        assert_eq!(a.passages[0].heading_path, vec!["Guide des chiens détecteurs"]);
        let again = parse(md.as_bytes(), "Guide chiens.md", opts.clone()).unwrap();
        assert_eq!(change(Some(&a.version), &again.version), IngestChange::Unchanged);
        let edited = parse(format!("{md}\nUne phrase de plus.").as_bytes(), "Guide chiens.md", opts).unwrap();
        assert_eq!(change(Some(&a.version), &edited.version), IngestChange::NewVersion);
        assert_eq!(change(None, &edited.version), IngestChange::New);
    }

    #[test]
    fn unreadable_inputs_are_clear_errors() {
        let opts = IngestOptions::new("o");
        assert_eq!(
            parse(&[0xff, 0xfe, 0x00], "a.txt", opts.clone()).map_err(|e| e.code().key()),
            Err("document_unreadable")
        );
        assert_eq!(parse(b"   \n\n", "a.md", opts.clone()).map_err(|e| e.code().key()), Err("document_unreadable"));
        assert_eq!(parse(b"%PDF-1.4 garbage", "a.pdf", opts).map_err(|e| e.code().key()), Err("document_unreadable"));
    }

    #[test]
    fn html_documents_take_their_title_and_structure() {
        let html = "<html><head><title>Guide</title></head><body><h1>Périmètre</h1><p>Les barrières anti-bélier protègent la place.</p></body></html>";
        let p = parse(html.as_bytes(), "guide.html", IngestOptions::new("o")).unwrap();
        assert_eq!(p.document.title, "Guide");
        assert_eq!(p.passages[0].heading_path, vec!["Périmètre"]);
        assert_eq!(p.version.format, Format::Html);
    }
}
