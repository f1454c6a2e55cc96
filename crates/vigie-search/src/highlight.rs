//! Snippets: the passage's densest window of query hits, HTML-escaped, hits wrapped in
//! `<mark>…</mark>`. Hits are found with the same analysers as the search, so `securite`
//! marks `sécurité`; typo-tolerant matches mark words one edit away.
use std::collections::HashSet;

use crate::Lang;
use crate::analysis::{Tok, analyzer, plain_analyzer, tokens};

/// What to mark in a passage.
#[derive(Debug, Default, Clone)]
pub struct Marks {
    /// Analysed (stemmed) words of the passage's language, marked wherever they occur.
    pub stems: HashSet<String>,
    /// Analysed word runs (quoted phrases, glossary expansions) marked only where the whole
    /// run occurs, one extra word allowed inside as the query allows: "protection contre les
    /// véhicules" must not mark "protection" in a passage on data protection.
    pub phrases: Vec<Vec<String>>,
    /// Folded words a hit may be one edit away from.
    pub fuzzy: Vec<String>,
}

pub fn snippet(text: &str, lang: Lang, marks: &Marks, max_chars: usize) -> String {
    let analysed = tokens(&mut analyzer(lang), text);
    let mut spans: Vec<(usize, usize)> =
        analysed.iter().filter(|t| marks.stems.contains(&t.text)).map(|t| (t.from, t.to)).collect();
    for run in &marks.phrases {
        spans.extend(phrase_hits(&analysed, run).map(|t| (t.from, t.to)));
    }
    if !marks.fuzzy.is_empty() {
        let plain: Vec<Tok> = tokens(&mut plain_analyzer(), text);
        spans.extend(
            plain.iter().filter(|t| marks.fuzzy.iter().any(|f| within_one_edit(f, &t.text))).map(|t| (t.from, t.to)),
        );
    }
    spans.sort_unstable();
    spans.dedup_by(|b, a| b.0 < a.1);
    let (start, end) = window(text, &spans, max_chars);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(from, to) in spans.iter().filter(|(f, t)| *f >= start && *t <= end) {
        escape_into(&mut out, &text[at..from]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[from..to]);
        out.push_str("</mark>");
        at = to;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

/// The tokens of every occurrence of `run` in `analysed`, allowing one extra token inside
/// (the slop the query gives glossary phrases).
fn phrase_hits<'a>(analysed: &'a [Tok], run: &'a [String]) -> impl Iterator<Item = &'a Tok> + 'a {
    let starts = analysed.iter().enumerate().filter(move |(_, t)| run.first() == Some(&t.text));
    starts.flat_map(move |(start, _)| {
        let mut matched: Vec<&Tok> = Vec::with_capacity(run.len());
        let mut skipped = false;
        let mut wanted = run.iter();
        let mut next = wanted.next();
        for tok in analysed.get(start..).unwrap_or_default() {
            let Some(word) = next else { break };
            if &tok.text == word {
                matched.push(tok);
                next = wanted.next();
            } else if skipped {
                break;
            } else {
                skipped = true;
            }
        }
        if next.is_none() { matched } else { Vec::new() }
    })
}

/// The byte range of at most `max_chars` characters holding the most hits, snapped to word
/// boundaries.
fn window(text: &str, spans: &[(usize, usize)], max_chars: usize) -> (usize, usize) {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len())).collect();
    if bounds.len() <= max_chars + 1 {
        return (0, text.len());
    }
    let width =
        |from: usize| bounds.get(bounds.partition_point(|&b| b < from) + max_chars).copied().unwrap_or(text.len());
    let best_start = spans
        .iter()
        .map(|&(from, _)| {
            // Start a little before the first hit so it reads in context.
            let lead =
                bounds.get(bounds.partition_point(|&b| b < from).saturating_sub(max_chars / 5)).copied().unwrap_or(0);
            let end = width(lead);
            (spans.iter().filter(|(f, t)| *f >= lead && *t <= end).count(), std::cmp::Reverse(lead))
        })
        .max()
        .map_or(0, |(_, std::cmp::Reverse(lead))| lead);
    let start = if best_start == 0 {
        0
    } else {
        text.get(best_start..).and_then(|rest| rest.find(' ')).map_or(best_start, |s| best_start + s + 1)
    };
    let end = width(start);
    let end = if end >= text.len() {
        text.len()
    } else {
        text.get(..end).and_then(|head| head.rfind(' ')).filter(|&e| e > start).unwrap_or(end)
    };
    (start, end)
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// A snippet as plain text for a terminal: hits in `[` `]`, the escapes of `escape_into` undone.
pub fn snippet_as_text(html: &str) -> String {
    html.replace("<mark>", "[")
        .replace("</mark>", "]")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        // Last, so that an escaped "&lt;" in the text ("&amp;lt;") stays "&lt;".
        .replace("&amp;", "&")
}

/// Damerau–Levenshtein distance ≤ 1 (one insertion, deletion, substitution or swap).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (a.get(prefix..).unwrap_or_default(), b.get(prefix..).unwrap_or_default());
    match (ra, rb) {
        ([], []) => true,
        ([_, rest_a @ ..], [_, rest_b @ ..]) if ra.len() == rb.len() => {
            let swapped = |(x, y): (&[char], &[char])| matches!((x, y), ([x1, x2, tail_x @ ..], [y1, y2, tail_y @ ..]) if x1 == y2 && x2 == y1 && tail_x == tail_y);
            rest_a == rest_b || swapped((ra, rb))
        }
        ([_, rest_a @ ..], _) if ra.len() > rb.len() => rest_a == rb,
        (_, [_, rest_b @ ..]) => ra == rest_b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_snippet_reads_as_plain_text_in_a_terminal() {
        // Regression: `vigie library search` printed "l&#39;Union" and "&amp;".
        let mut html = String::from("<mark>");
        escape_into(&mut html, "l'Union");
        html.push_str("</mark>");
        escape_into(&mut html, " & \"les <États>\" &lt;");
        assert_eq!(snippet_as_text(&html), "[l'Union] & \"les <États>\" &lt;");
    }

    fn marks(stems: &[&str], fuzzy: &[&str]) -> Marks {
        Marks {
            stems: stems.iter().map(|s| (*s).to_owned()).collect(),
            phrases: Vec::new(),
            fuzzy: fuzzy.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_phrase_is_marked_only_where_it_occurs_whole() {
        let run: Vec<String> =
            tokens(&mut analyzer(Lang::Fr), "protection contre les véhicules").into_iter().map(|t| t.text).collect();
        let only_run = Marks { phrases: vec![run], ..Marks::default() };
        let data = "la protection des données contre la fraude";
        assert_eq!(snippet(data, Lang::Fr, &only_run, 200), data);
        assert_eq!(
            snippet("une protection efficace contre des véhicules", Lang::Fr, &only_run, 200),
            "une <mark>protection</mark> efficace <mark>contre</mark> des <mark>véhicules</mark>"
        );
        let far = "protection efficace et durable contre des véhicules";
        assert_eq!(snippet(far, Lang::Fr, &only_run, 200), far);
    }

    #[test]
    fn marks_hits_and_escapes_the_rest() {
        let stem = tokens(&mut analyzer(Lang::Fr), "sécurité").remove(0).text;
        let s = snippet("La <sécurité> & la Sécurité", Lang::Fr, &marks(&[&stem], &[]), 200);
        assert_eq!(s, "La &lt;<mark>sécurité</mark>&gt; &amp; la <mark>Sécurité</mark>");
    }

    #[test]
    fn long_passages_are_cut_around_the_hits() {
        let text = format!("{} les chiens détecteurs {}", "début du texte ".repeat(40), "fin du texte ".repeat(40));
        let stem = tokens(&mut analyzer(Lang::Fr), "chiens").remove(0).text;
        let s = snippet(&text, Lang::Fr, &marks(&[&stem], &[]), 120);
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("<mark>chiens</mark>"), "{s}");
        assert!(s.chars().count() <= 120 + 2 + "<mark></mark>".len());
    }

    #[test]
    fn typo_marks() {
        let s = snippet("Les chiens détecteurs", Lang::Fr, &marks(&[], &["detecteur"]), 200);
        assert_eq!(s, "Les chiens <mark>détecteurs</mark>");
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("securite", "securte"));
        assert!(!within_one_edit("chiens", "chinse"));
        assert!(within_one_edit("chiens", "cihens"));
        assert!(within_one_edit("arme", "armes"));
        assert!(!within_one_edit("arme", "armees"));
    }

    proptest! {
        #[test]
        fn snippets_never_leak_markup(text in "[a-zé<>&\"' ]{0,400}") {
            let s = snippet(&text, Lang::Fr, &marks(&["a"], &["ab"]), 100);
            let stripped = s.replace("<mark>", "").replace("</mark>", "");
            prop_assert!(!stripped.contains('<') && !stripped.contains('>') && !stripped.contains('"'));
        }
    }
}
