//! The street graph a hostile driver can use: OSM ways split into segments, both directions,
//! with the bend radius of every turn precomputed. One graph serves any number of sites.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use vigie_osm::{OsmExtract, Tags};

use crate::dynamics::corner_radius;

/// Mean Earth radius (m) for haversine distances (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// `highway` values a vehicle can drive on, whatever the legal access.
pub const DRIVABLE_HIGHWAYS: &[&str] = &[
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "busway",
    "track",
    "pedestrian",
];
/// `highway` values drivable only when tagged `width` ≥ [`GraphOptions::min_path_width_m`].
pub const WIDE_PATH_HIGHWAYS: &[&str] = &["footway", "cycleway", "path", "bridleway"];
/// `barrier` values taken as a stop (OSM carries no crash rating: each one relied on is reported).
pub const BLOCKING_BARRIERS: &[&str] = &["bollard", "block", "jersey_barrier"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphOptions {
    /// Footways, cycleways, paths and bridleways are drivable from this `width` (m).
    pub min_path_width_m: f64,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions { min_path_width_m: 2.5 }
    }
}

fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Reads a `width` tag in metres ("3", "2.5 m", "2,5"); other units are not trusted.
pub fn parse_width_m(value: &str) -> Option<f64> {
    let v = value.trim();
    let v = v.strip_suffix('m').unwrap_or(v).trim().replace(',', ".");
    v.parse::<f64>().ok().filter(|w| w.is_finite() && *w >= 0.0)
}

/// Whether a way with these tags belongs to the graph.
pub fn is_drivable_way(tags: &Tags, options: &GraphOptions) -> bool {
    match tag(tags, "highway") {
        Some(h) if DRIVABLE_HIGHWAYS.contains(&h) => true,
        Some(h) if WIDE_PATH_HIGHWAYS.contains(&h) => {
            tag(tags, "width").and_then(parse_width_m).is_some_and(|w| w >= options.min_path_width_m)
        }
        _ => false,
    }
}

/// The `barrier` value of a node that blocks vehicles, if any.
pub fn blocking_barrier(tags: &Tags) -> Option<&str> {
    tag(tags, "barrier").filter(|b| BLOCKING_BARRIERS.contains(b))
}

/// Haversine distance (m) between two lon/lat points in degrees.
pub fn haversine_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// A node tagged as a blocking barrier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Barrier {
    pub osm_node: i64,
    pub barrier: String,
    /// The `bollard=*` subtype when mapped: a `rising` or `removable` bollard may be down.
    pub bollard: Option<String>,
}

/// One way in the graph, for drawing and reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct WayInfo {
    pub osm_way: i64,
    pub highway: String,
    /// The street's name, for the labels of the maps.
    pub name: Option<String>,
}

/// Cell size of the node grid used to find the nodes around a site.
const GRID_CELL_M: f64 = 250.0;

/// Directed street graph in compressed form: edges are sorted by start node, and for each edge
/// the radii of the turns onto every edge leaving its end node are stored next to each other.
#[derive(Debug, Clone, Default)]
pub struct StreetGraph {
    /// (lon, lat) of each node, together: drawing a path reads both.
    pub(crate) coords: Vec<(f64, f64)>,
    /// Index into `barriers` + 1, or 0.
    pub(crate) barrier_of: Vec<u32>,
    pub(crate) barriers: Vec<Barrier>,
    pub(crate) out_start: Vec<u32>,
    pub(crate) from: Vec<u32>,
    pub(crate) to: Vec<u32>,
    pub(crate) length: Vec<f64>,
    pub(crate) way: Vec<u32>,
    pub(crate) ways: Vec<WayInfo>,
    pub(crate) turn_start: Vec<u32>,
    pub(crate) turn_radius: Vec<f32>,
    /// The opposite direction of each edge.
    pub(crate) reverse: Vec<u32>,
    pub(crate) options: GraphOptions,
    grid: HashMap<(i32, i32), Vec<u32>>,
    grid_lat0: f64,
}

/// A way given directly by coordinates: how tests and generators describe streets.
#[derive(Debug, Clone, PartialEq)]
pub struct WaySpec {
    pub osm_way: i64,
    pub highway: String,
    /// (osm node id, lon, lat).
    pub nodes: Vec<(i64, f64, f64)>,
}

impl StreetGraph {
    /// Builds the graph from an OSM extract: drivable ways, barrier nodes.
    pub fn from_extract(extract: &OsmExtract, options: &GraphOptions) -> StreetGraph {
        let mut builder = Builder::default();
        for way in &extract.ways {
            if !is_drivable_way(&way.tags, options) {
                continue;
            }
            let highway = tag(&way.tags, "highway").unwrap_or_default().to_owned();
            let name = tag(&way.tags, "name").map(str::to_owned);
            let nodes = way.refs.iter().map(|id| (*id, extract.nodes.get(id))).collect::<Vec<_>>();
            builder.add_way(
                WayInfo { osm_way: way.id, highway, name },
                nodes.iter().map(|(id, n)| n.map(|n| (*id, n.lon, n.lat, n.tags.as_ref()))),
            );
        }
        builder.finish(options.clone())
    }

    /// Builds the graph from ways given by coordinates, with barriers as (osm node id, tags).
    pub fn from_ways(ways: &[WaySpec], barriers: &[(i64, Tags)]) -> StreetGraph {
        let barrier_tags: HashMap<i64, &Tags> = barriers.iter().map(|(id, t)| (*id, t)).collect();
        let mut builder = Builder::default();
        for w in ways {
            builder.add_way(
                WayInfo { osm_way: w.osm_way, highway: w.highway.clone(), name: None },
                w.nodes.iter().map(|(id, lon, lat)| Some((*id, *lon, *lat, barrier_tags.get(id).copied()))),
            );
        }
        builder.finish(GraphOptions::default())
    }

    pub fn node_count(&self) -> usize {
        self.coords.len()
    }

    pub fn edge_count(&self) -> usize {
        self.from.len()
    }

    pub fn barrier_count(&self) -> usize {
        self.barriers.len()
    }

    /// The edges leaving `node` (none for a number that is not a node of this graph).
    pub fn out_edges(&self, node: u32) -> std::ops::Range<usize> {
        let n = node as usize;
        match self.out_start.get(n..n + 2) {
            Some(&[start, end]) => start as usize..end as usize,
            _ => 0..0,
        }
    }

    /// Indices in `turn_radius` of the turns at the end of `edge` (none for a number that is
    /// not an edge of this graph).
    pub(crate) fn turns(&self, edge: usize) -> std::ops::Range<usize> {
        match self.turn_start.get(edge..edge + 2) {
            Some(&[start, end]) => start as usize..end as usize,
            _ => 0..0,
        }
    }

    /// The radii of the turns at the end of `edge`, onto the edges leaving its end node in order.
    fn turn_radii(&self, edge: usize) -> &[f32] {
        self.turn_radius.get(self.turns(edge)).unwrap_or_default()
    }

    pub(crate) fn barrier_at(&self, node: u32) -> Option<&Barrier> {
        match self.barrier_of.get(node as usize) {
            None | Some(0) => None,
            Some(&i) => self.barriers.get(i as usize - 1),
        }
    }

    /// (lon, lat) of a node.
    ///
    /// # Panics
    /// If `node` is not a node of this graph: take it from [`Self::nodes_in_box`] or
    /// [`Self::edge_end`].
    // Public and infallible for its callers (vigie-server): node ids come from this graph.
    #[allow(clippy::indexing_slicing)]
    pub fn lon_lat(&self, node: u32) -> (f64, f64) {
        self.coords[node as usize]
    }

    /// The way an edge belongs to.
    pub fn edge_way(&self, edge: usize) -> Option<&WayInfo> {
        self.way.get(edge).and_then(|&w| self.ways.get(w as usize))
    }

    /// The node an edge (from `out_edges`) ends at: maps draw the street network with it.
    ///
    /// # Panics
    /// If `edge` is not an edge of this graph: take it from [`Self::out_edges`].
    // Public and infallible for its callers (vigie-server): edge ids come from `out_edges`.
    #[allow(clippy::indexing_slicing)]
    pub fn edge_end(&self, edge: usize) -> u32 {
        self.to[edge]
    }

    /// Nodes inside the box (degrees), found through the grid.
    pub fn nodes_in_box(&self, west: f64, south: f64, east: f64, north: f64) -> Vec<u32> {
        let (c0, r0) = self.cell(west, south);
        let (c1, r1) = self.cell(east, north);
        let mut found = Vec::new();
        // A box larger than the whole grid is clamped to the cells that exist.
        if (c1 - c0) as i64 * (r1 - r0) as i64 > self.grid.len() as i64 * 4 {
            found.extend((0..self.coords.len() as u32).filter(|&n| self.in_box(n, west, south, east, north)));
            return found;
        }
        for c in c0..=c1 {
            for r in r0..=r1 {
                if let Some(nodes) = self.grid.get(&(c, r)) {
                    found.extend(nodes.iter().copied().filter(|&n| self.in_box(n, west, south, east, north)));
                }
            }
        }
        found
    }

    fn in_box(&self, n: u32, west: f64, south: f64, east: f64, north: f64) -> bool {
        self.coords
            .get(n as usize)
            .is_some_and(|&(lon, lat)| lon >= west && lon <= east && lat >= south && lat <= north)
    }

    fn cell(&self, lon: f64, lat: f64) -> (i32, i32) {
        let m_per_deg = EARTH_RADIUS_M.to_radians();
        let x = lon * m_per_deg * self.grid_lat0.to_radians().cos();
        let y = lat * m_per_deg;
        ((x / GRID_CELL_M).floor() as i32, (y / GRID_CELL_M).floor() as i32)
    }
}

/// A graph whose chains of plain nodes (two neighbours, no barrier, a through bend that never
/// limits a speed) are merged into single edges: the whole-graph pass then touches about a
/// quarter of a grid's edges. Node numbers are those of the full graph; a merged node has no
/// edge leaving it. Edge `k` runs along the full graph's edges
/// `chain[chain_start[k]..chain_start[k + 1]]`, and the turns at its end are those of the
/// last of them, onto the same edges in the same order. Only what label-correcting reads is
/// filled in (no coordinates, ways or reverse edges).
pub(crate) struct Collapsed {
    pub(crate) graph: StreetGraph,
    pub(crate) chain_start: Vec<u32>,
    pub(crate) chain: Vec<u32>,
}

impl StreetGraph {
    /// Merges the nodes where the vehicle can only go straight on through a bend of radius at
    /// least `free_radius_m` (it never limits the speed) or turn back through one of at most
    /// `stop_radius_m` (it never raises a label). Labels on the merged graph are then those of
    /// the full graph at the start of each chain, the rest following by acceleration alone.
    /// A ring made only of such nodes keeps one node per edge, so every edge is in one chain.
    pub(crate) fn collapse_chains(&self, free_radius_m: f64, stop_radius_m: f64) -> Collapsed {
        // The turns onto a node's two edges are those at the end of their reverses: onto the
        // edge itself (back) and onto the other one (through), in the order of `out_edges`.
        let bends = |k: usize, o: usize| match self.reverse.get(o).map(|&r| self.turn_radii(r as usize)) {
            Some(&[a, b]) => Some(if k == 0 { (a, b) } else { (b, a) }),
            _ => None,
        };
        // A node whose turns cannot be read is kept: keeping a node is always correct.
        let plain = |x: usize, barrier: u32| -> bool {
            let outs = self.out_edges(x as u32);
            barrier == 0
                && outs.len() == 2
                && outs.enumerate().all(|(k, o)| {
                    bends(k, o)
                        .is_some_and(|(back, through)| back as f64 <= stop_radius_m && through as f64 >= free_radius_m)
                })
        };
        let mut kept: Vec<bool> = self.barrier_of.iter().enumerate().map(|(x, &b)| !plain(x, b)).collect();
        loop {
            let collapsed = self.merge(&kept);
            if collapsed.chain.len() == self.edge_count() {
                return collapsed;
            }
            // Only rings of plain nodes are left out: keep their nodes and merge again.
            let mut covered = vec![false; self.edge_count()];
            for &e in &collapsed.chain {
                if let Some(c) = covered.get_mut(e as usize) {
                    *c = true;
                }
            }
            for (&a, _) in self.from.iter().zip(&covered).filter(|&(_, &c)| !c) {
                if let Some(k) = kept.get_mut(a as usize) {
                    *k = true;
                }
            }
        }
    }

    /// One merged edge for each edge leaving a kept node, running on until a kept node.
    // Whole-graph pass: `to`/`reverse` are ids made by `Builder::finish`, `kept` has one entry per node.
    #[allow(clippy::indexing_slicing)]
    fn merge(&self, kept: &[bool]) -> Collapsed {
        let n = self.node_count();
        let mut out_start = vec![0u32; n + 1];
        let (mut from, mut to, mut length, mut chain_start, mut chain) =
            (Vec::new(), Vec::new(), Vec::new(), vec![0u32], Vec::new());
        for a in 0..n {
            out_start[a + 1] = out_start[a];
            if !kept[a] {
                continue;
            }
            for o in self.out_edges(a as u32) {
                let (mut e, mut metres) = (o, self.length[o]);
                chain.push(o as u32);
                while !kept[self.to[e] as usize] {
                    let outs = self.out_edges(self.to[e]);
                    e = if outs.start as u32 == self.reverse[e] { outs.start + 1 } else { outs.start };
                    metres += self.length[e];
                    chain.push(e as u32);
                }
                from.push(a as u32);
                to.push(self.to[e]);
                length.push(metres);
                chain_start.push(chain.len() as u32);
                out_start[a + 1] += 1;
            }
        }
        let last = |k: usize| chain[chain_start[k + 1] as usize - 1] as usize;
        let mut turn_start = vec![0u32];
        let mut turn_radius = Vec::new();
        for k in 0..from.len() {
            turn_radius.extend_from_slice(&self.turn_radius[self.turns(last(k))]);
            turn_start.push(turn_radius.len() as u32);
        }
        let graph = StreetGraph {
            barrier_of: self.barrier_of.clone(),
            out_start,
            from,
            to,
            length,
            turn_start,
            turn_radius,
            ..StreetGraph::default()
        };
        Collapsed { graph, chain_start, chain }
    }
}

#[derive(Default)]
struct Builder {
    index: HashMap<i64, u32>,
    lon: Vec<f64>,
    lat: Vec<f64>,
    barrier_of: Vec<u32>,
    barriers: Vec<Barrier>,
    segments: Vec<(u32, u32, u32)>,
    ways: Vec<WayInfo>,
}

impl Builder {
    fn node(&mut self, id: i64, lon: f64, lat: f64, tags: Option<&Tags>) -> u32 {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.lon.len() as u32;
        self.index.insert(id, i);
        self.lon.push(lon);
        self.lat.push(lat);
        let barrier = tags.and_then(|t| {
            blocking_barrier(t).map(|b| Barrier {
                osm_node: id,
                barrier: b.to_owned(),
                bollard: tag(t, "bollard").map(str::to_owned),
            })
        });
        match barrier {
            Some(b) => {
                self.barriers.push(b);
                self.barrier_of.push(self.barriers.len() as u32);
            }
            None => self.barrier_of.push(0),
        }
        i
    }

    /// Adds the segments of a way; a node missing from the extract breaks the way there.
    fn add_way<'a>(&mut self, info: WayInfo, nodes: impl Iterator<Item = Option<(i64, f64, f64, Option<&'a Tags>)>>) {
        let way = self.ways.len() as u32;
        self.ways.push(info);
        let mut previous: Option<u32> = None;
        for node in nodes {
            let current = node.map(|(id, lon, lat, tags)| self.node(id, lon, lat, tags));
            let at = |i: u32| (self.lon.get(i as usize), self.lat.get(i as usize));
            if let (Some(a), Some(b)) = (previous, current)
                && a != b
                && at(a) != at(b)
            {
                self.segments.push((a, b, way));
            }
            previous = current;
        }
    }

    /// Renumbers the nodes along a Hilbert curve over their box, so that nodes close on the
    /// map are close in memory, and with them their edges and labels: spreading a speed along
    /// a street, or around a site, then mostly reads memory already in the cache (OSM numbers
    /// nodes in the order they were mapped, which is no order at all).
    // `order` is a permutation of the node numbers made by `node`, which also end every segment.
    #[allow(clippy::indexing_slicing)]
    fn in_map_order(mut self) -> Builder {
        let n = self.lon.len();
        let span = |v: &[f64]| v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let ((west, east), (south, north)) = (span(&self.lon), span(&self.lat));
        let cell = |x: f64, lo: f64, hi: f64| {
            if hi > lo {
                ((x - lo) / (hi - lo) * HILBERT_SIDE as f64).clamp(0.0, HILBERT_SIDE as f64 - 1.0) as u32
            } else {
                0
            }
        };
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_cached_key(|&i| {
            hilbert_index(cell(self.lon[i as usize], west, east), cell(self.lat[i as usize], south, north))
        });
        let mut renumbered = vec![0u32; n];
        for (new, &old) in order.iter().enumerate() {
            renumbered[old as usize] = new as u32;
        }
        let pick = |v: &[f64]| order.iter().map(|&i| v[i as usize]).collect::<Vec<f64>>();
        (self.lon, self.lat) = (pick(&self.lon), pick(&self.lat));
        self.barrier_of = order.iter().map(|&i| self.barrier_of[i as usize]).collect();
        for (a, b, _) in &mut self.segments {
            (*a, *b) = (renumbered[*a as usize], renumbered[*b as usize]);
        }
        self
    }

    // Counting sort: every index is a node number made by `node` (< n) or an edge slot counted here (< e).
    #[allow(clippy::indexing_slicing)]
    fn finish(self, options: GraphOptions) -> StreetGraph {
        let this = self.in_map_order();
        let n = this.lon.len();
        let mut out_start = vec![0u32; n + 1];
        for &(a, b, _) in &this.segments {
            out_start[a as usize + 1] += 1;
            out_start[b as usize + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
        }
        let e = out_start[n] as usize;
        let mut fill = out_start.clone();
        let (mut from, mut to, mut way, mut reverse) = (vec![0u32; e], vec![0u32; e], vec![0u32; e], vec![0u32; e]);
        for &(a, b, w) in &this.segments {
            let mut slots = [0usize; 2];
            for (k, (s, t)) in [(a, b), (b, a)].into_iter().enumerate() {
                let slot = fill[s as usize] as usize;
                fill[s as usize] += 1;
                from[slot] = s;
                to[slot] = t;
                way[slot] = w;
                slots[k] = slot;
            }
            reverse[slots[0]] = slots[1] as u32;
            reverse[slots[1]] = slots[0] as u32;
        }
        let m_per_deg = EARTH_RADIUS_M.to_radians();
        let mut length = Vec::with_capacity(e);
        // Direction of travel (radians) in the planar east-north projection at the segment.
        let mut heading = Vec::with_capacity(e);
        for i in 0..e {
            let (a, b) = (from[i] as usize, to[i] as usize);
            length.push(haversine_m(this.lon[a], this.lat[a], this.lon[b], this.lat[b]));
            let mid_lat = ((this.lat[a] + this.lat[b]) / 2.0).to_radians();
            let dx = (this.lon[b] - this.lon[a]) * m_per_deg * mid_lat.cos();
            let dy = (this.lat[b] - this.lat[a]) * m_per_deg;
            heading.push(dy.atan2(dx));
        }
        let mut turn_start = Vec::with_capacity(e + 1);
        let mut turn_radius = Vec::new();
        turn_start.push(0u32);
        for i in 0..e {
            let b = to[i] as usize;
            for j in out_start[b] as usize..out_start[b + 1] as usize {
                let theta = deflection(heading[i], heading[j]);
                turn_radius.push(corner_radius(length[i], length[j], theta) as f32);
            }
            turn_start.push(turn_radius.len() as u32);
        }
        let grid_lat0 = if n == 0 { 0.0 } else { this.lat.iter().sum::<f64>() / n as f64 };
        let mut graph = StreetGraph {
            coords: this.lon.into_iter().zip(this.lat).collect(),
            barrier_of: this.barrier_of,
            barriers: this.barriers,
            out_start,
            from,
            to,
            length,
            way,
            ways: this.ways,
            turn_start,
            turn_radius,
            reverse,
            options,
            grid: HashMap::new(),
            grid_lat0,
        };
        let mut grid: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        for i in 0..n as u32 {
            let (lon, lat) = graph.lon_lat(i);
            grid.entry(graph.cell(lon, lat)).or_default().push(i);
        }
        graph.grid = grid;
        graph
    }
}

/// Cells per side of the grid the Hilbert curve visits.
const HILBERT_SIDE: u32 = 1 << 16;

/// Position of cell (x, y) along the Hilbert curve over a [`HILBERT_SIDE`]² grid: each level
/// picks the quadrant in curve order, then turns the cell into that quadrant's frame.
fn hilbert_index(mut x: u32, mut y: u32) -> u64 {
    let mut d = 0u64;
    let mut s = HILBERT_SIDE / 2;
    while s > 0 {
        let (rx, ry) = (u32::from(x & s != 0), u32::from(y & s != 0));
        d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                (x, y) = (HILBERT_SIDE - 1 - x, HILBERT_SIDE - 1 - y);
            }
            (x, y) = (y, x);
        }
        s /= 2;
    }
    d
}

/// Angle (radians, 0..=π) between two headings.
pub fn deflection(h1: f64, h2: f64) -> f64 {
    let mut d = (h2 - h1).abs() % std::f64::consts::TAU;
    if d > std::f64::consts::PI {
        d = std::f64::consts::TAU - d;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn which_ways_are_drivable() {
        let o = GraphOptions::default();
        assert!(is_drivable_way(&tags(&[("highway", "pedestrian"), ("area", "yes")]), &o));
        assert!(is_drivable_way(&tags(&[("highway", "residential"), ("oneway", "yes"), ("access", "no")]), &o));
        assert!(!is_drivable_way(&tags(&[("highway", "steps"), ("width", "6")]), &o));
        assert!(!is_drivable_way(&tags(&[("highway", "footway")]), &o));
        assert!(!is_drivable_way(&tags(&[("highway", "footway"), ("width", "2")]), &o));
        assert!(is_drivable_way(&tags(&[("highway", "footway"), ("width", "2.5 m")]), &o));
        assert!(is_drivable_way(&tags(&[("highway", "cycleway"), ("width", "3,0")]), &o));
        assert!(!is_drivable_way(&tags(&[("highway", "path"), ("width", "10'")]), &o));
        assert!(!is_drivable_way(&tags(&[("building", "yes")]), &o));
    }

    #[test]
    fn the_hilbert_curve_visits_every_cell_once_stepping_to_a_neighbour() {
        // On the top-level 4×4 corner of the grid the curve is the classic one; check the
        // steps are between neighbouring cells over a 64×64 corner of the whole grid.
        let mut cells: Vec<(u64, (u32, u32))> =
            (0..64u32).flat_map(|x| (0..64u32).map(move |y| (hilbert_index(x, y), (x, y)))).collect();
        cells.sort_unstable();
        for w in cells.windows(2) {
            let ((d0, (x0, y0)), (d1, (x1, y1))) = (w[0], w[1]);
            assert_eq!(d1, d0 + 1, "{w:?}");
            assert_eq!(x0.abs_diff(x1) + y0.abs_diff(y1), 1, "{w:?}");
        }
    }

    #[test]
    fn haversine_one_degree_of_latitude() {
        let d = haversine_m(0.0, 0.0, 0.0, 1.0);
        assert!((d - 111_195.08).abs() < 0.1, "{d}");
    }

    #[test]
    fn both_directions_and_turn_radii() {
        let way = WaySpec {
            osm_way: 1,
            highway: "residential".into(),
            nodes: vec![(1, 0.0, 0.0), (2, 0.001, 0.0), (3, 0.001, 0.001)],
        };
        let g = StreetGraph::from_ways(&[way], &[]);
        assert_eq!(g.node_count(), 3);
        assert_eq!(g.edge_count(), 4);
        // Edge 1→2 then 2→3 is a right-angle turn, 2→1 a U-turn.
        let e12 = g.out_edges(0).start;
        let turns: Vec<f32> = g.turns(e12).map(|t| g.turn_radius[t]).collect();
        assert_eq!(turns.len(), 2);
        assert!(turns.contains(&0.0));
        let min_len = g.length[e12].min(111.0);
        assert!(turns.iter().any(|r| (*r as f64 - min_len / 2.0).abs() < 0.5), "{turns:?}");
    }
}
