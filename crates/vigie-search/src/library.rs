//! The index as a long-running process holds it: behind a lock, with the store generation it
//! reflects, so that a shell can tell whether it is stale and bring it up to date.
//!
//! On disk the directory holds `index/` (tantivy) and `generation` (a number). The generation
//! is written after the index commit: a crash in between leaves an older number, and the next
//! catch-up re-adds documents the index already has, which replaces them (no harm).
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::ParsedDocument;
use crate::dedup::DuplicatePair;
use crate::error::SearchError;
use crate::index::LibraryIndex;
use crate::query::{Access, SearchHit, SearchQuery, SearchResults};

pub struct SharedLibrary {
    dir: Option<PathBuf>,
    state: RwLock<State>,
}

struct State {
    index: LibraryIndex,
    generation: i64,
}

fn failed(path: &Path, e: impl std::fmt::Display) -> SearchError {
    SearchError::IndexFailed { reason: format!("{}: {e}", path.display()) }
}

fn poisoned() -> SearchError {
    SearchError::IndexFailed { reason: "a previous index update failed half-way; restart to rebuild".into() }
}

impl SharedLibrary {
    /// Opens the index in `dir` (created if absent) or an empty one in RAM (`None`). Its
    /// generation is 0 when unknown, so that the first catch-up loads everything.
    pub fn open(dir: Option<&Path>) -> Result<Self, SearchError> {
        let Some(dir) = dir else {
            return Ok(SharedLibrary {
                dir: None,
                state: RwLock::new(State { index: LibraryIndex::open_in_ram()?, generation: 0 }),
            });
        };
        let generation = match std::fs::read_to_string(dir.join("generation")) {
            Ok(text) => text.trim().parse().unwrap_or(0),
            Err(_) => 0,
        };
        let index = LibraryIndex::open(&dir.join("index"))?;
        Ok(SharedLibrary { dir: Some(dir.to_owned()), state: RwLock::new(State { index, generation }) })
    }

    /// The index in `dir` opened for searching only, without the lock a running server holds.
    pub fn open_read_only(dir: &Path) -> Result<Self, SearchError> {
        let generation = match std::fs::read_to_string(dir.join("generation")) {
            Ok(text) => text.trim().parse().unwrap_or(0),
            Err(_) => 0,
        };
        let index = LibraryIndex::open_read_only(&dir.join("index"))?;
        Ok(SharedLibrary { dir: Some(dir.to_owned()), state: RwLock::new(State { index, generation }) })
    }

    /// The store generation the index reflects.
    pub fn generation(&self) -> Result<i64, SearchError> {
        Ok(self.state.read().map_err(|_| poisoned())?.generation)
    }

    /// Adds (or replaces) the documents that changed in the store, bringing the index to
    /// `generation`. Does nothing when the index is already there (another caller did it).
    pub fn apply(&self, documents: &[ParsedDocument], generation: i64) -> Result<(), SearchError> {
        let mut state = self.state.write().map_err(|_| poisoned())?;
        if state.generation >= generation {
            return Ok(());
        }
        for d in documents {
            state.index.add(&d.document, &d.version, &d.passages)?;
        }
        state.index.commit()?;
        state.generation = generation;
        self.save_generation(generation)
    }

    /// Replaces the whole index with `documents` (the store's every document).
    pub fn rebuild(&self, documents: &[ParsedDocument], generation: i64) -> Result<(), SearchError> {
        let mut state = self.state.write().map_err(|_| poisoned())?;
        // The old index lets go of its directory's lock before the new one takes it.
        state.index = LibraryIndex::open_in_ram()?;
        state.generation = 0;
        let docs = documents.iter().map(|d| (&d.document, &d.version, d.passages.as_slice()));
        state.index = LibraryIndex::rebuild(self.dir.as_ref().map(|d| d.join("index")).as_deref(), docs)?;
        state.generation = generation;
        self.save_generation(generation)
    }

    fn save_generation(&self, generation: i64) -> Result<(), SearchError> {
        if let Some(dir) = &self.dir {
            let path = dir.join("generation");
            let staging = dir.join("generation.new");
            std::fs::write(&staging, generation.to_string()).map_err(|e| failed(&staging, e))?;
            std::fs::rename(&staging, &path).map_err(|e| failed(&path, e))?;
        }
        Ok(())
    }

    pub fn search(&self, q: &SearchQuery, access: &Access) -> Result<SearchResults, SearchError> {
        self.state.read().map_err(|_| poisoned())?.index.search(q, access)
    }

    pub fn related(
        &self,
        question: &str,
        references: &[String],
        access: &Access,
        limit: usize,
    ) -> Result<Vec<SearchHit>, SearchError> {
        self.state.read().map_err(|_| poisoned())?.index.related(question, references, access, limit)
    }

    pub fn passage_count(&self) -> Result<usize, SearchError> {
        self.state.read().map_err(|_| poisoned())?.index.passage_count()
    }

    /// Every near-duplicate pair in the index (callers filter by what may be read).
    pub fn duplicates(&self) -> Result<Vec<DuplicatePair>, SearchError> {
        Ok(self.state.read().map_err(|_| poisoned())?.index.duplicates())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestOptions, parse};

    fn doc(id: &str, text: &str) -> ParsedDocument {
        let mut o = IngestOptions::new("org");
        o.document_id = Some(id.into());
        parse(text.as_bytes(), &format!("{id}.md"), o).unwrap()
    }

    #[test]
    fn generation_survives_reopen_and_rebuild_replaces_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let library = SharedLibrary::open(Some(dir.path())).unwrap();
            assert_eq!(library.generation().unwrap(), 0);
            library.apply(&[doc("a", "# A\n\nLes bornes amovibles.")], 1).unwrap();
            library.apply(&[doc("a", "# A\n\nRien du tout.")], 1).unwrap();
            assert_eq!(library.passage_count().unwrap(), 1);
            let hits = library.search(&SearchQuery::new("bornes"), &Access::everything()).unwrap();
            assert_eq!(hits.total, 1, "an apply at a generation already reached does nothing");
        }
        let library = SharedLibrary::open(Some(dir.path())).unwrap();
        assert_eq!(library.generation().unwrap(), 1);
        library.rebuild(&[doc("b", "# B\n\nLes barrières.")], 7).unwrap();
        assert_eq!((library.generation().unwrap(), library.passage_count().unwrap()), (7, 1));
        assert!(library.search(&SearchQuery::new("bornes"), &Access::everything()).unwrap().results.is_empty());
    }
}
