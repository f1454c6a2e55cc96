//! Ingests the real demo library (data/demo/library) and checks the examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly

use std::path::PathBuf;

use vigie_search::demo::DEMO_LIBRARY;
use vigie_search::ingest::IngestChange;
use vigie_search::{Access, IngestOptions, LibraryIndex, Marking, ParsedDocument, SearchQuery, SearchResults, parse};

fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/library")
}

fn corpus() -> Vec<ParsedDocument> {
    DEMO_LIBRARY
        .iter()
        .map(|e| {
            let bytes = std::fs::read(library_dir().join(e.filename)).unwrap();
            parse(&bytes, e.filename, e.options("eu")).unwrap()
        })
        .collect()
}

fn index_of(docs: &[ParsedDocument]) -> LibraryIndex {
    LibraryIndex::in_ram_from(docs).unwrap()
}

/// A reader of every document: which documents a user reads is the application's decision
/// (`vigie_domain::sharing::may_read`); the index only applies it.
fn reader() -> Access {
    Access::everything()
}

fn search(index: &LibraryIndex, text: &str) -> SearchResults {
    index.search(&SearchQuery::new(text), &reader()).unwrap()
}

const ACTION_PLAN: &str = "com-2017-612-plan-action-espaces-publics";

#[test]
fn explosive_detection_dogs_find_the_action_plan_first_in_french_and_english() {
    let index = index_of(&corpus());
    for q in ["chiens détecteurs d'explosifs", "explosive detection dogs", "sniffer dogs"] {
        let r = search(&index, q);
        let first = &r.results[0];
        assert!(first.document_id.starts_with(ACTION_PLAN), "{q}: {first:?}");
        assert!(first.snippet.contains("<mark>chiens</mark> <mark>détecteurs</mark>"), "{q}: {}", first.snippet);
        assert!(first.heading.starts_with("III."), "{q}: {}", first.heading);
    }
}

#[test]
fn accents_elisions_typos_and_phrases() {
    let index = index_of(&corpus());
    let r = search(&index, "securite");
    assert!(
        r.total > 50 && r.results[0].snippet.to_lowercase().contains("<mark>sécurité</mark>"),
        "{:?}",
        r.results[0]
    );

    let r = search(&index, "l'arme");
    assert!(r.results[0].snippet.contains("<mark>arme"), "{:?}", r.results[0]);
    let r = search(&index, "l'arme blanche");
    assert!(r.results[0].snippet.contains("<mark>arme</mark> <mark>blanche</mark>"), "{:?}", r.results[0]);

    let r = search(&index, "chiens détecteurs d'explosfs");
    assert!(r.results[0].document_id.starts_with(ACTION_PLAN));
    let r = search(&index, "explosfs");
    assert!(r.total > 0 && r.results[0].snippet.contains("<mark>explosifs</mark>"), "{:?}", r.results.first());

    let loose = search(&index, "réseau praticiens");
    let phrase = search(&index, "\"réseaux de praticiens\"");
    assert!(phrase.total > 0 && phrase.total < loose.total, "{} vs {}", phrase.total, loose.total);
    // Stemmed: the phrase also matches "réseau de praticiens".
    assert!(
        phrase.results.iter().all(|h| h.snippet.contains("</mark> de <mark>praticiens</mark>")),
        "{:?}",
        phrase.results
    );
}

#[test]
fn the_two_extractions_of_the_action_plan_are_near_duplicates_and_collapse() {
    let index = index_of(&corpus());
    let dups = index.duplicates();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0].a, ACTION_PLAN);
    assert_eq!(dups[0].b, format!("{ACTION_PLAN}-pdf-extraction"));
    let r = index
        .search(&SearchQuery { limit: 50, ..SearchQuery::new("chiens détecteurs d'explosifs") }, &reader())
        .unwrap();
    let plans: std::collections::HashSet<&str> =
        r.results.iter().map(|h| h.document_id.as_str()).filter(|d| d.starts_with(ACTION_PLAN)).collect();
    assert_eq!(plans.len(), 1, "one result document for the pair: {plans:?}");
}

#[test]
fn amber_document_of_org_b_is_never_returned_nor_counted_for_org_a() {
    let mut docs = corpus();
    let mut o = IngestOptions::new("org-b");
    o.document_id = Some("note-gare".into());
    o.marking = Marking::parse("TLP:AMBER").unwrap();
    let note = "# Note interne\n\nLes chiens détecteurs d'explosifs de la gare centrale ne patrouillent pas le dimanche matin.";
    docs.push(parse(note.as_bytes(), "note.md", o).unwrap());
    let index = index_of(&docs);
    let q = SearchQuery { limit: 100, ..SearchQuery::new("chiens détecteurs d'explosifs dimanche gare") };
    let without = index_of(&docs[..docs.len() - 1]).search(&q, &reader()).unwrap();
    let org_a = Access::documents(docs[..docs.len() - 1].iter().map(|d| d.document.id.to_string()));
    let a = index.search(&q, &org_a).unwrap();
    assert!(a.results.iter().all(|h| h.document_id != "note-gare"));
    assert_eq!(a.total, without.total, "counts must not reveal the hidden document");
    let b = index.search(&q, &reader()).unwrap();
    assert_eq!(b.results[0].document_id, "note-gare");
    assert_eq!(b.total, a.total + 1);
}

#[test]
fn filters_by_tag_language_date_and_marking() {
    let index = index_of(&corpus());
    let mut q = SearchQuery::new("sécurité");
    q.tags = vec!["un".into()];
    let r = index.search(&q, &reader()).unwrap();
    assert!(!r.results.is_empty() && r.results.iter().all(|h| h.document_id.starts_with("cted")));
    q.tags.clear();
    q.date_from = vigie_search::parse_date("2020-01-01").ok();
    q.date_to = vigie_search::parse_date("2020-12-31").ok();
    q.limit = 100;
    let r = index.search(&q, &reader()).unwrap();
    assert!(r.results.iter().all(|h| h.document_id.starts_with("com-2020") || h.document_id.starts_with("ip-20")));
    q.markings = vec![Marking::Red];
    assert_eq!(index.search(&q, &reader()).unwrap().total, 0);
    q.markings.clear();
    q.language = Some(vigie_search::Lang::En);
    assert_eq!(index.search(&q, &reader()).unwrap().total, 0);
}

#[test]
fn reingest_is_idempotent_and_the_index_rebuilds_from_stored_records() {
    let docs = corpus();
    let again = corpus();
    for (a, b) in docs.iter().zip(&again) {
        assert_eq!(vigie_search::ingest::change(Some(&a.version), &b.version), IngestChange::Unchanged);
        assert_eq!(a.passages, b.passages);
    }
    // What the store keeps: plain JSON records, read back to rebuild the index on disk.
    let stored =
        serde_json::to_string(&docs.iter().map(|d| (&d.document, &d.version, &d.passages)).collect::<Vec<_>>())
            .unwrap();
    let back: Vec<(vigie_search::Document, vigie_search::DocumentVersion, Vec<vigie_search::Passage>)> =
        serde_json::from_str(&stored).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rebuilt =
        LibraryIndex::rebuild(Some(&dir.path().join("index")), back.iter().map(|(d, v, p)| (d, v, p.as_slice())))
            .unwrap();
    let fresh = index_of(&docs);
    let q = "protection des espaces publics";
    let ids = |r: SearchResults| r.results.into_iter().map(|h| h.passage_id).collect::<Vec<_>>();
    assert_eq!(ids(search(&rebuilt, q)), ids(search(&fresh, q)));
    assert_eq!(rebuilt.passage_count().unwrap(), docs.iter().map(|d| d.passages.len()).sum::<usize>());
}

#[test]
fn pdf_extraction_noise_is_cleaned() {
    let docs = corpus();
    let pdf = docs
        .iter()
        .find(|d| d.document.id.ends_with("pdf-extraction") && d.document.id.starts_with("com-2017"))
        .unwrap();
    let all: String = pdf
        .passages
        .iter()
        .filter(|p| p.heading_path.first().is_none_or(|h| h != "Notes"))
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("affichée dans les contenus à caractère terroriste publiés sur Internet."),
        "footnote call glued back"
    );
    assert!(all.contains("la lettre d’intention adressée au Parlement européen"));
    assert!(!all.contains("https://www.europol.europa.eu/%20newsroom"), "footnote links are not body text");
    let notes = pdf.passages.iter().filter(|p| p.heading_path == ["Notes"]).count();
    assert!(notes >= 3);
    let headings: std::collections::BTreeSet<String> =
        pdf.passages.iter().filter_map(|p| p.heading_path.first().cloned()).collect();
    assert!(
        headings.contains("II. FINANCEMENT DE L’UE EN FAVEUR DE LA PROTECTION DES ESPACES PUBLICS"),
        "{headings:?}"
    );
}

/// A one-font PDF with a text layer, one content stream per page (WinAnsi, Helvetica).
fn minimal_pdf(pages: &[&[&str]]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let n = pages.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    for (i, lines) in pages.iter().enumerate() {
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", 5 + 2 * i).into_bytes());
        let mut content = b"BT /F1 11 Tf 14 TL 60 780 Td\n".to_vec();
        for line in *lines {
            content.push(b'(');
            for c in line.chars() {
                match c {
                    '(' | ')' | '\\' => content.extend([b'\\', c as u8]),
                    _ => content.push(u8::try_from(u32::from(c)).unwrap_or(b'?')),
                }
            }
            content.extend(b") Tj T*\n");
        }
        content.extend(b"ET");
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend(content);
        stream.extend(b"\nendstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").into_bytes());
    }
    out.extend(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).into_bytes(),
    );
    out
}

#[test]
fn a_real_pdf_is_ingested_with_running_footers_and_hyphens_removed() {
    let footer = "Guide de test Vigie - diffusion libre";
    let p1: &[&str] = &[
        "I. PROTECTION DES ENTREES",
        "Les bornes anti-bélier protègent les entrées des espaces publics contre les",
        "attaques au véhicule. La sécurité des accès piétons demande une inter-",
        "vention coordonnée des exploitants.",
        footer,
    ];
    let p2: &[&str] = &[
        "II. CHIENS DETECTEURS",
        "Les chiens détecteurs d'explosifs sont déployés lors des grands événements et",
        "contrôlent les sacs aux entrées.",
        footer,
    ];
    let p3: &[&str] = &[
        "III. FORMATION",
        "Le personnel de sécurité suit une formation annuelle sur la détection des",
        "comportements suspects.",
        footer,
    ];
    let bytes = minimal_pdf(&[p1, p2, p3]);
    let doc = parse(&bytes, "guide.pdf", IngestOptions::new("org-a")).unwrap();
    assert_eq!(doc.version.format, vigie_search::Format::Pdf);
    assert_eq!(doc.document.language, vigie_search::Lang::Fr);
    let all: Vec<String> = doc.passages.iter().map(|p| format!("{} :: {}", p.heading(), p.text)).collect();
    let joined = all.join("\n");
    assert!(!joined.contains("diffusion libre"), "running footer dropped: {joined}");
    assert!(joined.contains("une intervention coordonnée"), "hyphen at line end rejoined: {joined}");
    assert!(joined.contains("II. CHIENS DETECTEURS :: Les chiens détecteurs d'explosifs sont déployés"), "{joined}");
    let index = index_of(&[doc]);
    let r = index.search(&SearchQuery::new("chiens"), &reader()).unwrap();
    assert_eq!(r.results[0].heading, "II. CHIENS DETECTEURS");
}

#[test]
fn unknown_markings_and_formats_are_clear_errors() {
    assert_eq!(Marking::parse("TLP:WHITE").map_err(|e| e.code().key()), Err("marking_invalid"));
    assert_eq!(
        parse(b"PK", "slides.pptx", IngestOptions::new("o")).map_err(|e| e.code().key()),
        Err("document_format_unsupported")
    );
}

#[test]
fn an_english_query_marks_only_the_glossary_phrases_found_whole() {
    // Regression: "vehicle barrier" returned a passage on data protection with "contre" and
    // "protection" marked, the words of the expansion "protection contre les véhicules".
    let index = index_of(&corpus());
    let r = search(&index, "vehicle barrier");
    let first = &r.results[0];
    assert!(first.snippet.contains("<mark>barrières</mark> de <mark>sécurité</mark>"), "{}", first.snippet);
    for hit in &r.results {
        assert!(!hit.snippet.contains("protection des données"), "{}", hit.snippet);
        assert!(!hit.snippet.contains("<mark>contre</mark>"), "{}", hit.snippet);
    }
}
