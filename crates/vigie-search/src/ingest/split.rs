//! Blocks to passages: each passage carries its heading path; short paragraphs under the same
//! heading are merged, long ones split at sentence ends, lists and tables kept whole when
//! they fit.
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::blocks::Block;
use crate::{Passage, PassageKind};

/// Paragraphs shorter than this are merged with the next one under the same heading.
const MERGE_BELOW: usize = 400;
/// Upper bound for a passage of prose, split at a sentence end beyond it.
const MAX_PROSE: usize = 1500;
/// A table up to this size stays one passage; a larger one is cut by rows, header repeated.
const MAX_TABLE: usize = 2500;

pub fn passages(document_id: &str, blocks: Vec<Block>) -> Vec<Passage> {
    let mut out = Splitter {
        document_id,
        headings: Vec::new(),
        pending: String::new(),
        passages: Vec::new(),
        seen: HashMap::new(),
    };
    for block in blocks {
        match block {
            Block::Heading { level, text } => {
                out.flush();
                out.headings.retain(|(l, _)| *l < level);
                out.headings.push((level, text));
            }
            Block::Paragraph(text) => {
                if !out.pending.is_empty() && out.pending.len() + text.len() > MAX_PROSE {
                    out.flush();
                }
                if !out.pending.is_empty() {
                    out.pending.push('\n');
                }
                out.pending.push_str(&text);
                if out.pending.len() >= MERGE_BELOW {
                    out.flush();
                }
            }
            Block::List(items) => {
                // A short lead-in ("Les mesures sont :") belongs with its list.
                let lead = if out.pending.trim_end().ends_with(':') {
                    std::mem::take(&mut out.pending)
                } else {
                    String::new()
                };
                out.flush();
                let list = items.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n");
                let text = if lead.is_empty() { list } else { format!("{lead}\n{list}") };
                out.emit(PassageKind::List, text);
            }
            Block::Table(rows) => {
                out.flush();
                let lines: Vec<String> = rows
                    .iter()
                    .map(|r| r.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(" | "))
                    .collect();
                let total: usize = lines.iter().map(|l| l.len() + 1).sum();
                if total <= MAX_TABLE || lines.len() < 3 {
                    out.emit(PassageKind::Table, lines.join("\n"));
                } else if let Some((header, rows)) = lines.split_first() {
                    let mut chunk = header.clone();
                    for line in rows {
                        if chunk.len() + line.len() > MAX_TABLE && chunk.len() > header.len() {
                            out.emit(PassageKind::Table, std::mem::replace(&mut chunk, header.clone()));
                        }
                        chunk.push('\n');
                        chunk.push_str(line);
                    }
                    out.emit(PassageKind::Table, chunk);
                }
            }
        }
    }
    out.flush();
    out.passages
}

struct Splitter<'a> {
    document_id: &'a str,
    headings: Vec<(usize, String)>,
    pending: String,
    passages: Vec<Passage>,
    seen: HashMap<String, u32>,
}

impl Splitter<'_> {
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.pending);
        for chunk in split_long(&text) {
            self.emit(PassageKind::Paragraph, chunk);
        }
    }

    fn emit(&mut self, kind: PassageKind, text: String) {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return;
        }
        let digest = Sha256::digest(format!("{}\0{}", self.document_id, text).as_bytes());
        let base = format!("p-{}", &hex::encode(digest)[..16]);
        // The same text twice in one document (a repeated table header) still needs two ids.
        let n = self.seen.entry(base.clone()).or_default();
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}-{n}") };
        self.passages.push(Passage {
            id: id.into(),
            document_id: self.document_id.into(),
            ordinal: u32::try_from(self.passages.len()).unwrap_or(u32::MAX),
            heading_path: self.headings.iter().map(|(_, h)| h.clone()).collect(),
            kind,
            text,
        });
    }
}

/// Cuts prose longer than `MAX_PROSE` at sentence ends.
fn split_long(text: &str) -> Vec<String> {
    if text.len() <= MAX_PROSE {
        return vec![text.to_owned()];
    }
    let mut chunks = Vec::new();
    let mut current = String::new();
    for sentence in sentences(text) {
        if !current.is_empty() && current.len() + sentence.len() > MAX_PROSE * 2 / 3 {
            chunks.push(std::mem::take(&mut current));
        }
        current.push_str(sentence);
    }
    if !current.trim().is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Sentences with their trailing space; a sentence ends at `. ` / `? ` / `! ` followed by a
/// capital letter, a quote or a line break.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for window in chars.windows(3) {
        let &[(_, c), (_, space), (next_at, next)] = window else { continue };
        if matches!(c, '.' | '?' | '!' | ';')
            && (space == ' ' || space == '\n')
            && (next.is_uppercase() || next == '«' || space == '\n')
        {
            out.push(&text[start..next_at]);
            start = next_at;
        }
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading(level: usize, text: &str) -> Block {
        Block::Heading { level, text: text.into() }
    }

    #[test]
    fn passages_carry_heading_paths_and_merge_short_paragraphs() {
        let blocks = vec![
            heading(1, "I. INTRODUCTION"),
            Block::Paragraph("Court.".into()),
            Block::Paragraph("Aussi court.".into()),
            heading(2, "A. Détail"),
            Block::Paragraph("Sous-section.".into()),
            heading(1, "II. SUITE"),
            Block::Table(vec![vec!["Objectif".into(), "Délai".into()], vec!["Chiens".into(), "2018".into()]]),
        ];
        let ps = passages("doc", blocks);
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].text, "Court.\nAussi court.");
        assert_eq!(ps[0].heading_path, vec!["I. INTRODUCTION"]);
        assert_eq!(ps[1].heading_path, vec!["I. INTRODUCTION", "A. Détail"]);
        assert_eq!(ps[2].heading(), "II. SUITE");
        assert_eq!((ps[2].kind, ps[2].text.as_str()), (PassageKind::Table, "Objectif | Délai\nChiens | 2018"));
    }

    #[test]
    fn long_prose_is_cut_at_sentence_ends() {
        let sentence =
            "La protection des espaces publics demande une coopération étroite entre tous les acteurs concernés. ";
        let ps = passages("doc", vec![Block::Paragraph(sentence.repeat(40))]);
        assert!(ps.len() > 1);
        for p in &ps {
            assert!(p.text.len() <= MAX_PROSE && p.text.ends_with('.'), "{}", p.text);
        }
    }

    #[test]
    fn ids_are_stable_and_unique() {
        let blocks = || {
            vec![
                Block::Paragraph("Même texte assez long pour être seul. ".repeat(12)),
                Block::Paragraph("Même texte assez long pour être seul. ".repeat(12)),
            ]
        };
        let a = passages("doc", blocks());
        let b = passages("doc", blocks());
        assert_eq!(a, b);
        assert_ne!(a[0].id, a[1].id);
        assert_ne!(passages("other", blocks())[0].id, a[0].id);
    }
}
