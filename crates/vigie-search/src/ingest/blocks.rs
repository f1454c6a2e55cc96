//! A document as a sequence of structural blocks, and the Markdown reader that produces them.
//! HTML is first turned into the same Markdown-like lines, so one reader serves both.
use super::inline;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading {
        level: usize,
        text: String,
    },
    Paragraph(String),
    /// Consecutive list items, kept together so a list reads as one passage.
    List(Vec<String>),
    /// Rows of cells.
    Table(Vec<Vec<String>>),
}

/// Numbered or all-capital short lines that open a section in documents without markup:
/// `I. INTRODUCTION`, `A. Contexte général`, `1.2 Objectifs`, `CONCLUSIONS`.
/// Returns the heading level.
pub fn heading_level(line: &str) -> Option<usize> {
    heading(line).map(|(level, _)| level)
}

/// The heading level and whether the line is numbered.
pub fn heading(line: &str) -> Option<(usize, bool)> {
    let line = line.trim();
    let words = line.split_whitespace().count();
    if line.len() > 140 || words > 16 || words == 0 || line.ends_with([',', ';', ':', '.']) {
        return None;
    }
    let (number, rest) = line.split_once(' ').unwrap_or(("", line));
    let rest = rest.trim_start();
    let starts_upper = rest.chars().next().is_some_and(|c| c.is_uppercase());
    let number = number.trim_end_matches(['.', ')']);
    let punctuated = line.split_once(' ').is_some_and(|(n, _)| n.ends_with(['.', ')']));
    let roman = !number.is_empty() && number.chars().all(|c| matches!(c, 'I' | 'V' | 'X' | 'L'));
    let letter = number.len() == 1 && number.chars().all(|c| c.is_ascii_uppercase());
    let decimal = !number.is_empty()
        && number.split('.').all(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()));
    if starts_upper && punctuated && roman {
        Some((1, true))
    } else if starts_upper && punctuated && letter {
        Some((2, true))
    } else if starts_upper && decimal && (punctuated || number.contains('.')) {
        Some((2 + number.matches('.').count(), true))
    } else {
        let letters: Vec<char> = line.chars().filter(|c| c.is_alphabetic()).collect();
        let upper = letters.iter().filter(|c| c.is_uppercase()).count();
        // One capitalised word is more often an acronym in the flow (EMPACT) than a title.
        let long_enough = words >= 2 || letters.len() >= 10;
        (letters.len() >= 6 && long_enough && upper * 10 >= letters.len() * 9 && words <= 12).then_some((1, false))
    }
}

fn is_table_row(line: &str) -> bool {
    line.contains('\t') || line.trim_start().starts_with('|')
}

fn table_cells(line: &str) -> Option<Vec<String>> {
    let trimmed = line.trim();
    if trimmed.starts_with('|') {
        let inner = trimmed.trim_matches('|');
        // `|---|:--:|` separates the header from the body.
        if inner.chars().all(|c| matches!(c, '-' | ':' | '|' | ' ')) {
            return None;
        }
        return Some(inner.split('|').map(|c| clean_md(c.trim())).collect());
    }
    Some(line.split('\t').map(|c| clean_md(c.trim())).collect())
}

fn list_item(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for bullet in ["- ", "* ", "+ ", "• ", "– "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            return Some(rest);
        }
    }
    None
}

fn clean_md(text: &str) -> String {
    inline::clean(&inline::strip_markdown(text))
}

/// Reads Markdown (ATX headings, paragraphs, lists, pipe or tab tables). Single-line
/// paragraphs that look like numbered section titles become headings too, since converted
/// documents often lose their heading markup.
pub fn from_markdown(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let flush_para = |para: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if para.is_empty() {
            return;
        }
        let joined = clean_md(&para.join(" "));
        match heading_level(&joined) {
            Some(level) if para.len() == 1 => blocks.push(Block::Heading { level, text: joined }),
            _ if !joined.is_empty() => blocks.push(Block::Paragraph(joined)),
            _ => {}
        }
        para.clear();
    };
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if !table.is_empty() && !is_table_row(line) {
            // A blank line inside a table is tolerated when the table goes on after it.
            let next_is_row = trimmed.is_empty() && lines.get(i + 1).is_some_and(|l| is_table_row(l));
            if !next_is_row {
                blocks.push(Block::Table(std::mem::take(&mut table)));
            }
            if trimmed.is_empty() {
                continue;
            }
        }
        if trimmed.is_empty() {
            flush_para(&mut para, &mut blocks);
            if !list.is_empty() {
                blocks.push(Block::List(std::mem::take(&mut list)));
            }
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            flush_para(&mut para, &mut blocks);
            if !list.is_empty() {
                blocks.push(Block::List(std::mem::take(&mut list)));
            }
            let text = clean_md(&trimmed[hashes..]);
            if !text.is_empty() {
                blocks.push(Block::Heading { level: hashes, text });
            }
            continue;
        }
        if is_table_row(line) {
            flush_para(&mut para, &mut blocks);
            if let Some(cells) = table_cells(line) {
                // A row starting with an empty cell continues the previous row's cells.
                match table.last_mut() {
                    Some(prev) if cells.first().is_some_and(|c| c.is_empty()) => {
                        for (k, cell) in cells.into_iter().enumerate().skip(1) {
                            if let Some(target) = prev.get_mut(k)
                                && !cell.is_empty()
                            {
                                target.push(' ');
                                target.push_str(&cell);
                            }
                        }
                    }
                    _ => table.push(cells),
                }
            }
            continue;
        }
        if let Some(item) = list_item(line) {
            flush_para(&mut para, &mut blocks);
            list.push(clean_md(item));
            continue;
        }
        if !list.is_empty() && line.starts_with([' ', '\t']) {
            if let Some(last) = list.last_mut() {
                last.push(' ');
                last.push_str(&clean_md(trimmed));
            }
            continue;
        }
        if !list.is_empty() {
            blocks.push(Block::List(std::mem::take(&mut list)));
        }
        para.push(trimmed);
    }
    flush_para(&mut para, &mut blocks);
    if !list.is_empty() {
        blocks.push(Block::List(list));
    }
    if !table.is_empty() {
        blocks.push(Block::Table(table));
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_titles_are_headings_sentences_are_not() {
        assert_eq!(heading_level("I. INTRODUCTION"), Some(1));
        assert_eq!(heading_level("IV. PARTICIPATION DES ACTEURS LOCAUX ET DU SECTEUR PRIVÉ"), Some(1));
        assert_eq!(heading_level("A. Contexte général"), Some(2));
        assert_eq!(heading_level("1. Un environnement de sécurité à l’épreuve du temps"), Some(2));
        assert_eq!(heading_level("2.1 Objectifs"), Some(3));
        assert_eq!(heading_level("CONCLUSIONS"), Some(1));
        assert_eq!(
            heading_level("Les cibles sont souvent choisies dans l'intention de faire un grand nombre de victimes."),
            None
        );
        assert_eq!(heading_level("2018."), None);
        assert_eq!(heading_level("EMPACT"), None);
        assert_eq!(heading_level("35 000 pharmacies illégales actives en ligne"), None);
    }

    #[test]
    fn markdown_blocks() {
        let md = "# Titre\n\nUn **paragraphe**\nsur deux lignes.\n\n- un\n- deux\n\nObjectif\tAction\tDélai\nA\tB\tC\n\nII. SUITE\n\nFin.";
        let blocks = from_markdown(md);
        assert_eq!(
            blocks,
            vec![
                Block::Heading { level: 1, text: "Titre".into() },
                Block::Paragraph("Un paragraphe sur deux lignes.".into()),
                Block::List(vec!["un".into(), "deux".into()]),
                Block::Table(vec![
                    vec!["Objectif".into(), "Action".into(), "Délai".into()],
                    vec!["A".into(), "B".into(), "C".into()]
                ]),
                Block::Heading { level: 1, text: "II. SUITE".into() },
                Block::Paragraph("Fin.".into()),
            ]
        );
    }

    #[test]
    fn pipe_tables_skip_the_separator_row() {
        let blocks = from_markdown("| a | b |\n|---|---|\n| 1 | 2 |");
        assert_eq!(blocks, vec![Block::Table(vec![vec!["a".into(), "b".into()], vec!["1".into(), "2".into()]])]);
    }
}
