//! Turns text extracted from PDF (or plain text) back into paragraphs: page headers and
//! footers repeated across pages are dropped, footnotes are set apart, lone footnote calls
//! and page numbers are removed, words hyphenated at line ends are rejoined and broken
//! lines are reflowed.
use std::collections::{HashMap, HashSet};

use super::blocks::{Block, heading};
use super::inline;

/// `pages` are the page texts (a single element when page breaks are unknown).
pub fn reflow(pages: &[String]) -> Vec<Block> {
    let lines = drop_running_lines(pages);
    let blank = lines.iter().filter(|l| l.trim().is_empty()).count();
    // Some extractors put a blank line after every line: blank lines then mean nothing.
    let double_spaced = blank * 10 >= (lines.len() - blank) * 6;
    let typical = typical_width(&lines);
    let hyphenated = hyphenated_words(&lines);

    let mut blocks = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut para = Paragraph::default();
    let mut in_notes = false;
    let mut last_was_heading = false;
    let mut prev_tight = false;
    for line in &lines {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if line.len() >= 20 {
                // A long run of spaces is the rule above a page's footnotes.
                in_notes = true;
            } else if !double_spaced && !in_notes {
                para.flush(&mut blocks);
            }
            continue;
        }
        if in_notes {
            // Pages start with one leading space in this extraction style; footnotes do not.
            let page_start = line.starts_with(' ') && !line.starts_with("  ");
            if !page_start {
                if is_url(trimmed) {
                    continue;
                }
                match footnote_start(trimmed) {
                    Some(_) => notes.push(trimmed.to_owned()),
                    None => match notes.last_mut() {
                        Some(last) => join_into(last, trimmed, &hyphenated),
                        None => notes.push(trimmed.to_owned()),
                    },
                }
                continue;
            }
            in_notes = false;
        }
        if trimmed.len() <= 3 && trimmed.chars().all(|c| c.is_ascii_digit()) {
            // A footnote call or a page number on a line of its own.
            para.glue = true;
            continue;
        }
        // Body lines end with a space in this extraction style; a line ending tight against
        // a word was followed by a superscript: `dollars` / `40. Alors`.
        let trimmed = match leading_call(trimmed).filter(|_| prev_tight) {
            Some(rest) => {
                para.glue = true;
                rest
            }
            None => trimmed,
        };
        prev_tight = !line.ends_with(char::is_whitespace);
        if let Some((level, numbered)) = heading(trimmed).filter(|_| para.ended()) {
            para.flush(&mut blocks);
            match blocks.last_mut() {
                // A long title wraps: its capitalised second line continues it.
                Some(Block::Heading { text, .. }) if !numbered && last_was_heading => {
                    text.push(' ');
                    text.push_str(&inline::clean(trimmed));
                }
                _ => blocks.push(Block::Heading { level, text: inline::clean(trimmed) }),
            }
            last_was_heading = true;
            continue;
        }
        last_was_heading = false;
        if para.breaks_before(trimmed, typical) {
            para.flush(&mut blocks);
        }
        para.push(trimmed, &hyphenated);
    }
    para.flush(&mut blocks);
    if !notes.is_empty() {
        blocks.push(Block::Heading { level: 1, text: "Notes".to_owned() });
        blocks.extend(notes.iter().map(|n| Block::Paragraph(inline::clean(n))));
    }
    blocks
}

#[derive(Default)]
struct Paragraph {
    text: String,
    last_line_len: usize,
    /// The previous line was a footnote call: what follows continues the sentence.
    glue: bool,
}

impl Paragraph {
    fn ended(&self) -> bool {
        self.text.is_empty() || ends_sentence(&self.text)
    }

    fn breaks_before(&self, next: &str, typical: usize) -> bool {
        if self.text.is_empty() || self.glue {
            return false;
        }
        let bullet = next.starts_with(['•', '–', '-', '▪', '\u{f0b7}']);
        let starts_new = next.chars().next().is_some_and(|c| c.is_uppercase() || c == '«');
        bullet || (ends_sentence(&self.text) && starts_new && self.last_line_len * 10 < typical * 8)
    }

    fn push(&mut self, line: &str, hyphenated: &HashSet<String>) {
        if self.text.is_empty() {
            self.text.push_str(line);
        } else {
            join_into(&mut self.text, line, hyphenated);
        }
        self.last_line_len = line.chars().count();
        self.glue = false;
    }

    fn flush(&mut self, blocks: &mut Vec<Block>) {
        let text = inline::clean(&self.text);
        if !text.is_empty() {
            blocks.push(Block::Paragraph(text));
        }
        *self = Paragraph::default();
    }
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '!', '?', ':', '»', ';'])
}

/// Appends a line to text: rejoins words cut by a hyphen at the line end (unless the
/// hyphenated form is a real compound seen elsewhere in the document) and does not put a
/// space before closing punctuation.
fn join_into(text: &mut String, line: &str, hyphenated: &HashSet<String>) {
    let trimmed_len = text.trim_end().len();
    text.truncate(trimmed_len);
    let cut = text.ends_with('-') && text[..text.len() - 1].chars().last().is_some_and(|c| c.is_alphabetic());
    let next_lower = line.chars().next().is_some_and(|c| c.is_lowercase());
    if cut && next_lower {
        let head = text
            .rsplit(|c: char| !c.is_alphabetic() && c != '-')
            .next()
            .unwrap_or("")
            .trim_end_matches('-')
            .to_lowercase();
        let tail: String = line.chars().take_while(|c| c.is_alphabetic()).collect::<String>().to_lowercase();
        if !hyphenated.contains(&format!("{head}-{tail}")) {
            text.pop();
        }
        text.push_str(line);
    } else if line.starts_with([',', '.', ';', ':', ')', ']']) || text.ends_with(['(', '[', '’', '\'']) {
        text.push_str(line);
    } else {
        text.push(' ');
        text.push_str(line);
    }
}

/// Hyphenated compounds written inside lines (`voiture-bélier`): their line-end cuts keep
/// the hyphen.
fn hyphenated_words(lines: &[String]) -> HashSet<String> {
    let mut set = HashSet::new();
    for line in lines {
        for word in line.split(|c: char| !c.is_alphabetic() && c != '-') {
            let w = word.trim_matches('-');
            if w.contains('-') {
                set.insert(w.to_lowercase());
            }
        }
    }
    set
}

fn typical_width(lines: &[String]) -> usize {
    let mut widths: Vec<usize> = lines.iter().map(|l| l.trim().chars().count()).filter(|&w| w > 0).collect();
    widths.sort_unstable();
    widths.get(widths.len() * 9 / 10).copied().unwrap_or(80).max(20)
}

fn is_url(line: &str) -> bool {
    !line.contains(' ') && (line.starts_with("http://") || line.starts_with("https://") || line.starts_with("www."))
}

/// `40. Alors` → `. Alors`: a footnote call at the start of a line, before punctuation.
fn leading_call(line: &str) -> Option<&str> {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    let rest = &line[digits..];
    ((1..=3).contains(&digits) && rest.starts_with(['.', ',', ';', ':', ')'])).then_some(rest)
}

fn footnote_start(line: &str) -> Option<&str> {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    (1..=3).contains(&digits).then(|| &line[digits..]).filter(|rest| rest.starts_with(' ') || rest.is_empty())
}

/// Lines that open or close most pages, digits ignored (`FR 3 FR`, `Page 2 / 9`), are
/// running headers or footers.
fn drop_running_lines(pages: &[String]) -> Vec<String> {
    let key = |l: &str| l.trim().chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect::<String>();
    let edges = |page: &String| -> Vec<String> {
        let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
        let n = lines.len();
        let mut e: Vec<String> =
            lines.iter().take(2).chain(lines.iter().skip(n.saturating_sub(2))).map(|l| key(l)).collect();
        e.sort();
        e.dedup();
        e
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for page in pages {
        for k in edges(page) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let running: HashSet<String> = counts
        .into_iter()
        .filter(|(k, n)| pages.len() >= 3 && *n * 2 >= pages.len() && *n >= 3 && k.len() <= 100)
        .map(|(k, _)| k)
        .collect();
    pages
        .iter()
        .flat_map(|p| p.lines().filter(|l| !running.contains(&key(l))).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paragraphs(pages: &[&str]) -> Vec<Block> {
        reflow(&pages.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn broken_lines_hyphens_and_footnote_calls_are_repaired() {
        let text = "I. INTRODUCTION DES ESPACES\n\nPUBLICS ET PRIVÉS\n\nLes espaces publics sont régulièrement visés par des attaques terroristes qui exploitent\n\n\
                    leur vulnérabilité. Une approche inter-\n\nnationale est utile, comme la lettre d’intention\n\n2\n\n adressée au Parlement\n\n\
                    européen\n4\n, du Conseil, soit 100 dollars\n40. Puis en 2017 \n\n2018. Les attaques à la voiture-\n\nbélier et à la voiture-bélier sont citées.\n\n";
        let blocks = paragraphs(&[text]);
        assert_eq!(
            blocks[0],
            Block::Heading { level: 1, text: "I. INTRODUCTION DES ESPACES PUBLICS ET PRIVÉS".into() }
        );
        let Block::Paragraph(p) = &blocks[1] else { panic!("{blocks:?}") };
        assert!(p.contains("qui exploitent leur vulnérabilité"), "{p}");
        assert!(p.contains("internationale"), "{p}");
        assert!(p.contains("d’intention adressée au Parlement européen, du Conseil"), "{p}");
        assert!(p.contains("voiture-bélier et"), "{p}");
        assert!(!p.contains("40") && p.contains("dollars. Puis en 2017 2018."), "{p}");
    }

    #[test]
    fn footnotes_are_set_apart_and_page_resumes() {
        let text = "Texte de la page qui continue\n                              \n1 Europol, rapport\n\nde 2017.\nhttps://europol.eu/x\n suite du texte.\n";
        let blocks = paragraphs(&[text]);
        assert_eq!(
            blocks,
            vec![
                Block::Paragraph("Texte de la page qui continue suite du texte.".into()),
                Block::Heading { level: 1, text: "Notes".into() },
                Block::Paragraph("1 Europol, rapport de 2017.".into()),
            ]
        );
    }

    #[test]
    fn running_headers_and_footers_are_dropped() {
        let pages: Vec<String> = (1..=4)
            .map(|i| {
                format!(
                    "COM(2017) 612 final\nDébut {i} du texte.\nTexte {i} de la page.\nSuite {i} du texte.\n\nFR {i} FR"
                )
            })
            .collect();
        let blocks = reflow(&pages);
        let all = format!("{blocks:?}");
        assert!(!all.contains("612 final") && !all.contains("FR 2 FR"), "{all}");
        assert!(all.contains("Texte 3 de la page."));
    }
}
