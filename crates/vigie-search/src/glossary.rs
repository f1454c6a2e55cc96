//! Cross-language query expansion from the shipped bilingual glossary
//! (`data/glossary.toml`). Matching is on analysed words, so plurals, case and accents do
//! not matter: `Sniffer dog` matches the entry `sniffer dogs`.
use serde::Deserialize;
use tantivy::tokenizer::TextAnalyzer;

use crate::Lang;
use crate::analysis::{analyzer, tokens};
use crate::error::SearchError;

const SHIPPED: &str = include_str!("../data/glossary.toml");

#[derive(Deserialize)]
struct File {
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    en: Vec<String>,
    fr: Vec<String>,
}

struct Variant {
    lang: Lang,
    text: String,
    stems: Vec<String>,
}

pub struct Glossary {
    entries: Vec<Vec<Variant>>,
}

impl Glossary {
    pub fn shipped() -> Result<Self, SearchError> {
        Self::from_toml(SHIPPED)
    }

    pub fn from_toml(text: &str) -> Result<Self, SearchError> {
        let file: File = toml::from_str(text).map_err(|e| SearchError::GlossaryInvalid { reason: e.to_string() })?;
        let mut analyzers: Vec<(Lang, TextAnalyzer)> = Lang::ALL.iter().map(|&l| (l, analyzer(l))).collect();
        let mut entries = Vec::with_capacity(file.entry.len());
        for raw in file.entry {
            if raw.en.is_empty() || raw.fr.is_empty() {
                return Err(SearchError::GlossaryInvalid {
                    reason: format!("an entry needs both languages: {:?} / {:?}", raw.en, raw.fr),
                });
            }
            let mut variants = Vec::new();
            for (lang, list) in [(Lang::En, raw.en), (Lang::Fr, raw.fr)] {
                for text in list {
                    let stems = analyzers
                        .iter_mut()
                        .find(|(l, _)| *l == lang)
                        .map(|(_, a)| tokens(a, &text).into_iter().map(|t| t.text).collect::<Vec<_>>())
                        .unwrap_or_default();
                    if stems.is_empty() {
                        return Err(SearchError::GlossaryInvalid {
                            reason: format!("'{text}' has no searchable word"),
                        });
                    }
                    variants.push(Variant { lang, text, stems });
                }
            }
            entries.push(variants);
        }
        Ok(Glossary { entries })
    }

    /// Phrases of the other language equivalent to glossary terms found in the query, given
    /// the query's analysed words in each language.
    pub fn expand(&self, query_stems: &[(Lang, Vec<String>)]) -> Vec<(Lang, &str)> {
        let mut out: Vec<(Lang, &str)> = Vec::new();
        for entry in &self.entries {
            let hit = entry
                .iter()
                .find(|v| query_stems.iter().any(|(lang, stems)| *lang == v.lang && contains_run(stems, &v.stems)));
            if let Some(hit) = hit {
                for v in entry.iter().filter(|v| v.lang != hit.lang) {
                    if !out.contains(&(v.lang, v.text.as_str())) {
                        out.push((v.lang, v.text.as_str()));
                    }
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn contains_run(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<(Lang, Vec<String>)> {
        Lang::ALL.iter().map(|&l| (l, tokens(&mut analyzer(l), text).into_iter().map(|t| t.text).collect())).collect()
    }

    #[test]
    fn shipped_glossary_loads() {
        let g = Glossary::shipped().unwrap();
        assert!(g.len() >= 40);
    }

    #[test]
    fn expands_both_ways() {
        let g = Glossary::shipped().unwrap();
        let en = g.expand(&stems("Explosive detection dog at the station"));
        assert!(en.contains(&(Lang::Fr, "chiens détecteurs d'explosifs")), "{en:?}");
        let fr = g.expand(&stems("protection des espaces publics contre les véhicules béliers"));
        assert!(fr.contains(&(Lang::En, "public spaces")), "{fr:?}");
        assert!(g.expand(&stems("zzz")).is_empty());
    }

    #[test]
    fn malformed_glossaries_are_refused() {
        assert!(Glossary::from_toml("[[entry]]\nen = [\"x\"]\nfr = []").is_err());
        assert!(Glossary::from_toml("nonsense =").is_err());
    }
}
