//! The tantivy index of passages. Access control and filters are clauses of the query
//! itself, so hidden passages are neither returned nor counted. The index holds nothing the
//! store does not: [`LibraryIndex::rebuild`] recreates it from stored documents and passages.
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::analysis::{PLAIN, Tok, analyzer, plain_analyzer, tokenizer_name, tokens};
use crate::dedup::{self, DuplicatePair};
use crate::error::SearchError;
use crate::glossary::Glossary;
use crate::highlight::{Marks, snippet};
use crate::query::{Access, Part, SearchHit, SearchQuery, SearchResults, validate};
use crate::{Document, DocumentVersion, Lang, Marking, Passage};

const KIND_PASSAGE: &str = "passage";
/// One record per document holds its signature, so near-duplicates survive a reopen.
const KIND_DOCUMENT: &str = "document";
const SNIPPET_CHARS: usize = 240;
/// Words shorter than this are not matched with a typo: too many neighbours one edit away.
const FUZZY_MIN_CHARS: usize = 5;
/// A typo match counts for less than any exact word.
const FUZZY_BOOST: f32 = 0.3;
const WRITER_MEMORY: usize = 50_000_000;

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    doc_id: Field,
    passage_id: Field,
    org: Field,
    marking: Field,
    lang: Field,
    tags: Field,
    date: Field,
    title: Field,
    heading: Field,
    text: Field,
    text_fr: Field,
    text_en: Field,
    plain: Field,
    signature: Field,
}

impl Fields {
    fn text_of(&self, lang: Lang) -> Field {
        match lang {
            Lang::Fr => self.text_fr,
            Lang::En => self.text_en,
        }
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analysed = |tokenizer: &str, positions: bool| {
        let option = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::WithFreqs };
        TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(option))
    };
    let fields = Fields {
        kind: b.add_text_field("kind", STRING),
        doc_id: b.add_text_field("doc_id", STRING | STORED),
        passage_id: b.add_text_field("passage_id", STRING | STORED),
        org: b.add_text_field("org", STRING | STORED),
        marking: b.add_u64_field("marking", NumericOptions::default().set_indexed().set_stored()),
        lang: b.add_text_field("lang", STRING | STORED),
        tags: b.add_text_field("tags", STRING),
        date: b.add_i64_field("date", NumericOptions::default().set_indexed().set_fast()),
        title: b.add_text_field("title", STORED),
        heading: b.add_text_field("heading", STORED),
        text: b.add_text_field("text", STORED),
        text_fr: b.add_text_field("text_fr", analysed(tokenizer_name(Lang::Fr), true)),
        text_en: b.add_text_field("text_en", analysed(tokenizer_name(Lang::En), true)),
        plain: b.add_text_field("plain", analysed(PLAIN, false)),
        signature: b.add_bytes_field("signature", STORED),
    };
    (b.build(), fields)
}

pub struct LibraryIndex {
    reader: IndexReader,
    /// `None` when opened read-only, beside a running server that holds the writer's lock.
    writer: Option<IndexWriter<TantivyDocument>>,
    fields: Fields,
    glossary: Glossary,
    signatures: BTreeMap<String, Vec<u32>>,
    /// Document id → id of its near-duplicate group (the group's smallest id).
    groups: HashMap<String, String>,
}

impl LibraryIndex {
    pub fn open_in_ram() -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields, true)
    }

    /// Opens the index in `dir`, creating it if absent.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SearchError::IndexFailed { reason: format!("{}: {e}", dir.display()) })?;
        let directory = MmapDirectory::open(dir).map_err(|e| SearchError::IndexFailed { reason: e.to_string() })?;
        let (schema, fields) = schema();
        Self::with_index(Index::open_or_create(directory, schema)?, fields, true)
    }

    /// Opens the existing index in `dir` for searching only: it takes no lock, so it works
    /// while a server writes to it; adding to it is refused.
    pub fn open_read_only(dir: &Path) -> Result<Self, SearchError> {
        let directory = MmapDirectory::open(dir).map_err(|e| SearchError::IndexFailed { reason: e.to_string() })?;
        let (_, fields) = schema();
        Self::with_index(Index::open(directory)?, fields, false)
    }

    fn writer(&mut self) -> Result<&mut IndexWriter<TantivyDocument>, SearchError> {
        self.writer.as_mut().ok_or_else(|| SearchError::IndexFailed { reason: "the index was opened read-only".into() })
    }

    /// Builds a fresh index (in `dir`, emptied first, or in RAM) from stored documents.
    /// An index in memory of documents just parsed (tests, benchmarks, one-off searches).
    pub fn in_ram_from(documents: &[crate::ParsedDocument]) -> Result<Self, SearchError> {
        Self::rebuild(None, documents.iter().map(|d| (&d.document, &d.version, d.passages.as_slice())))
    }

    pub fn rebuild<'a>(
        dir: Option<&Path>,
        documents: impl IntoIterator<Item = (&'a Document, &'a DocumentVersion, &'a [Passage])>,
    ) -> Result<Self, SearchError> {
        let mut index = match dir {
            Some(d) => {
                if d.exists() {
                    std::fs::remove_dir_all(d)
                        .map_err(|e| SearchError::IndexFailed { reason: format!("{}: {e}", d.display()) })?;
                }
                Self::open(d)?
            }
            None => Self::open_in_ram()?,
        };
        for (doc, version, passages) in documents {
            index.add(doc, version, passages)?;
        }
        index.commit()?;
        index.merge_segments()?;
        Ok(index)
    }

    fn with_index(index: Index, fields: Fields, writable: bool) -> Result<Self, SearchError> {
        for lang in Lang::ALL {
            index.tokenizers().register(tokenizer_name(lang), analyzer(lang));
        }
        index.tokenizers().register(PLAIN, plain_analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = if writable { Some(index.writer_with_num_threads(1, WRITER_MEMORY)?) } else { None };
        let mut me = LibraryIndex {
            reader,
            writer,
            fields,
            glossary: Glossary::shipped()?,
            signatures: BTreeMap::new(),
            groups: HashMap::new(),
        };
        me.load_signatures()?;
        Ok(me)
    }

    fn load_signatures(&mut self) -> Result<(), SearchError> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(Term::from_field_text(self.fields.kind, KIND_DOCUMENT), IndexRecordOption::Basic);
        for addr in searcher.search(&query, &DocSetCollector)? {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let id = doc.get_first(self.fields.doc_id).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let bytes = doc.get_first(self.fields.signature).and_then(|v| v.as_bytes()).unwrap_or_default();
            let sig = bytes.as_chunks::<4>().0.iter().map(|&c| u32::from_le_bytes(c)).collect();
            self.signatures.insert(id, sig);
        }
        self.regroup();
        Ok(())
    }

    /// Adds (or replaces: every earlier passage of the document goes) a document's passages.
    /// Visible to searches after [`commit`](Self::commit).
    pub fn add(&mut self, doc: &Document, version: &DocumentVersion, passages: &[Passage]) -> Result<(), SearchError> {
        let f = self.fields;
        let writer = self.writer()?;
        writer.delete_term(Term::from_field_text(f.doc_id, &doc.id));
        let mut record = TantivyDocument::default();
        record.add_text(f.kind, KIND_DOCUMENT);
        record.add_text(f.doc_id, &doc.id);
        let sig: Vec<u8> = version.signature.iter().flat_map(|v| v.to_le_bytes()).collect();
        record.add_bytes(f.signature, &sig);
        writer.add_document(record)?;
        for p in passages {
            let mut d = TantivyDocument::default();
            d.add_text(f.kind, KIND_PASSAGE);
            d.add_text(f.doc_id, &doc.id);
            d.add_text(f.passage_id, &p.id);
            d.add_text(f.org, &doc.org_id);
            d.add_u64(f.marking, doc.marking.rank());
            d.add_text(f.lang, doc.language.code());
            for tag in &doc.tags {
                d.add_text(f.tags, tag);
            }
            if let Some(date) = doc.date {
                d.add_i64(f.date, i64::from(date.to_julian_day()));
            }
            d.add_text(f.title, &doc.title);
            let heading = p.heading();
            d.add_text(f.heading, &heading);
            d.add_text(f.text, &p.text);
            // Headings are shown, not searched: every passage of a section would otherwise
            // match its title's words, drowning the one passage that is about them.
            d.add_text(f.text_of(doc.language), &p.text);
            d.add_text(f.plain, &p.text);
            writer.add_document(d)?;
        }
        self.signatures.insert(doc.id.to_string(), version.signature.clone());
        Ok(())
    }

    pub fn remove(&mut self, document_id: &str) -> Result<(), SearchError> {
        let term = Term::from_field_text(self.fields.doc_id, document_id);
        self.writer()?.delete_term(term);
        self.signatures.remove(document_id);
        Ok(())
    }

    /// Makes added and removed documents visible, durably when the index is on disk.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        self.regroup();
        Ok(())
    }

    /// Merges every segment into one: searches then walk one term dictionary, not many.
    fn merge_segments(&mut self) -> Result<(), SearchError> {
        let ids = self.reader.searcher().segment_readers().iter().map(|r| r.segment_id()).collect::<Vec<_>>();
        if ids.len() > 1 {
            self.writer()?.merge(&ids).wait()?;
            self.reader.reload()?;
        }
        Ok(())
    }

    /// Near-duplicate document pairs among the indexed documents.
    pub fn duplicates(&self) -> Vec<DuplicatePair> {
        dedup::near_duplicates(self.signatures.iter().map(|(id, s)| (id.as_str(), s.as_slice())))
    }

    fn regroup(&mut self) {
        // Union-find by smallest id: a chain a~b~c forms one group.
        let mut parent: HashMap<String, String> = self.signatures.keys().map(|k| (k.clone(), k.clone())).collect();
        fn root(parent: &HashMap<String, String>, id: &str) -> String {
            let mut cur = id.to_owned();
            while let Some(p) = parent.get(&cur).filter(|p| **p != cur) {
                cur = p.clone();
            }
            cur
        }
        for pair in self.duplicates() {
            let (ra, rb) = (root(&parent, &pair.a), root(&parent, &pair.b));
            let (keep, merge) = if ra <= rb { (ra, rb) } else { (rb, ra) };
            parent.insert(merge, keep);
        }
        self.groups = parent.keys().map(|k| (k.clone(), root(&parent, k))).filter(|(k, r)| k != r).collect();
    }

    pub fn passage_count(&self) -> Result<usize, SearchError> {
        let q = TermQuery::new(Term::from_field_text(self.fields.kind, KIND_PASSAGE), IndexRecordOption::Basic);
        Ok(self.reader.searcher().search(&q, &Count)?)
    }

    pub fn search(&self, q: &SearchQuery, access: &Access) -> Result<SearchResults, SearchError> {
        let parts = validate(q)?;
        let searcher = self.reader.searcher();
        let plan = self.plan(&parts)?;
        let query = BooleanQuery::new(vec![
            (Occur::Must, plan.query),
            (Occur::Must, Box::new(ConstScoreQuery::new(self.filter(q, access), 0.0))),
        ]);
        // Near-duplicate collapsing drops hits, so fetch more than asked.
        let fetch = q.limit * 3 + 20;
        let (top, total) = searcher.search(&query, &(TopDocs::with_limit(fetch).order_by_score(), Count))?;
        let mut claimed: HashMap<String, String> = HashMap::new();
        let mut results = Vec::with_capacity(q.limit);
        for (score, addr) in top {
            if results.len() == q.limit {
                break;
            }
            if let Some(hit) = self.hit(&searcher, addr, score, &plan.marks)? {
                // One document per near-duplicate group: the first (best) one seen.
                let group = self.groups.get(&hit.document_id).cloned().unwrap_or_else(|| hit.document_id.clone());
                let owner = claimed.entry(group).or_insert_with(|| hit.document_id.clone());
                if *owner == hit.document_id {
                    results.push(hit);
                }
            }
        }
        Ok(SearchResults { results, total })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
        score: f32,
        marks: &HashMap<Lang, Marks>,
    ) -> Result<Option<SearchHit>, SearchError> {
        let f = self.fields;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let text_of = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let Ok(language) = Lang::parse(&text_of(f.lang)) else {
            return Ok(None);
        };
        let marking = doc
            .get_first(f.marking)
            .and_then(|v| v.as_u64())
            .and_then(|r| Marking::ALL.get(usize::try_from(r).ok()?).copied());
        let Some(marking) = marking else {
            return Ok(None);
        };
        let text = text_of(f.text);
        let empty = Marks::default();
        Ok(Some(SearchHit {
            document_id: text_of(f.doc_id),
            document_title: text_of(f.title),
            passage_id: text_of(f.passage_id),
            heading: text_of(f.heading),
            snippet: snippet(&text, language, marks.get(&language).unwrap_or(&empty), SNIPPET_CHARS),
            score,
            language,
            marking,
        }))
    }

    /// Passages by id, in the order asked, leaving out those the caller may not read.
    pub fn passages(&self, ids: &[String], access: &Access) -> Result<Vec<SearchHit>, SearchError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermSetQuery::new(ids.iter().map(|id| Term::from_field_text(self.fields.passage_id, id)))),
            ),
            (Occur::Must, self.filter(&SearchQuery::new(""), access)),
        ]);
        let empty = HashMap::new();
        let mut hits = Vec::new();
        for addr in searcher.search(&query, &DocSetCollector)? {
            hits.extend(self.hit(&searcher, addr, 1.0, &empty)?);
        }
        hits.sort_by_key(|h| ids.iter().position(|id| *id == h.passage_id));
        Ok(hits)
    }

    /// The passages that help with a methodology question: those it references first, then the
    /// best matches for its text, up to `limit`; only what the caller may read. A reference is
    /// a passage id, or else a phrase of the passage's text: ids are those of one installation,
    /// phrases travel with the methodology to every installation holding the document.
    pub fn related(
        &self,
        question: &str,
        references: &[String],
        access: &Access,
        limit: usize,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let by_id = self.passages(references, access)?;
        let mut hits: Vec<SearchHit> = Vec::new();
        for reference in references {
            let hit = match by_id.iter().find(|h| &h.passage_id == reference) {
                Some(hit) => Some(hit.clone()),
                None => self.phrase_hit(reference, access)?,
            };
            if let Some(hit) = hit
                && hits.iter().all(|h| h.passage_id != hit.passage_id)
            {
                hits.push(hit);
            }
        }
        hits.truncate(limit);
        if hits.len() < limit {
            // A question is words, not syntax: its quotes must not turn into required phrases.
            let words: String =
                question.chars().map(|c| if matches!(c, '"' | '«' | '»' | '“' | '”') { ' ' } else { c }).collect();
            let mut q = SearchQuery::new(words);
            q.limit = limit.clamp(1, crate::query::MAX_LIMIT);
            match self.search(&q, access) {
                Ok(found) => {
                    for hit in found.results {
                        if hits.len() < limit && hits.iter().all(|h| h.passage_id != hit.passage_id) {
                            hits.push(hit);
                        }
                    }
                }
                // Only very common words: no match by text, which is not an error here.
                Err(SearchError::QueryInvalid { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(hits)
    }

    /// The best passage containing `phrase` as a phrase, if the caller may read one.
    fn phrase_hit(&self, phrase: &str, access: &Access) -> Result<Option<SearchHit>, SearchError> {
        let mut q = SearchQuery::new(format!("\"{}\"", phrase.replace('"', " ")));
        q.limit = 1;
        match self.search(&q, access) {
            Ok(found) => Ok(found.results.into_iter().next()),
            Err(SearchError::QueryInvalid { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Access and request filters: only passages, only documents the caller may read, then tags,
    /// language, dates and markings.
    fn filter(&self, q: &SearchQuery, access: &Access) -> Box<dyn Query> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(TermQuery::new(Term::from_field_text(f.kind, KIND_PASSAGE), IndexRecordOption::Basic)),
        )];
        if let Some(documents) = access.readable() {
            must.push((
                Occur::Must,
                Box::new(TermSetQuery::new(documents.iter().map(|id| Term::from_field_text(f.doc_id, id)))),
            ));
        }
        if !q.tags.is_empty() {
            must.push((
                Occur::Must,
                Box::new(TermSetQuery::new(q.tags.iter().map(|t| Term::from_field_text(f.tags, t)))),
            ));
        }
        if let Some(lang) = q.language {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.lang, lang.code()), IndexRecordOption::Basic)),
            ));
        }
        if q.date_from.is_some() || q.date_to.is_some() {
            let bound = |d: Option<time::Date>| match d {
                Some(d) => Bound::Included(Term::from_field_i64(f.date, i64::from(d.to_julian_day()))),
                None => Bound::Unbounded,
            };
            must.push((Occur::Must, Box::new(RangeQuery::new(bound(q.date_from), bound(q.date_to)))));
        }
        if !q.markings.is_empty() {
            must.push((
                Occur::Must,
                Box::new(TermSetQuery::new(q.markings.iter().map(|m| Term::from_field_u64(f.marking, m.rank())))),
            ));
        }
        Box::new(BooleanQuery::new(must))
    }

    /// The scoring part of the query and what to highlight.
    fn plan(&self, parts: &[Part]) -> Result<Plan, SearchError> {
        let f = self.fields;
        let mut marks: HashMap<Lang, Marks> = HashMap::new();
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut query_stems: Vec<(Lang, Vec<String>)> = Vec::new();
        let mut plain = plain_analyzer();
        for lang in Lang::ALL {
            let mut a = analyzer(lang);
            let field = f.text_of(lang);
            let mut all_stems = Vec::new();
            let lang_marks = marks.entry(lang).or_default();
            for part in parts {
                match part {
                    Part::Words(words) => {
                        let toks = tokens(&mut a, words);
                        for t in &toks {
                            should.push((Occur::Should, term_query(field, &t.text)));
                        }
                        if toks.len() >= 2 {
                            // Words close together in the text score higher: without it
                            // "l'arme blanche" ranks "armes … blanchiment" first (same stems).
                            should.push((Occur::Should, Box::new(BoostQuery::new(phrase(field, &toks, 2), 1.5))));
                        }
                        all_stems.extend(toks.iter().map(|t| t.text.clone()));
                        lang_marks.stems.extend(toks.into_iter().map(|t| t.text));
                    }
                    Part::Phrase(phrase_text) => {
                        let stems: Vec<String> = tokens(&mut a, phrase_text).into_iter().map(|t| t.text).collect();
                        all_stems.extend(stems.iter().cloned());
                        lang_marks.phrases.push(stems);
                    }
                }
            }
            query_stems.push((lang, all_stems));
        }
        // A quoted phrase must appear, in whichever language analyses it.
        for part in parts {
            if let Part::Phrase(text) = part {
                let per_lang: Vec<(Occur, Box<dyn Query>)> = Lang::ALL
                    .iter()
                    .filter_map(|&lang| {
                        let toks = tokens(&mut analyzer(lang), text);
                        (!toks.is_empty()).then(|| (Occur::Should, phrase(f.text_of(lang), &toks, 0)))
                    })
                    .collect();
                if per_lang.is_empty() {
                    return Err(SearchError::query(format!("the phrase \"{text}\" has no searchable word")));
                }
                must.push((Occur::Must, Box::new(BooleanQuery::new(per_lang))));
            }
        }
        // Typos: every word also matches one edit away, at a low constant score. Deciding
        // per word from the index's statistics would let hidden documents change what (and
        // how many) visible passages match.
        for part in parts {
            let (Part::Words(text) | Part::Phrase(text)) = part;
            for t in tokens(&mut plain, text) {
                if t.text.chars().count() >= FUZZY_MIN_CHARS {
                    let term = Term::from_field_text(f.plain, &t.text);
                    should.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term, 1, true)), FUZZY_BOOST)),
                    ));
                    for m in marks.values_mut() {
                        m.fuzzy.push(t.text.clone());
                    }
                }
            }
        }
        // The other language's words for glossary terms found in the query. A term of several
        // words counts only as that term (one extra word allowed): its words one by one are
        // common ("protection", "contre") and would match passages on anything.
        for (lang, text) in self.glossary.expand(&query_stems) {
            let toks = tokens(&mut analyzer(lang), text);
            should.push((Occur::Should, phrase(f.text_of(lang), &toks, 1)));
            let lang_marks = marks.entry(lang).or_default();
            match toks.as_slice() {
                [one] => {
                    lang_marks.stems.insert(one.text.clone());
                }
                _ => lang_marks.phrases.push(toks.into_iter().map(|t| t.text).collect()),
            }
        }
        if must.is_empty() && should.is_empty() {
            return Err(SearchError::query("the query has no searchable word (only very common words)"));
        }
        if !should.is_empty() {
            let any = Box::new(BooleanQuery::new(should));
            // With a phrase required, free words only rank; without one, at least one must match.
            must.push((if must.is_empty() { Occur::Must } else { Occur::Should }, any));
        }
        Ok(Plan { query: Box::new(BooleanQuery::new(must)), marks })
    }
}

struct Plan {
    query: Box<dyn Query>,
    marks: HashMap<Lang, Marks>,
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs))
}

/// A phrase keeping the gaps left by dropped stop words; one word is a term query.
fn phrase(field: Field, toks: &[Tok], slop: u32) -> Box<dyn Query> {
    match toks {
        [] => Box::new(EmptyQuery),
        [one] => term_query(field, &one.text),
        _ => {
            let first = toks.first().map_or(0, |t| t.position);
            let terms = toks.iter().map(|t| (t.position - first, Term::from_field_text(field, &t.text))).collect();
            Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestOptions, parse};

    fn add(index: &mut LibraryIndex, id: &str, org: &str, marking: Marking, text: &str) {
        let mut o = IngestOptions::new(org);
        o.document_id = Some(id.into());
        o.marking = marking;
        o.tags = vec![format!("tag-{id}")];
        let p = parse(text.as_bytes(), &format!("{id}.md"), o).unwrap();
        index.add(&p.document, &p.version, &p.passages).unwrap();
    }

    fn library() -> LibraryIndex {
        let mut index = LibraryIndex::open_in_ram().unwrap();
        add(
            &mut index,
            "plan",
            "eu",
            Marking::Clear,
            "# Plan\n\nIntensifier le recours à des chiens détecteurs d'explosifs pour la sécurité.\n\nAutre paragraphe sur l'arme blanche et les attaques.",
        );
        add(
            &mut index,
            "secret",
            "org-b",
            Marking::Amber,
            "# Note\n\nLes chiens détecteurs d'explosifs de la gare centrale sont absents le dimanche.",
        );
        index.commit().unwrap();
        index
    }

    fn documents_of(results: &SearchResults) -> std::collections::HashSet<String> {
        results.results.iter().map(|h| h.document_id.clone()).collect()
    }

    fn ids(r: &SearchResults) -> Vec<&str> {
        r.results.iter().map(|h| h.document_id.as_str()).collect()
    }

    #[test]
    fn passages_outside_the_access_are_neither_returned_nor_counted() {
        let index = library();
        let q = SearchQuery::new("chiens détecteurs");
        let a = index.search(&q, &Access::documents(["plan"])).unwrap();
        assert_eq!((ids(&a), a.total), (vec!["plan"], 1));
        let b = index.search(&q, &Access::documents(["plan", "secret"])).unwrap();
        assert_eq!(b.total, 2);
        let none = index.search(&q, &Access::documents(Vec::<String>::new())).unwrap();
        assert_eq!((none.results.len(), none.total), (0, 0));
    }

    #[test]
    fn filters_and_highlights() {
        let index = library();
        let admin = Access::everything();
        let mut q = SearchQuery::new("securite");
        let r = index.search(&q, &admin).unwrap();
        assert_eq!(ids(&r), vec!["plan"]);
        assert!(r.results[0].snippet.contains("<mark>sécurité</mark>"), "{}", r.results[0].snippet);
        q.text = "\"chiens détecteurs\"".into();
        q.tags = vec!["tag-secret".into()];
        assert_eq!(ids(&index.search(&q, &admin).unwrap()), vec!["secret"]);
        q.tags.clear();
        q.markings = vec![Marking::Clear];
        assert_eq!(ids(&index.search(&q, &admin).unwrap()), vec!["plan"]);
        q.language = Some(Lang::En);
        assert!(index.search(&q, &admin).unwrap().results.is_empty());
    }

    #[test]
    fn re_adding_a_document_replaces_its_passages_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut index = LibraryIndex::open(dir.path()).unwrap();
            add(&mut index, "plan", "eu", Marking::Clear, "# Plan\n\nPremière version sur les bornes.");
            index.commit().unwrap();
            add(&mut index, "plan", "eu", Marking::Clear, "# Plan\n\nSeconde version sur les barrières.");
            add(&mut index, "copie", "eu", Marking::Clear, "# Plan\n\nSeconde version sur les barrières.");
            index.commit().unwrap();
        }
        let index = LibraryIndex::open(dir.path()).unwrap();
        assert_eq!(index.passage_count().unwrap(), 2);
        let access = Access::everything();
        assert!(index.search(&SearchQuery::new("bornes"), &access).unwrap().results.is_empty());
        let r = index.search(&SearchQuery::new("barrières"), &access).unwrap();
        assert_eq!((r.results.len(), r.total), (1, 2), "near-duplicates collapse to one result");
        assert_eq!(documents_of(&r).len(), 1);
        assert_eq!(index.duplicates().len(), 1);
    }

    #[test]
    fn related_passages_by_reference_then_by_text_without_hidden_ones() {
        let mut index = library();
        add(
            &mut index,
            "guide",
            "eu",
            Marking::Clear,
            "# Guide\n\nDes chiens détecteurs d'explosifs sont employés aux entrées du public.",
        );
        index.commit().unwrap();
        let outsider = Access::documents(["plan", "guide"]);
        let plan = index.search(&SearchQuery::new("arme blanche"), &outsider).unwrap().results[0].passage_id.clone();
        let secret = index.search(&SearchQuery::new("gare centrale"), &Access::everything()).unwrap().results[0]
            .passage_id
            .clone();
        let refs = vec![secret.clone(), plan.clone()];
        let by_phrase = index
            .related(
                "rien de commun",
                &["employés aux entrées du public".to_owned(), "no passage says this".to_owned()],
                &outsider,
                1,
            )
            .unwrap();
        assert_eq!(
            by_phrase.first().map(|h| h.document_id.as_str()),
            Some("guide"),
            "a phrase of a passage references it in every installation"
        );
        let question = "Des « chiens détecteurs » d'explosifs sont-ils employés ?";
        let related = index.related(question, &refs, &outsider, 5).unwrap();
        let ids: Vec<&str> = related.iter().map(|h| h.passage_id.as_str()).collect();
        assert_eq!(ids.first(), Some(&plan.as_str()), "references come first");
        assert!(!ids.contains(&secret.as_str()), "a hidden reference is left out");
        let by_text: Vec<&str> = related[1..].iter().map(|h| h.document_id.as_str()).collect();
        assert!(by_text.contains(&"guide"), "then the text finds the guide's dogs: {ids:?}");
        let owner = Access::documents(["plan", "guide", "secret"]);
        let ids: Vec<String> =
            index.related(question, &refs, &owner, 1).unwrap().into_iter().map(|h| h.passage_id).collect();
        assert_eq!(ids, vec![secret]);
    }

    #[test]
    fn invalid_queries() {
        let index = library();
        for bad in ["", "\"open", "-- ..."] {
            let r = index.search(&SearchQuery::new(bad), &Access::everything());
            assert_eq!(r.map_err(|e| e.code().key()), Err("query_invalid"), "{bad}");
        }
    }
}
