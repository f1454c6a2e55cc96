//! Clean-ups inside a line of text, whatever the source format.

/// Collapses whitespace, drops superscript footnote digits and footnote numbers glued to the
/// end of a word (`intention2 adressée` → `intention adressée`).
pub fn clean(text: &str) -> String {
    let without_sup: String = text.chars().filter(|c| !is_superscript_digit(*c)).collect();
    without_sup.split_whitespace().map(unglue_footnote).collect::<Vec<_>>().join(" ")
}

fn is_superscript_digit(c: char) -> bool {
    matches!(c, '⁰' | '¹' | '²' | '³' | '⁴' | '⁵' | '⁶' | '⁷' | '⁸' | '⁹')
}

/// A word of at least three lower-case letters followed by one to three digits and an
/// optional closing punctuation is a word with a glued footnote call: real words that end in
/// digits are codes (`G20`, `COM(2017)`) and do not start with three lower-case letters.
fn unglue_footnote(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let punct = chars.iter().rev().take_while(|c| matches!(c, '.' | ',' | ';' | ':' | ')' | '»')).count();
    let Some((body, closing)) = chars.split_at_checked(chars.len() - punct) else { return word.to_owned() };
    let digits = body.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let Some((stem, _)) = body.split_at_checked(body.len() - digits) else { return word.to_owned() };
    let letters = stem.iter().rev().take_while(|c| c.is_lowercase()).count();
    if letters >= 3 && (1..=3).contains(&digits) { stem.iter().chain(closing).collect() } else { word.to_owned() }
}

/// Removes Markdown emphasis, code ticks, autolinks and link targets, keeping the words.
pub fn strip_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' | '`' => {}
            '_' if is_emphasis_underscore(&chars, i) => {}
            '<' if starts_with(&chars, i + 1, "http") => {
                if let Some(end) = chars.iter().skip(i).position(|&c| c == '>') {
                    out.extend(chars.get(i + 1..i + end).unwrap_or_default());
                    i += end;
                }
            }
            ']' if chars.get(i + 1) == Some(&'(') => {
                // `[text](url)`: keep the text, drop the target.
                if let Some(end) = chars.iter().skip(i).position(|&c| c == ')') {
                    i += end;
                }
            }
            '[' if chars.iter().skip(i).take_while(|&&c| c != '\n').any(|&c| c == ']') && link_follows(&chars, i) => {}
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn starts_with(chars: &[char], at: usize, prefix: &str) -> bool {
    prefix.chars().enumerate().all(|(k, p)| chars.get(at + k) == Some(&p))
}

fn link_follows(chars: &[char], open: usize) -> bool {
    chars.iter().skip(open).position(|&c| c == ']').is_some_and(|close| chars.get(open + close + 1) == Some(&'('))
}

/// `_emphasis_` but not `snake_case`.
fn is_emphasis_underscore(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
    let after = chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
    !(before && after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_footnote_numbers_are_removed() {
        assert_eq!(clean("la lettre d'intention2 adressée"), "la lettre d'intention adressée");
        assert_eq!(clean("publiés sur Internet¹."), "publiés sur Internet.");
        assert_eq!(clean("prochains mois3."), "prochains mois.");
        assert_eq!(clean("le G20 et COM(2017) 612 en 2018."), "le G20 et COM(2017) 612 en 2018.");
    }

    #[test]
    fn markdown_markup_is_stripped() {
        assert_eq!(
            strip_markdown("**favoriser** l'échange de *bonnes* pratiques"),
            "favoriser l'échange de bonnes pratiques"
        );
        assert_eq!(strip_markdown("voir [le plan](https://x.eu/p) et <https://y.eu>"), "voir le plan et https://y.eu");
        assert_eq!(strip_markdown("snake_case _here_"), "snake_case here");
    }
}
