//! Text analysis shared by indexing, querying and highlighting, so that all three agree on
//! what a "word" is: lower-case, accents folded, French elisions and stop words dropped,
//! Snowball stemming per language.
//!
//! Folding happens *before* stemming: the stemmer then sees `securite` whether the user typed
//! `sécurité` or `securite`, and both reach the same stem.
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenStream,
};

use std::sync::OnceLock;

use crate::Lang;

/// Tokenizer names registered in the index.
pub const PLAIN: &str = "vigie_plain";

pub fn tokenizer_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "vigie_fr",
        Lang::En => "vigie_en",
    }
}

/// Elided articles and pronouns: `SimpleTokenizer` splits `l'arme` into `l` + `arme`,
/// and these fragments are then dropped as stop words.
const FR_ELISIONS: &[&str] = &["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"];

/// French stop words, already accent-folded.
const FR_STOP: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "ces", "cet", "cette", "dans", "de", "des", "du", "elle", "elles", "en", "et",
    "eux", "il", "ils", "je", "la", "le", "les", "leur", "leurs", "lui", "ma", "mais", "me", "meme", "mes", "moi",
    "mon", "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "pour", "qui", "que", "quoi", "sa", "se", "ses",
    "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre", "vous", "y", "est", "sont",
    "ete", "etre", "ont", "ainsi", "afin", "dont", "sont", "aussi", "tres", "plus", "tout", "tous", "toute", "toutes",
    "cela", "ceci",
];

const EN_STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    "s", "t", "its", "from", "which", "been", "has", "have", "we", "our",
];

fn stop_words(lang: Lang) -> StopWordFilter {
    let list: Vec<String> = match lang {
        Lang::Fr => FR_STOP.iter().chain(FR_ELISIONS).map(|w| (*w).to_owned()).collect(),
        Lang::En => EN_STOP.iter().map(|w| (*w).to_owned()).collect(),
    };
    StopWordFilter::remove(list)
}

/// The analyser of one language's text field. Built once: a clone shares the stop-word set.
pub fn analyzer(lang: Lang) -> TextAnalyzer {
    static FR: OnceLock<TextAnalyzer> = OnceLock::new();
    static EN: OnceLock<TextAnalyzer> = OnceLock::new();
    let cell = match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    };
    cell.get_or_init(|| build_analyzer(lang)).clone()
}

fn build_analyzer(lang: Lang) -> TextAnalyzer {
    let stem = match lang {
        Lang::Fr => Language::French,
        Lang::En => Language::English,
    };
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(stop_words(lang))
        .filter(Stemmer::new(stem))
        .build()
}

/// Lower-cased, folded, unstemmed words: the field typo-tolerant matching runs on, since
/// "one edit away" is about what people type, not about stems.
pub fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// A token with its byte span in the analysed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub text: String,
    pub from: usize,
    pub to: usize,
    pub position: usize,
}

pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = stream.token();
        out.push(Tok { text: t.text.clone(), from: t.offset_from, to: t.offset_to, position: t.position });
    }
    out
}

/// Lower-case and fold accents, for matching glossary entries against a query.
pub fn fold(text: &str) -> String {
    tokens(&mut plain_analyzer(), text).into_iter().map(|t| t.text).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(lang: Lang, text: &str) -> Vec<String> {
        tokens(&mut analyzer(lang), text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn french_folds_accents_and_elisions_before_stemming() {
        assert_eq!(analysed(Lang::Fr, "sécurité"), analysed(Lang::Fr, "securite"));
        assert_eq!(analysed(Lang::Fr, "l'arme"), analysed(Lang::Fr, "arme"));
        assert_eq!(analysed(Lang::Fr, "d’explosifs"), analysed(Lang::Fr, "explosif"));
        assert_eq!(analysed(Lang::Fr, "les chiens"), analysed(Lang::Fr, "chien"));
        assert!(analysed(Lang::Fr, "de la et les").is_empty());
    }

    #[test]
    fn english_stems_and_drops_stop_words() {
        assert_eq!(analysed(Lang::En, "the detection dogs"), analysed(Lang::En, "detecting dog"));
    }

    #[test]
    fn fold_lowercases_and_strips_accents() {
        assert_eq!(fold("Véhicule  BÉLIER"), "vehicule belier");
    }
}
