//! Near-duplicate documents: MinHash over word 3-shingles of the folded text. Two
//! extractions of the same text (a clean Markdown and a noisy PDF dump) differ in line
//! breaks, footnote placement and a few words, and still share most of their shingles.
use serde::Serialize;

/// Signature length: the Jaccard estimate's standard error is about 1/sqrt(128) ≈ 0.09.
pub const SIGNATURE_LEN: usize = 128;
/// Estimated Jaccard similarity at and above which two documents are near-duplicates. The
/// two extractions of COM(2017) 612 score 0.95; no other pair of the demo corpus reaches 0.7.
pub const THRESHOLD: f64 = 0.7;
const SHINGLE: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatePair {
    pub a: String,
    pub b: String,
    /// Estimated Jaccard similarity of the two texts' shingles, 0..=1.
    pub similarity: f64,
}

/// The MinHash signature of a text.
pub fn signature(text: &str) -> Vec<u32> {
    let folded = crate::analysis::fold(text);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let mut mins = vec![u64::MAX; SIGNATURE_LEN];
    for shingle in words.windows(SHINGLE.min(words.len().max(1))) {
        let h = fnv1a(shingle);
        for (i, m) in mins.iter_mut().enumerate() {
            let v = mix(h ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            if v < *m {
                *m = v;
            }
        }
    }
    mins.into_iter().map(|m| (m >> 32) as u32).collect()
}

pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Every pair of documents at or above [`THRESHOLD`], most similar first.
pub fn near_duplicates<'a>(docs: impl IntoIterator<Item = (&'a str, &'a [u32])>) -> Vec<DuplicatePair> {
    let docs: Vec<(&str, &[u32])> = docs.into_iter().collect();
    let mut pairs = Vec::new();
    for (i, (a, sa)) in docs.iter().enumerate() {
        for (b, sb) in docs.iter().skip(i + 1) {
            let s = similarity(sa, sb);
            if s >= THRESHOLD {
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                pairs.push(DuplicatePair { a: (*a).to_owned(), b: (*b).to_owned(), similarity: s });
            }
        }
    }
    pairs.sort_by(|x, y| y.similarity.total_cmp(&x.similarity).then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b))));
    pairs
}

fn fnv1a(words: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in words {
        for b in w.bytes().chain(std::iter::once(b' ')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// SplitMix64 finaliser: turns one hash into many independent-looking ones.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "Les espaces publics sont régulièrement visés par les terroristes, qui exploitent les \
        vulnérabilités intrinsèques de ces cibles dites vulnérables du fait de leur caractère libre et public. \
        Les cibles concernées sont les zones piétonnes, les sites touristiques, les plateformes de transport.";

    #[test]
    fn reflowed_text_is_a_near_duplicate_and_other_text_is_not() {
        let noisy = TEXT.replace(", ", ",\n\n").replace("Les cibles", "LES CIBLES");
        let other = "La stratégie couvre la période 2020-2025 et se concentre sur le renforcement des moyens.";
        let (a, b, c) = (signature(TEXT), signature(&noisy), signature(other));
        assert!(similarity(&a, &b) > 0.95);
        assert!(similarity(&a, &c) < 0.1);
        let pairs = near_duplicates([("x", a.as_slice()), ("c", c.as_slice()), ("b", b.as_slice())]);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].a.as_str(), pairs[0].b.as_str()), ("b", "x"));
    }

    proptest! {
        #[test]
        fn similarity_is_symmetric_and_bounded(x in "[a-z ]{0,200}", y in "[a-z ]{0,200}") {
            let (a, b) = (signature(&x), signature(&y));
            let s = similarity(&a, &b);
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert_eq!(s, similarity(&b, &a));
            prop_assert_eq!(similarity(&a, &a), 1.0);
        }
    }
}
