//! Reading the street graph from an OpenStreetMap PBF file (the crate's only I/O).
use std::path::Path;

use vigie_osm::{ExtractFilter, OsmError, OsmExtract, Progress, Tags};

use crate::graph::{GraphOptions, StreetGraph, blocking_barrier, is_drivable_way};

/// Reads the ways and barrier nodes the graph needs.
pub fn read_streets(path: &Path, options: &GraphOptions, progress: &dyn Progress) -> Result<OsmExtract, OsmError> {
    let keep_way = |tags: &Tags| is_drivable_way(tags, options);
    let keep_node = |tags: &Tags| blocking_barrier(tags).is_some();
    let keep_relation = |_: &Tags| false;
    vigie_osm::read_extract(
        path,
        &ExtractFilter { keep_way: &keep_way, keep_node: &keep_node, keep_relation: &keep_relation },
        progress,
    )
}

/// Reads a PBF file and builds its street graph.
pub fn load_graph(path: &Path, options: &GraphOptions, progress: &dyn Progress) -> Result<StreetGraph, OsmError> {
    Ok(StreetGraph::from_extract(&read_streets(path, options, progress)?, options))
}
