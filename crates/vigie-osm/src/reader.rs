//! The extract reader: parallel passes over the frames of a PBF file.
//!
//! Node blocks are most of a file and the costliest to decode, so they are decoded once, last,
//! when the reader already knows which node ids the kept ways use:
//! 1. find where the node blocks end (files are sorted nodes, ways, relations: a binary search
//!    decodes a handful of blocks; the guess is checked in pass 3);
//! 2. pass 1 decodes the other blocks and keeps the accepted ways and relations;
//! 3. pass 2 (only when needed) decodes way blocks again for the member ways of kept relations;
//! 4. pass 3 decodes node blocks and keeps the coordinates the kept ways use and the accepted
//!    tagged nodes.
//!
//! An unsorted file (nodes after ways) is detected in pass 3 and read again without the guess.
use std::collections::HashMap;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use osmpbf::{BlobDecode, BlobReader, PrimitiveBlock, RelMemberType};

use crate::frame::{Frame, FrameKind, index_frames, read_frame, unreadable};
use crate::{ExtractFilter, OsmError, OsmExtract, OsmMember, OsmNode, OsmRelation, OsmWay, Progress, Tags};

/// Header features this reader understands; a file requiring any other is refused.
const SUPPORTED_FEATURES: [&str; 4] = ["OsmSchema-V0.6", "DenseNodes", "Sort.Type_then_ID", "Sort.Geographic"];

pub(crate) fn read(path: &std::path::Path, filter: &ExtractFilter<'_>, progress: &dyn Progress) -> Result<OsmExtract, OsmError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| unreadable(&name, e))?;
    let file_len = file.metadata().map_err(|e| unreadable(&name, e))?.len();
    let frames = index_frames(&name, file, file_len)?;
    let source = Source { path, name: &name, frames: &frames, progress: ProgressCounter::new(progress, file_len) };
    source.check_header()?;
    let data: Vec<usize> = frames.iter().enumerate().filter(|(_, f)| f.kind == FrameKind::Data).map(|(i, _)| i).collect();
    let boundary = source.node_section_end(&data)?;
    match source.read_with_boundary(filter, &data, boundary)? {
        Some(extract) => Ok(extract),
        // The binary search was misled by an unsorted file: read every block in pass 1.
        None => source.read_with_boundary(filter, &data, 0)?.ok_or_else(|| OsmError::Corrupt {
            path: name.clone(),
            reason: "the blocks are in an order this reader cannot follow".to_owned(),
        }),
    }
    .inspect(|_| progress.advance(file_len, file_len))
}

struct Source<'a> {
    path: &'a std::path::Path,
    name: &'a str,
    frames: &'a [Frame],
    progress: ProgressCounter<'a>,
}

/// What a block holds, by element kind.
#[derive(Debug, Default, Clone, Copy)]
struct Contents {
    nodes: bool,
    ways: bool,
    relations: bool,
}

fn contents(block: &PrimitiveBlock) -> Contents {
    let mut c = Contents::default();
    for group in block.groups() {
        c.nodes |= group.dense_nodes().len() > 0 || group.nodes().len() > 0;
        c.ways |= group.ways().len() > 0;
        c.relations |= group.relations().len() > 0;
    }
    c
}

impl Source<'_> {
    fn check_header(&self) -> Result<(), OsmError> {
        let Some(index) = self.frames.iter().position(|f| f.kind == FrameKind::Header) else {
            return Err(OsmError::NotPbf { path: self.name.to_owned(), reason: "it has no header block".to_owned() });
        };
        let mut file = File::open(self.path).map_err(|e| unreadable(self.name, e))?;
        let mut buf = Vec::new();
        read_frame(self.name, &mut file, &self.frames[index], &mut buf)?;
        let unsupported = match decode(&buf) {
            Ok(BlobDecode::OsmHeader(header)) => header.required_features().iter().find(|f| !SUPPORTED_FEATURES.contains(&f.as_str())).cloned(),
            Ok(_) => None,
            Err(reason) => return Err(self.corrupt(index, &reason)),
        };
        match unsupported {
            Some(feature) if feature == "HistoricalInformation" => Err(OsmError::NotPbf {
                path: self.name.to_owned(),
                reason: "it is a history file (all past versions); Vigie reads extracts of the current map".to_owned(),
            }),
            Some(feature) => Err(OsmError::NotPbf { path: self.name.to_owned(), reason: format!("it requires the feature \"{feature}\", which this reader does not support") }),
            None => Ok(()),
        }
    }

    fn corrupt(&self, frame: usize, reason: &str) -> OsmError {
        let offset = self.frames.get(frame).map_or(0, |f| f.offset);
        OsmError::Corrupt { path: self.name.to_owned(), reason: format!("block {} at byte {offset} cannot be decoded ({reason})", frame + 1) }
    }

    /// Index in `data` of the first block that holds anything but nodes, assuming the usual
    /// order (all nodes, then ways, then relations); pass 3 checks the assumption.
    fn node_section_end(&self, data: &[usize]) -> Result<usize, OsmError> {
        let mut file = File::open(self.path).map_err(|e| unreadable(self.name, e))?;
        let mut buf = Vec::new();
        let (mut low, mut high) = (0, data.len());
        while low < high {
            let mid = low + (high - low) / 2;
            read_frame(self.name, &mut file, &self.frames[data[mid]], &mut buf)?;
            let c = match decode(&buf) {
                Ok(BlobDecode::OsmData(block)) => contents(&block),
                Ok(_) => Contents::default(),
                Err(reason) => return Err(self.corrupt(data[mid], &reason)),
            };
            if c.ways || c.relations {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        Ok(low)
    }

    /// Runs the three passes; `None` when pass 3 finds ways or relations among the blocks
    /// below `boundary` (the file is not sorted).
    fn read_with_boundary(&self, filter: &ExtractFilter<'_>, data: &[usize], boundary: usize) -> Result<Option<OsmExtract>, OsmError> {
        let (node_part, rest) = data.split_at(boundary.min(data.len()));

        // Pass 1: ways and relations. Blocks that also hold nodes are counted for progress in pass 3.
        let firsts = self.run(rest, false, |state: &mut Pass1, _, block| state.visit(block, filter))?;
        let mut pass1 = Pass1::default();
        for part in firsts {
            pass1.merge(part);
        }

        // Pass 2: member ways of kept relations that keep_way did not accept.
        let mut ways = pass1.ways;
        ways.sort_unstable_by_key(|w| w.id);
        let mut missing: Vec<i64> = pass1.relations.iter().flat_map(|r| r.members.iter()).filter(|m| m.kind == "way").map(|m| m.id).collect();
        missing.sort_unstable();
        missing.dedup();
        missing.retain(|id| ways.binary_search_by_key(id, |w| w.id).is_err());
        if !missing.is_empty() {
            let parts = self.run(&pass1.with_ways, true, |found: &mut Vec<OsmWay>, _, block| {
                collect_member_ways(block, &missing, found);
                Ok(())
            })?;
            ways.extend(parts.into_iter().flatten());
            ways.sort_unstable_by_key(|w| w.id);
        }
        ways.dedup_by_key(|w| w.id);

        // Pass 3: nodes.
        let mut needed: Vec<i64> = ways.iter().flat_map(|w| w.refs.iter().copied()).collect();
        needed.sort_unstable();
        needed.dedup();
        let mut node_blocks: Vec<usize> = node_part.to_vec();
        node_blocks.extend_from_slice(&pass1.with_nodes);
        let unsorted = AtomicBool::new(false);
        let node_part_len = node_part.len();
        let parts = self.run(&node_blocks, false, |state: &mut Pass3, position, block| {
            if position < node_part_len {
                let c = contents(block);
                if c.ways || c.relations {
                    unsorted.store(true, Ordering::Relaxed);
                }
            }
            state.visit(block, &needed, filter);
            Ok(())
        })?;
        if unsorted.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let total: usize = parts.iter().map(|p| p.kept.len()).sum();
        let mut nodes = HashMap::with_capacity(total);
        let mut nodes_read = 0;
        for part in parts {
            nodes_read += part.nodes_read;
            nodes.extend(part.kept);
        }
        let mut relations = pass1.relations;
        relations.sort_unstable_by_key(|r| r.id);
        relations.dedup_by_key(|r| r.id);
        Ok(Some(OsmExtract { nodes, ways, relations, nodes_read, ways_read: pass1.ways_read, relations_read: pass1.relations_read }))
    }

    /// Decodes the frames `blocks` (indices into `self.frames`) on all cores, folding each
    /// primitive block into a per-thread `T`. The callback gets the position in `blocks`.
    /// `silent` blocks do not move the progress bar.
    fn run<T, F>(&self, blocks: &[usize], silent: bool, visit: F) -> Result<Vec<T>, OsmError>
    where
        T: Default + Send + Blocks,
        F: Fn(&mut T, usize, &PrimitiveBlock) -> Result<(), OsmError> + Sync,
    {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(blocks.len()).max(1);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let worker = || -> Result<T, (usize, OsmError)> {
            let mut state = T::default();
            let mut file = File::open(self.path).map_err(|e| (0, unreadable(self.name, e)))?;
            let mut buf = Vec::new();
            loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = blocks.get(position) else { break };
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let frame = &self.frames[index];
                let outcome = read_frame(self.name, &mut file, frame, &mut buf).and_then(|()| match decode(&buf) {
                    Ok(BlobDecode::OsmData(block)) => {
                        state.note(index, &block);
                        // Damaged blocks can trip assertions inside the decoder's iterators:
                        // they are reported as damage, not as a crash.
                        catch_unwind(AssertUnwindSafe(|| visit(&mut state, position, &block))).unwrap_or_else(|_| Err(self.corrupt(index, "its content is inconsistent")))
                    }
                    Ok(_) => Ok(()),
                    Err(reason) => Err(self.corrupt(index, &reason)),
                });
                if let Err(error) = outcome {
                    failed.store(true, Ordering::Relaxed);
                    return Err((index, error));
                }
                if !silent && !state.defers_progress(index) {
                    self.progress.add(frame.len);
                }
            }
            Ok(state)
        };
        let results: Vec<Result<T, (usize, OsmError)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err((usize::MAX, OsmError::Corrupt { path: self.name.to_owned(), reason: "a block could not be decoded".to_owned() }))))
                .collect()
        });
        let mut states = Vec::with_capacity(results.len());
        let mut first_error: Option<(usize, OsmError)> = None;
        for result in results {
            match result {
                Ok(state) => states.push(state),
                // Report the earliest damaged block, whichever thread met it first.
                Err((index, error)) => {
                    if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
                        first_error = Some((index, error));
                    }
                }
            }
        }
        match first_error {
            Some((_, error)) => Err(error),
            None => Ok(states),
        }
    }
}

/// Decodes one frame's bytes; errors are given as a reason a person can read.
fn decode(frame: &[u8]) -> Result<BlobDecode<'static>, String> {
    let blob = match BlobReader::new(frame).next() {
        Some(Ok(blob)) => blob,
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("empty block".to_owned()),
    };
    match catch_unwind(AssertUnwindSafe(|| blob.decode().map(owned))) {
        Ok(Ok(decoded)) => Ok(decoded),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("its content is inconsistent".to_owned()),
    }
}

/// `BlobDecode` borrows its blob only for unknown types, which we do not need.
fn owned(decoded: BlobDecode<'_>) -> BlobDecode<'static> {
    match decoded {
        BlobDecode::OsmHeader(h) => BlobDecode::OsmHeader(h),
        BlobDecode::OsmData(b) => BlobDecode::OsmData(b),
        BlobDecode::Unknown(_) => BlobDecode::Unknown("unknown"),
    }
}

/// Per-thread states may record facts about each block they see.
trait Blocks {
    fn note(&mut self, _index: usize, _block: &PrimitiveBlock) {}
    /// True when this block's bytes will be counted by a later pass.
    fn defers_progress(&self, _index: usize) -> bool {
        false
    }
}

impl Blocks for Vec<OsmWay> {}

/// Serialises progress reports so that the reported figure never goes backwards.
struct ProgressCounter<'a> {
    done: Mutex<u64>,
    total: u64,
    sink: &'a dyn Progress,
}

impl<'a> ProgressCounter<'a> {
    fn new(sink: &'a dyn Progress, total: u64) -> Self {
        ProgressCounter { done: Mutex::new(0), total, sink }
    }

    fn add(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut done = self.done.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *done = (*done + bytes).min(self.total);
        self.sink.advance(*done, self.total);
    }
}

/// Refills `buf` with the tags of an element, reusing its strings' allocations.
fn fill_tags<'t>(buf: &mut Tags, tags: impl Iterator<Item = (&'t str, &'t str)>) {
    let mut n = 0;
    for (k, v) in tags {
        if let Some((key, value)) = buf.get_mut(n) {
            key.clear();
            key.push_str(k);
            value.clear();
            value.push_str(v);
        } else {
            buf.push((k.to_owned(), v.to_owned()));
        }
        n += 1;
    }
    buf.truncate(n);
}

#[derive(Default)]
struct Pass1 {
    ways: Vec<OsmWay>,
    relations: Vec<OsmRelation>,
    ways_read: u64,
    relations_read: u64,
    with_nodes: Vec<usize>,
    with_ways: Vec<usize>,
    tags: Tags,
}

impl Blocks for Pass1 {
    fn note(&mut self, index: usize, block: &PrimitiveBlock) {
        let c = contents(block);
        if c.nodes {
            self.with_nodes.push(index);
        }
        if c.ways {
            self.with_ways.push(index);
        }
    }

    fn defers_progress(&self, index: usize) -> bool {
        // A block with nodes is decoded again in pass 3, which counts it.
        self.with_nodes.last() == Some(&index)
    }
}

impl Pass1 {
    fn visit(&mut self, block: &PrimitiveBlock, filter: &ExtractFilter<'_>) -> Result<(), OsmError> {
        for group in block.groups() {
            for way in group.ways() {
                self.ways_read += 1;
                fill_tags(&mut self.tags, way.tags());
                if (filter.keep_way)(&self.tags) {
                    self.ways.push(OsmWay { id: way.id(), refs: way.refs().collect(), tags: self.tags.clone() });
                }
            }
            for relation in group.relations() {
                self.relations_read += 1;
                fill_tags(&mut self.tags, relation.tags());
                if (filter.keep_relation)(&self.tags) {
                    let members = relation
                        .members()
                        .map(|m| OsmMember {
                            kind: match m.member_type {
                                RelMemberType::Node => "node",
                                RelMemberType::Way => "way",
                                RelMemberType::Relation => "relation",
                            },
                            id: m.member_id,
                            role: m.role().unwrap_or_default().to_owned(),
                        })
                        .collect();
                    self.relations.push(OsmRelation { id: relation.id(), members, tags: self.tags.clone() });
                }
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Pass1) {
        self.ways.extend(other.ways);
        self.relations.extend(other.relations);
        self.ways_read += other.ways_read;
        self.relations_read += other.relations_read;
        self.with_nodes.extend(other.with_nodes);
        self.with_ways.extend(other.with_ways);
    }
}

fn collect_member_ways(block: &PrimitiveBlock, missing: &[i64], found: &mut Vec<OsmWay>) {
    for group in block.groups() {
        for way in group.ways() {
            if missing.binary_search(&way.id()).is_ok() {
                found.push(OsmWay { id: way.id(), refs: way.refs().collect(), tags: way.tags().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() });
            }
        }
    }
}

#[derive(Default)]
struct Pass3 {
    kept: Vec<(i64, OsmNode)>,
    nodes_read: u64,
    tags: Tags,
}

impl Blocks for Pass3 {}

impl Pass3 {
    fn visit(&mut self, block: &PrimitiveBlock, needed: &[i64], filter: &ExtractFilter<'_>) {
        for group in block.groups() {
            // Ids in a block usually ascend: walk `needed` alongside instead of searching it.
            let mut cursor = Cursor::new(needed);
            for node in group.dense_nodes() {
                self.nodes_read += 1;
                let is_needed = cursor.contains(node.id());
                let tagged = node.raw_tags().len() > 0;
                if is_needed || tagged {
                    self.keep(node.id(), node.lon(), node.lat(), is_needed, tagged.then(|| node.tags()), filter);
                }
            }
            for node in group.nodes() {
                self.nodes_read += 1;
                let is_needed = cursor.contains(node.id());
                let tagged = node.tags().len() > 0;
                if is_needed || tagged {
                    self.keep(node.id(), node.lon(), node.lat(), is_needed, tagged.then(|| node.tags()), filter);
                }
            }
        }
    }

    fn keep<'t>(&mut self, id: i64, lon: f64, lat: f64, needed: bool, tags: Option<impl Iterator<Item = (&'t str, &'t str)>>, filter: &ExtractFilter<'_>) {
        let tags = tags.and_then(|tags| {
            fill_tags(&mut self.tags, tags);
            (filter.keep_node)(&self.tags).then(|| self.tags.clone())
        });
        if needed || tags.is_some() {
            self.kept.push((id, OsmNode { lon, lat, tags }));
        }
    }
}

/// Membership test in a sorted slice for ids that mostly come in ascending order.
struct Cursor<'a> {
    sorted: &'a [i64],
    at: usize,
    last: i64,
}

impl<'a> Cursor<'a> {
    fn new(sorted: &'a [i64]) -> Self {
        Cursor { sorted, at: 0, last: i64::MIN }
    }

    fn contains(&mut self, id: i64) -> bool {
        if id < self.last {
            self.at = 0;
        }
        self.last = id;
        // Gallop forward: cheap for the next id, logarithmic for a jump.
        let rest = &self.sorted[self.at..];
        let mut step = 1;
        while step < rest.len() && rest[step - 1] < id {
            step *= 2;
        }
        let window = &rest[step / 2..step.min(rest.len())];
        self.at += step / 2 + window.partition_point(|&x| x < id);
        self.sorted.get(self.at) == Some(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_finds_ids_in_any_order() {
        let sorted = [2, 3, 5, 8, 13, 21, 34, 55, 89];
        let mut cursor = Cursor::new(&sorted);
        let ascending: Vec<bool> = (0..100).map(|id| cursor.contains(id)).collect();
        let expected: Vec<bool> = (0..100).map(|id| sorted.contains(&id)).collect();
        assert_eq!(ascending, expected);
        for id in [89, 2, 55, 4, 3, 100, -1, 34] {
            assert_eq!(cursor.contains(id), sorted.contains(&id), "{id}");
        }
        assert!(!Cursor::new(&[]).contains(1));
    }

    #[test]
    fn tag_buffers_are_refilled_exactly() {
        let mut buf: Tags = vec![("a".into(), "1".into()), ("b".into(), "2".into()), ("c".into(), "3".into())];
        fill_tags(&mut buf, [("x", "9"), ("y", "8")].into_iter());
        assert_eq!(buf, vec![("x".to_owned(), "9".to_owned()), ("y".to_owned(), "8".to_owned())]);
        fill_tags(&mut buf, std::iter::empty());
        assert!(buf.is_empty());
    }
}
