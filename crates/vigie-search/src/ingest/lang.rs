//! Language detection by stop-word counts: enough to tell French from English prose.
use crate::Lang;

const FR: &[&str] = &[
    "le", "la", "les", "des", "du", "et", "est", "une", "dans", "pour", "que", "qui", "sur", "au", "aux", "pas", "par",
    "sont", "ces", "avec",
];
const EN: &[&str] = &[
    "the", "and", "of", "to", "is", "are", "in", "for", "that", "with", "on", "by", "this", "be", "from", "which",
    "an", "as", "it", "was",
];

/// French unless English stop words clearly dominate (the corpus is mostly French).
pub fn detect(text: &str) -> Lang {
    let (mut fr, mut en) = (0usize, 0usize);
    for word in text.split(|c: char| !c.is_alphabetic()).take(5000) {
        let w = word.to_lowercase();
        fr += usize::from(FR.contains(&w.as_str()));
        en += usize::from(EN.contains(&w.as_str()));
    }
    if en > fr { Lang::En } else { Lang::Fr }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_french_from_english() {
        assert_eq!(detect("La protection des espaces publics est une priorité pour les villes."), Lang::Fr);
        assert_eq!(
            detect("The protection of public spaces is a priority for the cities and their operators."),
            Lang::En
        );
    }
}
