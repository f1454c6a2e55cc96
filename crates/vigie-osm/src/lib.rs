//! OpenStreetMap PBF reading for Vigie: the raw data of an extract ([`read_extract`], used for
//! the street graph) and the public spaces it maps ([`find_public_spaces`]).
//!
//! Bad input is an [`OsmError`] with a stable code, never a panic.
#![deny(clippy::indexing_slicing)] // pure code: a bad index is an error to return, not a panic

use std::collections::HashMap;
use std::path::Path;

mod candidates;
mod frame;
mod pbf;
mod reader;
pub mod rings;

pub use candidates::{
    CATEGORY_RULES, CandidateReport, CategoryRule, SiteCandidate, candidates_from_extract, category_of,
    find_public_spaces, site_name,
};

/// OSM tags of one element, as key/value pairs.
pub type Tags = Vec<(String, String)>;

#[derive(Debug, thiserror::Error)]
pub enum OsmError {
    /// code `osm_file_unreadable`: missing file, permission, I/O error.
    #[error("cannot read {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    /// code `osm_not_pbf`: the bytes are not an OSM PBF file.
    #[error("{path} is not an OpenStreetMap PBF file: {reason}")]
    NotPbf { path: String, reason: String },
    /// code `osm_truncated`: the file ends or breaks in the middle of a block.
    #[error("{path} is truncated or corrupt: {reason}")]
    Corrupt { path: String, reason: String },
}

impl OsmError {
    pub fn code(&self) -> vigie_domain::Code {
        match self {
            OsmError::Unreadable { .. } => vigie_domain::Code::OsmFileUnreadable,
            OsmError::NotPbf { .. } => vigie_domain::Code::OsmNotPbf,
            OsmError::Corrupt { .. } => vigie_domain::Code::OsmTruncated,
        }
    }
}

impl From<OsmError> for vigie_domain::Failure {
    fn from(err: OsmError) -> Self {
        vigie_domain::Failure::new(err.code(), err.to_string())
    }
}

/// What to keep while reading: the reader keeps coordinates of every node the kept ways use,
/// plus the tags of nodes accepted by `keep_node`.
pub struct ExtractFilter<'a> {
    pub keep_way: &'a (dyn Fn(&Tags) -> bool + Sync),
    pub keep_node: &'a (dyn Fn(&Tags) -> bool + Sync),
    pub keep_relation: &'a (dyn Fn(&Tags) -> bool + Sync),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OsmNode {
    pub lon: f64,
    pub lat: f64,
    /// Present only for nodes accepted by `keep_node`.
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OsmWay {
    pub id: i64,
    pub refs: Vec<i64>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OsmMember {
    /// "node", "way" or "relation".
    pub kind: &'static str,
    pub id: i64,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OsmRelation {
    pub id: i64,
    pub members: Vec<OsmMember>,
    pub tags: Tags,
}

/// Nodes by id. Ids are well spread, so a fast non-cryptographic hash serves (the map is
/// built from the file, not from requests).
pub type NodeMap = HashMap<i64, OsmNode, rustc_hash::FxBuildHasher>;

/// The kept part of an extract. Ways referenced by kept relations are kept too.
#[derive(Debug, Default)]
pub struct OsmExtract {
    pub nodes: NodeMap,
    pub ways: Vec<OsmWay>,
    pub relations: Vec<OsmRelation>,
    /// Elements read in the whole file, for throughput figures.
    pub nodes_read: u64,
    pub ways_read: u64,
    pub relations_read: u64,
}

/// Reports progress as bytes of the file processed out of its size.
pub trait Progress: Sync {
    fn advance(&self, bytes_done: u64, bytes_total: u64);
}

/// A [`Progress`] that reports nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes_done: u64, _bytes_total: u64) {}
}

/// Reads `path` keeping what `filter` accepts.
///
/// Decodes blocks on all cores; node blocks, the bulk of a file, are decoded once. Ways and
/// relations come sorted by id. `progress` hears bytes done out of the file size, never going
/// backwards, and last `(size, size)` on success.
pub fn read_extract(path: &Path, filter: &ExtractFilter<'_>, progress: &dyn Progress) -> Result<OsmExtract, OsmError> {
    reader::read(path, filter, progress)
}
