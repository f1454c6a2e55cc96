//! The extract reader: parallel passes over the frames of a PBF file.
//!
//! Node blocks are most of a file and the costliest part to decode, so each block is decoded
//! once where possible:
//! 1. pass 1 walks the blocks from the end (files are sorted nodes, ways, relations), keeping
//!    accepted relations, then accepted ways and the member ways of kept relations; the nodes
//!    of the blocks it decodes are set aside. It stops at the first block holding only nodes:
//!    all blocks before it are node blocks too;
//! 2. pass 2 (rarely needed) decodes again the way blocks that may hold member ways a
//!    parallel thread passed before their relation was seen;
//! 3. pass 3 decodes the remaining node blocks, keeping the coordinates the kept ways use and
//!    the accepted tagged nodes.
//!
//! An unsorted file (ways before nodes) is detected in pass 3 and read again in one pass 1
//! over every block, which then holds every node of the file in memory until the end.
use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use crate::frame::{Frame, FrameKind, index_frames, read_blob, unreadable};
use crate::pbf::{self, Block, DecodeError, Inflater, Member, MemberKind, RawTags};
use crate::{ExtractFilter, NodeMap, OsmError, OsmExtract, OsmMember, OsmNode, OsmRelation, OsmWay, Progress, Tags};

/// Header features this reader understands; a file requiring any other is refused.
const SUPPORTED_FEATURES: [&str; 4] = ["OsmSchema-V0.6", "DenseNodes", "Sort.Type_then_ID", "Sort.Geographic"];

pub(crate) fn read(
    path: &std::path::Path,
    filter: &ExtractFilter<'_>,
    progress: &dyn Progress,
) -> Result<OsmExtract, OsmError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| unreadable(&name, e))?;
    let file_len = file.metadata().map_err(|e| unreadable(&name, e))?.len();
    let frames = index_frames(&name, file, file_len)?;
    let source = Source { path, name: &name, frames: &frames, progress: ProgressCounter::new(progress, file_len) };
    source.check_header()?;
    let data: Vec<usize> =
        frames.iter().enumerate().filter(|(_, f)| f.kind == FrameKind::Data).map(|(i, _)| i).collect();
    let extract = match source.read_blocks(filter, &data, true)? {
        Some(extract) => extract,
        // Ways among the node blocks: the file is not sorted; read every block in pass 1.
        None => source.read_blocks(filter, &data, false)?.ok_or_else(|| OsmError::Corrupt {
            path: name.clone(),
            reason: "the blocks are in an order this reader cannot follow".to_owned(),
        })?,
    };
    progress.advance(file_len, file_len);
    Ok(extract)
}

struct Source<'a> {
    path: &'a std::path::Path,
    name: &'a str,
    frames: &'a [Frame],
    progress: ProgressCounter<'a>,
}

/// State the threads of pass 1 share.
struct Pass1Shared {
    /// Member way ids of the relations kept so far, each with its rank of arrival (so a way
    /// block seen when the set had `n` entries saw exactly the ids ranked below `n`).
    wanted: RwLock<HashMap<i64, usize>>,
    /// Highest index of a block found to hold only nodes: the blocks below it are node blocks.
    node_blocks_below: AtomicUsize,
    early_stop: bool,
}

impl Source<'_> {
    fn check_header(&self) -> Result<(), OsmError> {
        let Some((index, frame)) = self.frames.iter().enumerate().find(|(_, f)| f.kind == FrameKind::Header) else {
            return Err(OsmError::NotPbf { path: self.name.to_owned(), reason: "it has no header block".to_owned() });
        };
        let mut file = File::open(self.path).map_err(|e| unreadable(self.name, e))?;
        let mut buf = Vec::new();
        read_blob(self.name, &mut file, frame, &mut buf)?;
        let mut inflater = Inflater::default();
        let features = pbf::blob(&buf).and_then(|data| inflater.block(data)).and_then(pbf::required_features);
        let unsupported = match features {
            Ok(features) => features.into_iter().find(|f| !SUPPORTED_FEATURES.contains(f)),
            Err(error) => return Err(self.decode_error(index, error)),
        };
        match unsupported {
            Some("HistoricalInformation") => Err(OsmError::NotPbf {
                path: self.name.to_owned(),
                reason: "it is a history file (all past versions); Vigie reads extracts of the current map".to_owned(),
            }),
            Some(feature) => Err(OsmError::NotPbf {
                path: self.name.to_owned(),
                reason: format!("it requires the feature \"{feature}\", which this reader does not support"),
            }),
            None => Ok(()),
        }
    }

    fn decode_error(&self, frame: usize, error: DecodeError) -> OsmError {
        let offset = self.frames.get(frame).map_or(0, |f| f.offset);
        match error {
            DecodeError::UnsupportedCompression(_) => OsmError::NotPbf {
                path: self.name.to_owned(),
                reason: format!("block {} at byte {offset}: {error}", frame + 1),
            },
            _ => OsmError::Corrupt {
                path: self.name.to_owned(),
                reason: format!("block {} at byte {offset} cannot be decoded ({error})", frame + 1),
            },
        }
    }

    /// Runs the passes over the data blocks `data`; with `early_stop`, pass 1 stops at the
    /// node blocks and returns `None` if pass 3 then finds ways or relations among them.
    fn read_blocks(
        &self,
        filter: &ExtractFilter<'_>,
        data: &[usize],
        early_stop: bool,
    ) -> Result<Option<OsmExtract>, OsmError> {
        // Pass 1, from the last block backwards.
        let shared =
            Pass1Shared { wanted: RwLock::new(HashMap::new()), node_blocks_below: AtomicUsize::new(0), early_stop };
        let backwards: Vec<usize> = data.iter().rev().copied().collect();
        let skip = |index: usize| early_stop && index < shared.node_blocks_below.load(Ordering::Relaxed);
        let parts = self.run(&backwards, true, &skip, |state: &mut Pass1, index, block| {
            state.visit(index, block, filter, &shared)
        })?;
        let mut pass1 = Pass1::default();
        for part in parts {
            pass1.merge(part);
        }
        let wanted = shared.wanted.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());

        // Pass 2: member ways that a thread passed before their relation was kept.
        let mut ways = pass1.ways;
        ways.sort_unstable_by_key(|w| w.id);
        ways.dedup_by_key(|w| w.id);
        let mut missing: Vec<i64> =
            pass1.relations.iter().flat_map(|r| &r.members).filter(|m| m.kind == "way").map(|m| m.id).collect();
        missing.sort_unstable();
        missing.dedup();
        missing.retain(|id| ways.binary_search_by_key(id, |w| w.id).is_err());
        // A block needs a second look if its id range holds a missing way that became wanted
        // after the block was read. (Ways missing from a clipped extract are in no block.)
        let missed = |&(_, low, high, seen): &(usize, i64, i64, usize)| {
            missing
                .iter()
                .skip(missing.partition_point(|&id| id < low))
                .take_while(|&&id| id <= high)
                .any(|id| wanted.get(id).is_some_and(|&rank| rank >= seen))
        };
        let way_blocks: Vec<usize> = pass1.way_ranges.iter().filter(|r| missed(r)).map(|&(index, ..)| index).collect();
        if !way_blocks.is_empty() {
            let parts = self.run(&way_blocks, false, &|_| false, |found: &mut Vec<OsmWay>, _, block| {
                collect_member_ways(block, &missing, found)
            })?;
            ways.extend(parts.into_iter().flatten());
            ways.sort_unstable_by_key(|w| w.id);
            ways.dedup_by_key(|w| w.id);
        }

        // Pass 3: the node blocks pass 1 did not decode.
        let mut needed: Vec<i64> = ways.iter().flat_map(|w| w.refs.iter().copied()).collect();
        needed.sort_unstable();
        needed.dedup();
        pass1.decoded.sort_unstable();
        let node_blocks: Vec<usize> =
            data.iter().copied().filter(|i| pass1.decoded.binary_search(i).is_err()).collect();
        let unsorted = AtomicBool::new(false);
        let parts = self.run(&node_blocks, true, &|_| false, |state: &mut Pass3, _, block| {
            let c = block.contents();
            if c.ways || c.relations {
                unsorted.store(true, Ordering::Relaxed);
            }
            state.visit(block, &needed, filter)
        })?;
        if unsorted.load(Ordering::Relaxed) {
            return Ok(None);
        }

        // Each thread of pass 3 filled its own map (no list of kept nodes copied into a map at
        // the end): the largest is kept as it is and the others are added to it.
        let nodes_read = pass1.nodes_read + parts.iter().map(|p| p.nodes_read).sum::<u64>();
        let mut maps: Vec<NodeMap> = parts.into_iter().map(|p| p.kept).collect();
        let largest = maps.iter().enumerate().max_by_key(|(_, m)| m.len()).map(|(i, _)| i);
        let mut nodes = largest.map(|i| maps.swap_remove(i)).unwrap_or_default();
        nodes.reserve(maps.iter().map(NodeMap::len).sum::<usize>() + pass1.nodes.len());
        for map in maps {
            nodes.extend(map);
        }
        nodes.extend(
            pass1.nodes.into_iter().filter(|(id, node)| node.tags.is_some() || needed.binary_search(id).is_ok()),
        );
        let mut relations = pass1.relations;
        relations.sort_unstable_by_key(|r| r.id);
        relations.dedup_by_key(|r| r.id);
        Ok(Some(OsmExtract {
            nodes,
            ways,
            relations,
            nodes_read,
            ways_read: pass1.ways_read,
            relations_read: pass1.relations_read,
        }))
    }

    /// Decodes the frames `blocks` (indices into `self.frames`, taken in that order) on all
    /// cores, folding each primitive block into a per-thread `T`. Blocks for which `skip`
    /// holds when their turn comes are not decoded. `counted` blocks move the progress bar.
    fn run<T, F>(
        &self,
        blocks: &[usize],
        counted: bool,
        skip: &(dyn Fn(usize) -> bool + Sync),
        visit: F,
    ) -> Result<Vec<T>, OsmError>
    where
        T: Default + Send,
        F: Fn(&mut T, usize, &Block<'_>) -> Result<(), DecodeError> + Sync,
    {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(blocks.len()).max(1);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let worker = || -> Result<T, (usize, OsmError)> {
            let mut state = T::default();
            let mut file = File::open(self.path).map_err(|e| (0, unreadable(self.name, e)))?;
            let mut buf = Vec::new();
            let mut inflater = Inflater::default();
            while let Some(&index) = blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                if skip(index) {
                    continue;
                }
                let Some(frame) = self.frames.get(index) else {
                    failed.store(true, Ordering::Relaxed);
                    let reason = format!("block {} is not in the file's index", index + 1);
                    return Err((index, OsmError::Corrupt { path: self.name.to_owned(), reason }));
                };
                let outcome = read_blob(self.name, &mut file, frame, &mut buf).and_then(|()| {
                    let bytes = pbf::blob(&buf).and_then(|data| inflater.block(data));
                    bytes
                        .and_then(|bytes| visit(&mut state, index, &Block::parse(bytes)?))
                        .map_err(|error| self.decode_error(index, error))
                });
                if let Err(error) = outcome {
                    failed.store(true, Ordering::Relaxed);
                    return Err((index, error));
                }
                if counted {
                    self.progress.add(frame.len);
                }
            }
            Ok(state)
        };
        let results: Vec<Result<T, (usize, OsmError)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err((
                            usize::MAX,
                            OsmError::Corrupt {
                                path: self.name.to_owned(),
                                reason: "a reading thread failed unexpectedly".to_owned(),
                            },
                        ))
                    })
                })
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

/// The tags of the element being read, refilled element after element without allocating:
/// the strings of elements with more tags are kept aside for the next ones.
#[derive(Default)]
struct TagBuffer {
    tags: Tags,
    spare: Tags,
}

impl TagBuffer {
    fn fill<'t>(
        &mut self,
        tags: impl Iterator<Item = Result<(&'t str, &'t str), DecodeError>>,
    ) -> Result<&Tags, DecodeError> {
        let mut n = 0;
        for tag in tags {
            let (k, v) = tag?;
            if n == self.tags.len() {
                self.tags.push(self.spare.pop().unwrap_or_default());
            }
            if let Some((key, value)) = self.tags.get_mut(n) {
                key.clear();
                key.push_str(k);
                value.clear();
                value.push_str(v);
            }
            n += 1;
        }
        self.spare.extend(self.tags.drain(n..));
        Ok(&self.tags)
    }
}

#[derive(Default)]
struct Pass1 {
    ways: Vec<OsmWay>,
    relations: Vec<OsmRelation>,
    /// Every node of the decoded blocks, with its tags when `keep_node` accepts them.
    nodes: Vec<(i64, OsmNode)>,
    nodes_read: u64,
    ways_read: u64,
    relations_read: u64,
    /// Indices of the decoded blocks.
    decoded: Vec<usize>,
    /// For each decoded block holding ways: its index, its lowest and highest way id, and how
    /// many wanted member ways were known when it was read.
    way_ranges: Vec<(usize, i64, i64, usize)>,
    tags: TagBuffer,
}

impl Pass1 {
    fn visit(
        &mut self,
        index: usize,
        block: &Block<'_>,
        filter: &ExtractFilter<'_>,
        shared: &Pass1Shared,
    ) -> Result<(), DecodeError> {
        self.decoded.push(index);
        let c = block.contents();
        if shared.early_stop && c.nodes && !c.ways && !c.relations {
            shared.node_blocks_below.fetch_max(index, Ordering::Relaxed);
        }
        // Relations first, so that member ways in the same block are recognised.
        let mut member_ways = Vec::new();
        for relation in block.relations() {
            let relation = relation?;
            self.relations_read += 1;
            let tags = self.tags.fill(relation.tags.resolve(block))?;
            if (filter.keep_relation)(tags) {
                let members = relation.members(block).map(|m| m.map(member)).collect::<Result<Vec<_>, _>>()?;
                let kept = OsmRelation { id: relation.id, members, tags: tags.clone() };
                member_ways.extend(kept.members.iter().filter(|m| m.kind == "way").map(|m| m.id));
                self.relations.push(kept);
            }
        }
        if !member_ways.is_empty() {
            let mut wanted = shared.wanted.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            for id in member_ways {
                let rank = wanted.len();
                wanted.entry(id).or_insert(rank);
            }
        }
        if c.ways {
            let wanted = shared.wanted.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (mut low, mut high) = (i64::MAX, i64::MIN);
            for way in block.ways() {
                let way = way?;
                self.ways_read += 1;
                (low, high) = (low.min(way.id), high.max(way.id));
                let tags = self.tags.fill(way.tags.resolve(block))?;
                if (filter.keep_way)(tags) || wanted.contains_key(&way.id) {
                    self.ways.push(OsmWay {
                        id: way.id,
                        refs: way.refs().collect::<Result<_, _>>()?,
                        tags: tags.clone(),
                    });
                }
            }
            self.way_ranges.push((index, low, high, wanted.len()));
        }
        block.for_each_node(|node| {
            self.nodes_read += 1;
            let tags = keep_tags(&mut self.tags, node.tags, block, filter)?;
            self.nodes.push((node.id, OsmNode { lon: node.lon(), lat: node.lat(), tags }));
            Ok(())
        })
    }

    fn merge(&mut self, other: Pass1) {
        self.ways.extend(other.ways);
        self.relations.extend(other.relations);
        self.nodes.extend(other.nodes);
        self.nodes_read += other.nodes_read;
        self.ways_read += other.ways_read;
        self.relations_read += other.relations_read;
        self.decoded.extend(other.decoded);
        self.way_ranges.extend(other.way_ranges);
    }
}

fn member(m: Member<'_>) -> OsmMember {
    let kind = match m.kind {
        MemberKind::Node => "node",
        MemberKind::Way => "way",
        MemberKind::Relation => "relation",
    };
    OsmMember { kind, id: m.id, role: m.role.to_owned() }
}

/// The tags of a node, when it has some and `keep_node` accepts them.
fn keep_tags(
    buf: &mut TagBuffer,
    tags: RawTags<'_>,
    block: &Block<'_>,
    filter: &ExtractFilter<'_>,
) -> Result<Option<Tags>, DecodeError> {
    if tags.is_empty() {
        return Ok(None);
    }
    let tags = buf.fill(tags.resolve(block))?;
    Ok((filter.keep_node)(tags).then(|| tags.clone()))
}

fn collect_member_ways(block: &Block<'_>, missing: &[i64], found: &mut Vec<OsmWay>) -> Result<(), DecodeError> {
    for way in block.ways() {
        let way = way?;
        if missing.binary_search(&way.id).is_ok() {
            let tags = way
                .tags
                .resolve(block)
                .map(|t| t.map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect::<Result<_, _>>()?;
            found.push(OsmWay { id: way.id, refs: way.refs().collect::<Result<_, _>>()?, tags });
        }
    }
    Ok(())
}

#[derive(Default)]
struct Pass3 {
    kept: NodeMap,
    nodes_read: u64,
    tags: TagBuffer,
}

impl Pass3 {
    fn visit(&mut self, block: &Block<'_>, needed: &[i64], filter: &ExtractFilter<'_>) -> Result<(), DecodeError> {
        // Ids in a block usually ascend: walk `needed` alongside instead of searching it.
        let mut cursor = Cursor::new(needed);
        block.for_each_node(|node| {
            self.nodes_read += 1;
            let is_needed = cursor.contains(node.id);
            let tags = keep_tags(&mut self.tags, node.tags, block, filter)?;
            if is_needed || tags.is_some() {
                self.kept.insert(node.id, OsmNode { lon: node.lon(), lat: node.lat(), tags });
            }
            Ok(())
        })
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
        // Most ids fall before the next needed one.
        match self.sorted.get(self.at) {
            Some(&next) if next >= id => return next == id,
            None => return false,
            Some(_) => {}
        }
        // Gallop forward: cheap for the next id, logarithmic for a jump.
        let rest = self.sorted.get(self.at..).unwrap_or_default();
        let mut step = 1;
        while step < rest.len() && rest.get(step - 1).is_some_and(|&x| x < id) {
            step *= 2;
        }
        let window = rest.get(step / 2..step.min(rest.len())).unwrap_or_default();
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
        let mut buf = TagBuffer::default();
        let three = [Ok(("a", "1")), Ok(("b", "2")), Ok(("c", "3"))];
        let tags = |buf: &TagBuffer| buf.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        buf.fill(three.into_iter()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tags(&buf), "a=1,b=2,c=3");
        buf.fill([Ok(("x", "9")), Ok(("y", "8"))].into_iter()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tags(&buf), "x=9,y=8");
        buf.fill(std::iter::empty()).unwrap_or_else(|e| panic!("{e}"));
        assert!(buf.tags.is_empty());
        buf.fill(three.into_iter()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tags(&buf), "a=1,b=2,c=3");
        assert!(buf.fill([Ok(("k", "v")), Err(DecodeError::UnterminatedTags)].into_iter()).is_err());
    }
}
