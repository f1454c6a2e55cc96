//! Vehicle dynamics assessment (VDA): the highest speed each vehicle class can reach where the
//! street network enters a site.
//!
//! The speeds are labels on directed edges: the speed at the start of the edge, after the bend
//! at its start node. They are computed once for the whole graph ([`Analyser::new`]), then
//! recomputed around each site without passing through the site itself, seeded with the
//! whole-graph labels at the edge of that neighbourhood.
use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use vigie_domain::geometry::SiteGeometry;

use crate::dynamics::{DynamicsParams, KMH_PER_MS, VehicleClass, energy_kj};
use crate::graph::{
    BLOCKING_BARRIERS, DRIVABLE_HIGHWAYS, EARTH_RADIUS_M, GraphOptions, StreetGraph, WIDE_PATH_HIGHWAYS, deflection,
};

const NONE: u32 = u32::MAX;
/// Longest critical path drawn back from an access point, in edges (guards against cycles).
const MAX_PATH_EDGES: usize = 5_000;

#[derive(Debug, Clone, Copy)]
struct Label {
    /// m/s at the start of the edge.
    speed: f64,
    /// m since the last speed-limiting bend or the start.
    run_up: f64,
    /// The edge before this one on the best path, or NONE when starting from rest.
    pred: u32,
    /// Distance from rest to `speed` (m), S(speed): lets most relaxations be ruled out by one
    /// addition and comparison, without solving for a speed.
    dist: f64,
}

const REST: Label = Label { speed: 0.0, run_up: 0.0, pred: NONE, dist: 0.0 };

/// The whole-graph labels of one class.
#[derive(Debug, Clone)]
struct Field {
    labels: Vec<Label>,
}

/// One directed edge as label-correcting reads it. Spreading a label is bound by memory
/// latency, not arithmetic: with the edge's length, turns and end node kept in one place, a
/// relaxation touches a few cache lines instead of one per array of the street graph.
#[derive(Debug, Clone, Copy)]
struct Hop {
    length: f64,
    /// Its turns are `turns[first_turn..]` up to the next hop's `first_turn`.
    first_turn: u32,
    /// A blocking barrier stands at its end node.
    barrier_at_end: bool,
}

#[derive(Debug, Clone, Copy)]
struct Turn {
    /// The hop turned onto.
    to: u32,
    /// Radius (m) of the bend.
    radius: f32,
}

/// A set of edges of the street graph and the turns between them, in the layout of [`Hop`].
struct Net {
    /// One more than there are edges: the last one only ends the turns of the one before.
    hops: Vec<Hop>,
    turns: Vec<Turn>,
    /// The street graph edge each hop stands for: the predecessor recorded in labels.
    edge: Vec<u32>,
}

impl Net {
    /// The `edges` of `graph` (`slot` gives the index of a graph edge among them, if it is one):
    /// the turns from an edge that is not `open` are left out, since nothing spreads past it.
    // Whole-graph pass: `edges` are ids of `graph`, whose `to` and `turns` the graph builder made in range.
    #[allow(clippy::indexing_slicing)]
    fn new(
        graph: &StreetGraph,
        edges: &[u32],
        slot: impl Fn(u32) -> Option<usize>,
        open: impl Fn(usize) -> bool,
    ) -> Net {
        let mut hops = Vec::with_capacity(edges.len() + 1);
        let mut turns = Vec::with_capacity(graph.turn_radius.len().min(edges.len() * 4));
        for (i, &e) in edges.iter().enumerate() {
            let (e, b) = (e as usize, graph.to[e as usize]);
            hops.push(Hop {
                length: graph.length[e],
                first_turn: turns.len() as u32,
                barrier_at_end: graph.barrier_of[b as usize] != 0,
            });
            if open(i) {
                let first_out = graph.out_start[b as usize];
                for (k, t) in graph.turns(e).enumerate() {
                    if let Some(j) = slot(first_out + k as u32) {
                        turns.push(Turn { to: j as u32, radius: graph.turn_radius[t] });
                    }
                }
            }
        }
        hops.push(Hop { length: 0.0, first_turn: turns.len() as u32, barrier_at_end: false });
        Net { hops, turns, edge: edges.to_vec() }
    }

    fn len(&self) -> usize {
        self.hops.len() - 1
    }

    // Hot loop: i < len(); `new` makes `hops[..=len()].first_turn` nondecreasing up to `turns.len()`.
    #[allow(clippy::indexing_slicing)]
    fn turns(&self, i: usize) -> &[Turn] {
        &self.turns[self.hops[i].first_turn as usize..self.hops[i + 1].first_turn as usize]
    }
}

/// Width (m/s) of the speed buckets of [`BucketQueue`].
const BUCKET_MS: f64 = 0.05;

/// Max-priority queue of label indices by speed, in buckets [`BUCKET_MS`] wide, last in first
/// out within a bucket. An index is queued at most once, in the bucket of its latest speed;
/// older entries are skipped when popped. O(1) per operation where a binary heap over a
/// million edges spent most of the whole-graph time in cache misses. Each bucket is a list
/// threaded through one pool of entries, so a queue costs a few kilobytes to set up: the
/// per-site passes make some 24,000 of them.
struct BucketQueue {
    /// Latest entry of each bucket, or NONE.
    head: Vec<u32>,
    /// (index, entry below it in its bucket or NONE).
    entries: Vec<(u32, u32)>,
    /// One bit per bucket holding entries, to find the fastest one quickly.
    nonempty: Vec<u64>,
    /// Bucket + 1 where each index is queued, 0 when not queued.
    queued: Vec<u32>,
}

impl BucketQueue {
    fn new(len: usize, vmax: f64) -> BucketQueue {
        let count = (vmax / BUCKET_MS) as usize + 2;
        BucketQueue {
            head: vec![NONE; count],
            entries: Vec::new(),
            nonempty: vec![0; count.div_ceil(64)],
            queued: vec![0; len],
        }
    }

    // Hot loop: i is a hop of the net the queue was made for, b < `head.len()`, a `nonempty` bit per bucket.
    #[allow(clippy::indexing_slicing)]
    fn push(&mut self, i: u32, speed: f64) {
        let b = ((speed.max(0.0) / BUCKET_MS) as usize).min(self.head.len() - 1);
        if self.queued[i as usize] == b as u32 + 1 {
            return;
        }
        self.queued[i as usize] = b as u32 + 1;
        self.entries.push((i, self.head[b]));
        self.head[b] = self.entries.len() as u32 - 1;
        self.nonempty[b / 64] |= 1 << (b % 64);
    }

    /// Drops index `i` from the queue (its entry is skipped when reached).
    fn forget(&mut self, i: usize) {
        if let Some(q) = self.queued.get_mut(i) {
            *q = 0;
        }
    }

    // Hot loop: a set `nonempty` bit is a bucket `push` filled (< `head.len()`), holding hops < `queued.len()`.
    #[allow(clippy::indexing_slicing)]
    fn pop(&mut self) -> Option<usize> {
        loop {
            let w = self.nonempty.iter().rposition(|&w| w != 0)?;
            let b = w * 64 + 63 - self.nonempty[w].leading_zeros() as usize;
            let (i, below) = *self.entries.get(self.head[b] as usize)?;
            self.head[b] = below;
            if below == NONE {
                self.nonempty[w] &= !(1 << (b % 64));
            }
            if self.queued[i as usize] == b as u32 + 1 {
                self.queued[i as usize] = 0;
                return Some(i as usize);
            }
        }
    }
}

/// Label-correcting over the hops of `net` until no label improves by more than the threshold.
/// `start` lists the only hops whose labels may spread (None: all of them).
///
/// The fastest label is spread first, so a speed gained on a long straight run travels down
/// the street in one sweep instead of one edge per round as in FIFO order (some 50 times
/// slower on the whole graph). Among equal speeds (all edges start at rest), edges entered only
/// through sharp bends go first: they are where straight runs begin, so each street is swept
/// from its head rather than again from every edge further up. The order changes the work, not
/// the result. The speed at the end of an edge (a solve) is only computed when some successor
/// could improve by more than the threshold, checked first on the run-up S(v), and the bend
/// there does not limit it.
// Hot loop: `labels` has one entry per hop of `net`; `start`, turn targets and queued hops are < `net.len()`.
#[allow(clippy::indexing_slicing)]
fn propagate(
    net: &Net,
    class: &VehicleClass,
    params: &DynamicsParams,
    passable_barriers: bool,
    labels: &mut [Label],
    start: Option<&[usize]>,
) {
    let blocked = |i: usize| !passable_barriers && net.hops[i].barrier_at_end;
    let mut queue = BucketQueue::new(net.len(), class.vmax_ms());
    // Labels set by a limiting turn off the straightest way on wait until no run along a
    // street is left to spread: a street is then swept once from its far end rather than again
    // from each side street turning in (half the work for trucks), and fewer labels stop just
    // short of their value.
    let mut after_bends = BucketQueue::new(net.len(), class.vmax_ms());
    match start {
        Some(start) => {
            start.iter().filter(|&&i| !net.turns(i).is_empty()).for_each(|&i| queue.push(i as u32, labels[i].speed))
        }
        None => {
            // Widest way in (radius, m), in log2 tiers, straight-through last.
            let mut widest = vec![0.0f32; net.len()];
            for i in (0..net.len()).filter(|&i| !blocked(i)) {
                for t in net.turns(i) {
                    widest[t.to as usize] = widest[t.to as usize].max(t.radius);
                }
            }
            let tiers: Vec<u8> = widest.iter().map(|w| (w.clamp(0.0, 65_535.0) as u32 + 1).ilog2() as u8).collect();
            for tier in (0..=16u8).rev() {
                for (i, _) in tiers.iter().enumerate().filter(|&(_, &t)| t == tier) {
                    queue.push(i as u32, labels[i].speed);
                }
            }
        }
    }
    let fg = params.friction * params.gravity_ms2;
    let thr = params.improvement_threshold_ms;
    while let Some(i) = queue.pop().or_else(|| after_bends.pop()) {
        // A label set by a limiting turn, then raised along a street (or the other way round),
        // is in both queues: spreading its latest value now serves both entries. (This was a
        // quarter to a third of the pops of the whole-graph pass, nearly all improving nothing.)
        queue.forget(i);
        after_bends.forget(i);
        let turns = net.turns(i);
        if turns.is_empty() || blocked(i) {
            continue;
        }
        let length = net.hops[i].length;
        let here = labels[i];
        let s_end = here.dist + length;
        let mut v_end = None;
        let straightest = turns.iter().map(|t| t.radius).fold(0.0f32, f32::max);
        for turn in turns {
            let j = turn.to as usize;
            // Not even as fast as the label there: the usual case once a street is swept.
            if s_end <= labels[j].dist {
                continue;
            }
            let limit = (fg * turn.radius as f64).sqrt();
            let wanted = labels[j].speed + thr;
            if limit <= wanted || s_end <= class.distance_from_rest(wanted) {
                continue;
            }
            // A bend that limits the speed sets it without solving for the speed at the end.
            let s_limit = class.distance_from_rest(limit);
            let (v, run_up, dist) = if s_end > s_limit {
                (limit, 0.0, s_limit)
            } else {
                (*v_end.get_or_insert_with(|| class.speed_after(0.0, s_end)), here.run_up + length, s_end)
            };
            if v > wanted {
                labels[j] = Label { speed: v, run_up, pred: net.edge[i], dist };
                if run_up == 0.0 && turn.radius < straightest {
                    after_bends.push(j as u32, v)
                } else {
                    queue.push(j as u32, v)
                }
            }
        }
    }
}

/// The whole-graph labels of one class. With `merge_chains`, the pass runs on the graph with
/// its chains of plain nodes merged (see [`StreetGraph::collapse_chains`]): a bend that can never
/// limit this class (its speed limit is at least vmax, never reached) changes nothing on the
/// way, so the label along a chain follows from the one at its start by acceleration alone
/// (run-up S(v) growing by each edge's length), as the full pass would set it.
// Whole-graph pass: `chain_start` (merged edges + 1, up to `chain.len()`) and `chain` (ids of `graph`) from `merge`.
#[allow(clippy::indexing_slicing)]
fn whole_graph(graph: &StreetGraph, class: &VehicleClass, params: &DynamicsParams, merge_chains: bool) -> Field {
    let fg = params.friction * params.gravity_ms2;
    let run = |g: &StreetGraph| {
        let all: Vec<u32> = (0..g.edge_count() as u32).collect();
        let net = Net::new(g, &all, |e| Some(e as usize), |_| true);
        let mut labels = vec![REST; all.len()];
        propagate(&net, class, params, false, &mut labels, None);
        labels
    };
    if !merge_chains {
        return Field { labels: run(graph) };
    }
    // A U-turn whose limit is within the threshold of rest never raises a label.
    let collapsed = graph.collapse_chains(class.vmax_ms().powi(2) / fg, params.improvement_threshold_ms.powi(2) / fg);
    let merged = run(&collapsed.graph);
    let last = |k: usize| collapsed.chain[collapsed.chain_start[k + 1] as usize - 1];
    let mut labels = vec![REST; graph.edge_count()];
    for (k, start) in merged.iter().enumerate() {
        let chain = &collapsed.chain[collapsed.chain_start[k] as usize..collapsed.chain_start[k + 1] as usize];
        let mut label = Label { pred: if start.pred == NONE { NONE } else { last(start.pred as usize) }, ..*start };
        for (i, &e) in chain.iter().enumerate() {
            if i > 0 {
                let before = chain[i - 1] as usize;
                let dist = label.dist + graph.length[before];
                label = Label {
                    speed: class.speed_after(0.0, dist),
                    run_up: label.run_up + graph.length[before],
                    pred: before as u32,
                    dist,
                };
            }
            labels[e as usize] = label;
        }
    }
    Field { labels }
}

/// Speeds of every class on one graph, ready to analyse any number of sites.
pub struct Analyser<'g> {
    graph: &'g StreetGraph,
    classes: Vec<VehicleClass>,
    params: DynamicsParams,
    fields: Vec<Field>,
}

/// What the analysis of one site found, as stored with the site and printed by `vigie hvm vda`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VdaResult {
    pub access_points: Vec<AccessPoint>,
    pub assumed_barriers: Vec<AssumedBarrier>,
    pub model: ModelInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessPoint {
    /// `AP1`, `AP2`, … clockwise from north around the site's centre.
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub osm_way: i64,
    pub highway: String,
    /// Keyed by vehicle class.
    pub vehicles: BTreeMap<String, Impact>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    pub speed_kmh: f64,
    pub energy_kj: f64,
    /// Distance since the last bend that slowed the vehicle (or since rest): the vehicle
    /// may reach the bend already fast, so this can be short for a high speed.
    pub run_up_m: f64,
    /// The straight run from rest that gives this speed: why the speed is what it is.
    pub distance_from_rest_m: f64,
    /// Between the path's last segment and the site boundary: 90 is head-on.
    pub angle_deg: f64,
    /// [lon, lat] from where the vehicle starts from rest to the access point.
    pub path: Vec<[f64; 2]>,
    /// Speed (km/h) at each point of `path`, after the bend there.
    pub path_speeds_kmh: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssumedBarrier {
    pub osm_node: i64,
    pub lon: f64,
    pub lat: f64,
    pub barrier: String,
    pub bollard: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub acceleration: &'static str,
    pub cornering: &'static str,
    pub friction: f64,
    pub gravity_ms2: f64,
    pub earth_radius_m: f64,
    pub improvement_threshold_ms: f64,
    pub local_radius_m: f64,
    pub min_path_width_m: f64,
    pub drivable_highways: Vec<&'static str>,
    pub wide_path_highways: Vec<&'static str>,
    pub blocking_barriers: Vec<&'static str>,
    pub vehicles: Vec<VehicleClass>,
    pub graph_nodes: usize,
    pub graph_edges: usize,
}

/// One site and the neighbourhood analysed around it.
struct Neighbourhood {
    edges: Vec<u32>,
    /// Open-addressing table graph edge → index in `edges` (+ 1; 0 is empty), a power of two
    /// at least twice as long as `edges`: the lookup is the inner loop of the per-site pass,
    /// and a table over the whole graph per site cost more in memory traffic.
    table: Vec<(u32, u32)>,
    open: Vec<bool>,
    net: Net,
    entries: Vec<Entry>,
    crossings: Vec<(usize, Crossing)>,
    barrier_nodes: Vec<u32>,
}

/// A turn from an edge outside the neighbourhood onto one inside it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Index of the edge inside.
    hop: u32,
    /// The graph edge outside.
    from: u32,
    radius: f32,
    /// A blocking barrier stands where the two meet.
    through_barrier: bool,
}

impl Neighbourhood {
    // Every slot index is masked by `table.len() - 1`; the length is a power of two (`table_for`).
    #[allow(clippy::indexing_slicing)]
    fn table_for(edges: &[u32]) -> Vec<(u32, u32)> {
        let mut table = vec![(0u32, 0u32); (edges.len() * 2).next_power_of_two().max(2)];
        let mask = table.len() - 1;
        for (i, &e) in edges.iter().enumerate() {
            let mut h = Self::hash(e) & mask;
            while table[h].1 != 0 {
                h = (h + 1) & mask;
            }
            table[h] = (e, i as u32 + 1);
        }
        table
    }

    fn hash(e: u32) -> usize {
        (e.wrapping_mul(0x9E37_79B1) >> 7) as usize
    }

    /// Index of graph edge `e` in `edges`, if it is in the neighbourhood.
    fn slot(&self, e: u32) -> Option<usize> {
        Self::lookup(&self.table, e)
    }

    // Per-site hot loop: every slot index is masked by `table.len() - 1`; the length is a power of two (`table_for`).
    #[allow(clippy::indexing_slicing)]
    fn lookup(table: &[(u32, u32)], e: u32) -> Option<usize> {
        let mask = table.len() - 1;
        let mut h = Self::hash(e) & mask;
        loop {
            match table[h] {
                (_, 0) => return None,
                (k, i) if k == e => return Some(i as usize - 1),
                _ => h = (h + 1) & mask,
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Crossing {
    /// Fraction of the edge before the boundary.
    t: f64,
    lon: f64,
    lat: f64,
    angle_deg: f64,
}

impl<'g> Analyser<'g> {
    /// Computes the whole-graph speeds of each class (classes share the machine's cores).
    pub fn new(graph: &'g StreetGraph, classes: &[VehicleClass], params: &DynamicsParams) -> Analyser<'g> {
        let fields = parallel_map(classes, |class| whole_graph(graph, class, params, true));
        Analyser { graph, classes: classes.to_vec(), params: params.clone(), fields }
    }

    pub fn classes(&self) -> &[VehicleClass] {
        &self.classes
    }

    /// Many sites, spread over the machine's cores.
    pub fn analyse_sites(&self, sites: &[SiteGeometry]) -> Vec<VdaResult> {
        parallel_map(sites, |s| self.analyse_site(s))
    }

    // Per-site pass: crossings index `hood.edges` (as long as `labels`, `free`, `clean`); ids are the graph's.
    #[allow(clippy::indexing_slicing)]
    pub fn analyse_site(&self, site: &SiteGeometry) -> VdaResult {
        let g = self.graph;
        let outline = Outline::new(site);
        let hood = self.neighbourhood(&outline);
        let slot = |e: u32| hood.slot(e);
        let mut points: Vec<AccessPoint> = hood
            .crossings
            .iter()
            .map(|(i, c)| {
                let e = hood.edges[*i] as usize;
                let way = &g.ways[g.way[e] as usize];
                AccessPoint {
                    id: String::new(),
                    lon: round(c.lon, 7),
                    lat: round(c.lat, 7),
                    osm_way: way.osm_way,
                    highway: way.highway.clone(),
                    vehicles: BTreeMap::new(),
                }
            })
            .collect();
        let mut relied: HashSet<u32> = HashSet::new();
        for (class, field) in self.classes.iter().zip(&self.fields) {
            // The whole-graph labels of the neighbourhood, read once: scattered over the field.
            let mut labels: Vec<Label> = hood.edges.iter().map(|&e| field.labels[e as usize]).collect();
            let clean = clean_paths(&hood, &labels);
            labels.iter_mut().zip(&clean).filter(|(_, ok)| !**ok).for_each(|(label, _)| *label = REST);
            let mut start = self.enter_from_outside(&hood, field, class, &mut labels, false);
            // The clean labels are the whole-graph fixpoint: among themselves they improve
            // nothing, so only the labels reset or raised, and the clean edges leading to a reset
            // one, need spreading.
            let leads_to_reset = |i: usize| hood.net.turns(i).iter().any(|t| !clean[t.to as usize]);
            start.extend((0..hood.edges.len()).filter(|&i| !clean[i] || leads_to_reset(i)));
            propagate(&hood.net, class, &self.params, false, &mut labels, Some(&start));
            // Barriers relied on: with every barrier passable, an access point would be reached
            // faster by a path through them. The labels with barriers blocked are achievable with
            // them passable too, so only what passes a barrier needs spreading.
            let free = if hood.barrier_nodes.is_empty() {
                None
            } else {
                let mut free = labels.clone();
                let mut start = self.enter_from_outside(&hood, field, class, &mut free, true);
                start.extend((0..hood.edges.len()).filter(|&i| hood.net.hops[i].barrier_at_end));
                propagate(&hood.net, class, &self.params, true, &mut free, Some(&start));
                Some(free)
            };
            for ((i, c), point) in hood.crossings.iter().zip(points.iter_mut()) {
                let e = hood.edges[*i] as usize;
                let label = labels[*i];
                let v = class.speed_after(label.speed, c.t * g.length[e]);
                if let Some(free) = &free {
                    let v_free = class.speed_after(free[*i].speed, c.t * g.length[e]);
                    if v_free > v + self.params.improvement_threshold_ms {
                        let walked = self.path_back(e, free, &slot, None);
                        relied.extend(
                            walked
                                .iter()
                                .map(|&(edge, _)| g.from[edge as usize])
                                .filter(|&n| g.barrier_of[n as usize] != 0),
                        );
                    }
                }
                let walked = self.path_back(e, &labels, &slot, Some(field));
                let (mut path, mut path_speeds_kmh) =
                    (Vec::with_capacity(walked.len() + 1), Vec::with_capacity(walked.len() + 1));
                for &(edge, speed) in walked.iter().rev() {
                    path.push(lon_lat(g, g.from[edge as usize]));
                    path_speeds_kmh.push(round(speed * KMH_PER_MS, 1));
                }
                path.push([round(c.lon, 7), round(c.lat, 7)]);
                path_speeds_kmh.push(round(v * KMH_PER_MS, 1));
                point.vehicles.insert(
                    class.key.clone(),
                    Impact {
                        speed_kmh: round(v * KMH_PER_MS, 1),
                        energy_kj: round(energy_kj(class.mass_kg, v), 1),
                        run_up_m: round(label.run_up + c.t * g.length[e], 1),
                        distance_from_rest_m: round(class.distance_from_rest(v), 1),
                        angle_deg: round(c.angle_deg, 1),
                        path,
                        path_speeds_kmh,
                    },
                );
            }
        }
        let (clon, clat) = outline.centre();
        let bearing = |p: &AccessPoint| {
            let b = ((p.lon - clon) * outline.kx).atan2((p.lat - clat) * outline.ky);
            if b < 0.0 { b + std::f64::consts::TAU } else { b }
        };
        points.sort_by(|a, b| bearing(a).total_cmp(&bearing(b)));
        for (n, p) in points.iter_mut().enumerate() {
            p.id = format!("AP{}", n + 1);
        }
        let mut assumed_barriers: Vec<AssumedBarrier> = relied
            .into_iter()
            .filter_map(|n| {
                let b = g.barrier_at(n)?;
                let [lon, lat] = lon_lat(g, n);
                Some(AssumedBarrier {
                    osm_node: b.osm_node,
                    lon,
                    lat,
                    barrier: b.barrier.clone(),
                    bollard: b.bollard.clone(),
                })
            })
            .collect();
        assumed_barriers.sort_by_key(|b| b.osm_node);
        VdaResult { access_points: points, assumed_barriers, model: self.model_info() }
    }

    fn model_info(&self) -> ModelInfo {
        let GraphOptions { min_path_width_m } = self.graph.options;
        ModelInfo {
            acceleration: "a(v) = a0 (1 - v/vmax), Long 2000",
            cornering: "v = sqrt(f g r), r = (min(l1, l2)/2) / tan(theta/2)",
            friction: self.params.friction,
            gravity_ms2: self.params.gravity_ms2,
            earth_radius_m: EARTH_RADIUS_M,
            improvement_threshold_ms: self.params.improvement_threshold_ms,
            local_radius_m: self.params.local_radius_m,
            min_path_width_m,
            drivable_highways: DRIVABLE_HIGHWAYS.to_vec(),
            wide_path_highways: WIDE_PATH_HIGHWAYS.to_vec(),
            blocking_barriers: BLOCKING_BARRIERS.to_vec(),
            vehicles: self.classes.clone(),
            graph_nodes: self.graph.node_count(),
            graph_edges: self.graph.edge_count(),
        }
    }

    /// The edges starting within `local_radius_m` of the site's box, how each one relates to the
    /// site, and the access points (edges crossing the boundary from outside to inside).
    // Per-site pass: nodes from `nodes_in_box`, edges from `out_edges`, e turns onto e2's start node's edges.
    #[allow(clippy::indexing_slicing)]
    fn neighbourhood(&self, outline: &Outline) -> Neighbourhood {
        let g = self.graph;
        let m_per_deg = EARTH_RADIUS_M.to_radians();
        let r = self.params.local_radius_m;
        let (dlat, dlon) = (r / m_per_deg, r / outline.kx * 1.0);
        let [west, south, east, north] = outline.bbox;
        let mut nodes = g.nodes_in_box(west - dlon, south - dlat, east + dlon, north + dlat);
        nodes.sort_unstable();
        let mut edges = Vec::new();
        for &n in &nodes {
            edges.extend(g.out_edges(n).map(|e| e as u32));
        }
        let inside: Vec<bool> =
            nodes.iter().map(|&n| outline.contains(g.coords[n as usize].0, g.coords[n as usize].1)).collect();
        let is_inside = |n: u32| nodes.binary_search(&n).map(|k| inside[k]).unwrap_or(false);
        let mut open = Vec::with_capacity(edges.len());
        let mut crossings = Vec::new();
        for (i, &e) in edges.iter().enumerate() {
            let (a, b) = (g.from[e as usize], g.to[e as usize]);
            if is_inside(a) {
                open.push(false);
                continue;
            }
            match outline.first_entry(lon_lat(g, a), lon_lat(g, b)) {
                Some(c) => {
                    open.push(false);
                    crossings.push((i, c));
                }
                // Outside, unless it ends on the boundary or inside without a clean crossing.
                None => open.push(!is_inside(b)),
            }
        }
        let barrier_nodes = nodes.iter().copied().filter(|&n| g.barrier_of[n as usize] != 0).collect();
        let table = Neighbourhood::table_for(&edges);
        let slot = |e: u32| Neighbourhood::lookup(&table, e);
        let net = Net::new(g, &edges, slot, |i| open[i]);
        let mut entries = Vec::new();
        for (j, &e2) in edges.iter().enumerate() {
            let a = g.from[e2 as usize];
            let first_out = g.out_start[a as usize];
            for o in g.out_edges(a) {
                let e = g.reverse[o];
                if slot(e).is_none() {
                    let radius = g.turn_radius[g.turn_start[e as usize] as usize + (e2 - first_out) as usize];
                    entries.push(Entry {
                        hop: j as u32,
                        from: e,
                        radius,
                        through_barrier: g.barrier_of[a as usize] != 0,
                    });
                }
            }
        }
        Neighbourhood { table, edges, open, net, entries, crossings, barrier_nodes }
    }

    /// Improves the labels of the neighbourhood by the whole-graph labels of the edges leading
    /// in from outside it, at the start nodes that are barriers or not as `through_barriers`
    /// says; returns the improved ones.
    /// Together with the whole-graph labels of the edges whose best path stays clear of the site
    /// (achievable speeds, so a valid start for label-correcting), this seeds the local pass.
    // Per-site pass: `entry.hop` < `labels.len()` (one per hood edge), `entry.from` a graph edge (field label).
    #[allow(clippy::indexing_slicing)]
    fn enter_from_outside(
        &self,
        hood: &Neighbourhood,
        field: &Field,
        class: &VehicleClass,
        labels: &mut [Label],
        through_barriers: bool,
    ) -> Vec<usize> {
        let g = self.graph;
        let fg = self.params.friction * self.params.gravity_ms2;
        let mut improved = Vec::new();
        for entry in hood.entries.iter().filter(|x| x.through_barrier == through_barriers) {
            let (j, e) = (entry.hop as usize, entry.from as usize);
            let from_outside = field.labels[e];
            let s_end = from_outside.dist + g.length[e];
            let limit = (fg * entry.radius as f64).sqrt();
            // Neither the run nor the bend could beat the label there: no need to solve.
            if s_end <= labels[j].dist || limit <= labels[j].speed {
                continue;
            }
            let v_end = class.speed_after(0.0, s_end);
            let v = v_end.min(limit);
            if v > labels[j].speed {
                let (run_up, dist) = if v_end > limit {
                    (0.0, class.distance_from_rest(limit))
                } else {
                    (from_outside.run_up + g.length[e], s_end)
                };
                labels[j] = Label { speed: v, run_up, pred: e as u32, dist };
                improved.push(j);
            }
        }
        improved
    }

    /// Edges of the best path ending with edge `last`, walking back from it to the start (rest),
    /// with the speed (m/s) at the start of each; within the neighbourhood only when `field` is
    /// None. When the
    /// best path circles a loop (gaining speed round a block up to its bend limits), the
    /// predecessors form a cycle: the path is then drawn from where it enters the loop. The
    /// cycle is found by Brent's method (a marker edge moved at powers of two) rather than a set
    /// of the edges seen: drawing paths hundreds of edges long was a third of the per-site time.
    // Per-site pass: `slot` indexes `local` (one label per hood edge); predecessors are graph edges.
    #[allow(clippy::indexing_slicing)]
    fn path_back(
        &self,
        last: usize,
        local: &[Label],
        slot: &impl Fn(u32) -> Option<usize>,
        field: Option<&Field>,
    ) -> Vec<(u32, f64)> {
        let mut walked: Vec<(u32, f64)> = Vec::new();
        let (mut marker, mut since, mut power) = (NONE, 0usize, 1usize);
        let mut e = last as u32;
        while e != NONE && walked.len() < MAX_PATH_EDGES {
            if e == marker {
                // Edge `walked.len()` repeats the one `since + 1` before: cut the path just before
                // the first edge that repeats.
                let period = since + 1;
                let at = |k: usize| walked.get(k).map_or(e, |w| w.0);
                let last_start = walked.len() - period;
                let enters = (0..=last_start).find(|&m| at(m) == at(m + period)).unwrap_or(last_start);
                walked.truncate(enters + period);
                break;
            }
            let label = match (slot(e), field) {
                (Some(i), _) => local[i],
                (None, Some(f)) => f.labels[e as usize],
                (None, None) => break,
            };
            walked.push((e, label.speed));
            since += 1;
            if since == power {
                (marker, since, power) = (e, 0, power * 2);
            }
            e = label.pred;
        }
        walked
    }
}

/// For each edge of the neighbourhood, given its `whole_graph` label: does its best path stay
/// clear of the site (no edge inside or crossing into it, within the neighbourhood)?
/// Predecessor chains are followed once each; a chain that loops is treated as not clear.
// Per-site pass: i, the stack and `slot` index `hood.edges`, as long as `state`, `hood.open`, `whole_graph`.
#[allow(clippy::indexing_slicing)]
fn clean_paths(hood: &Neighbourhood, whole_graph: &[Label]) -> Vec<bool> {
    const UNKNOWN: u8 = 0;
    const VISITING: u8 = 1;
    const CLEAN: u8 = 2;
    const TAINTED: u8 = 3;
    let slot = |e: u32| hood.slot(e);
    let mut state = vec![UNKNOWN; hood.edges.len()];
    let mut stack = Vec::new();
    for i in 0..hood.edges.len() {
        if state[i] != UNKNOWN {
            continue;
        }
        stack.clear();
        stack.push(i);
        state[i] = VISITING;
        let result = loop {
            let Some(&current) = stack.last() else { break TAINTED };
            let pred = whole_graph[current].pred;
            let Some(j) = (if pred == NONE { None } else { slot(pred) }) else { break CLEAN };
            if !hood.open[j] {
                break TAINTED;
            }
            match state[j] {
                UNKNOWN => {
                    state[j] = VISITING;
                    stack.push(j);
                }
                VISITING => break TAINTED,
                known => break known,
            }
        };
        for &k in &stack {
            state[k] = result;
        }
    }
    state.into_iter().map(|s| s == CLEAN).collect()
}

/// Analyses one site: the whole-graph computation included. For many sites on one graph,
/// build an [`Analyser`] once and call [`Analyser::analyse_site`].
pub fn analyse_site(
    graph: &StreetGraph,
    site: &SiteGeometry,
    classes: &[VehicleClass],
    params: &DynamicsParams,
) -> VdaResult {
    Analyser::new(graph, classes, params).analyse_site(site)
}

fn lon_lat(g: &StreetGraph, n: u32) -> [f64; 2] {
    let (lon, lat) = g.lon_lat(n);
    [round(lon, 7), round(lat, 7)]
}

pub(crate) fn round(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

/// Runs `f` on every item, on as many threads as the machine has cores, keeping the order.
/// Items are handed out one at a time, so a thread that drew quick items (a car's whole-graph
/// pass is faster than a truck's) takes more of them instead of waiting.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { break done };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The site's rings in a local planar projection (metres east and north of the site's box).
struct Outline {
    rings: Vec<Vec<(f64, f64)>>,
    bbox: [f64; 4],
    lon0: f64,
    lat0: f64,
    /// Metres per degree of longitude and latitude here.
    kx: f64,
    ky: f64,
}

impl Outline {
    fn new(site: &SiteGeometry) -> Outline {
        let mut rings_deg: Vec<Vec<(f64, f64)>> = Vec::new();
        for polygon in site.shape() {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                rings_deg.push(ring.coords().map(|c| (c.x, c.y)).collect());
            }
        }
        let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for &(x, y) in rings_deg.iter().flatten() {
            bbox = [bbox[0].min(x), bbox[1].min(y), bbox[2].max(x), bbox[3].max(y)];
        }
        let (lon0, lat0) = ((bbox[0] + bbox[2]) / 2.0, (bbox[1] + bbox[3]) / 2.0);
        let ky = EARTH_RADIUS_M.to_radians();
        let kx = ky * lat0.to_radians().cos();
        let rings =
            rings_deg.iter().map(|r| r.iter().map(|&(x, y)| ((x - lon0) * kx, (y - lat0) * ky)).collect()).collect();
        Outline { rings, bbox, lon0, lat0, kx, ky }
    }

    fn centre(&self) -> (f64, f64) {
        (self.lon0, self.lat0)
    }

    fn xy(&self, [lon, lat]: [f64; 2]) -> (f64, f64) {
        ((lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky)
    }

    /// Even-odd rule over every ring: right for valid polygons with holes and multipolygons.
    fn contains(&self, lon: f64, lat: f64) -> bool {
        let (px, py) = self.xy([lon, lat]);
        let mut inside = false;
        for ring in &self.rings {
            for (&(x1, y1), &(x2, y2)) in ring.iter().zip(ring.iter().skip(1)) {
                if (y1 > py) != (y2 > py) && px < x1 + (py - y1) * (x2 - x1) / (y2 - y1) {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Where the segment a→b (starting outside) first crosses the boundary, and at which angle.
    fn first_entry(&self, a: [f64; 2], b: [f64; 2]) -> Option<Crossing> {
        let (p, q) = (self.xy(a), self.xy(b));
        let r = (q.0 - p.0, q.1 - p.1);
        let cross = |u: (f64, f64), v: (f64, f64)| u.0 * v.1 - u.1 * v.0;
        let mut best: Option<(f64, f64)> = None;
        for ring in &self.rings {
            for (&c, &d) in ring.iter().zip(ring.iter().skip(1)) {
                let s = (d.0 - c.0, d.1 - c.1);
                let denom = cross(r, s);
                if denom.abs() < 1e-12 {
                    continue;
                }
                let cp = (c.0 - p.0, c.1 - p.1);
                let t = cross(cp, s) / denom;
                let u = cross(cp, r) / denom;
                if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) && best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, s.1.atan2(s.0)));
                }
            }
        }
        let (t, boundary_heading) = best?;
        let d = deflection(r.1.atan2(r.0), boundary_heading);
        let angle = d.min(std::f64::consts::PI - d).to_degrees();
        Some(Crossing { t, lon: a[0] + t * (b[0] - a[0]), lat: a[1] + t * (b[1] - a[1]), angle_deg: angle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::VehicleSet;
    use crate::synthetic;

    /// The model taken literally: rounds over every edge in index order until no label moves
    /// by more than 1e-9 m/s (or a round cap), without any of the ordering or shortcuts of
    /// [`propagate`].
    fn reference_speeds(graph: &StreetGraph, class: &VehicleClass, params: &DynamicsParams) -> Vec<f64> {
        let fg = params.friction * params.gravity_ms2;
        let mut speed = vec![0.0f64; graph.edge_count()];
        for _ in 0..100_000 {
            let mut changed = false;
            for e in 0..graph.edge_count() {
                let b = graph.to[e];
                if graph.barrier_of[b as usize] != 0 {
                    continue;
                }
                let v_end = class.speed_after(speed[e], graph.length[e]);
                let first_out = graph.out_start[b as usize] as usize;
                for (k, t) in graph.turns(e).enumerate() {
                    let v = v_end.min((fg * graph.turn_radius[t] as f64).sqrt());
                    if v > speed[first_out + k] + 1e-9 {
                        speed[first_out + k] = v;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        speed
    }

    #[test]
    fn paths_are_cut_where_the_predecessors_loop() {
        // Random predecessor chains, many of them ending in a loop, against a set of the edges
        // seen: the path stops just before the first edge that comes round again.
        let graph = synthetic::city(6, 80.0, 2, 24.0, 60.0, 0.0, 3);
        let classes = VehicleSet::default_set().unwrap().select("N3C").unwrap();
        let analyser = Analyser::new(&graph, &classes, &DynamicsParams::default());
        let n = graph.edge_count();
        let mut state = 12345u64;
        let mut next = |bound: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % bound
        };
        let mut looped = 0;
        for round in 0..300 {
            // A few edges start from rest; the others point at a nearby edge, so chains wander
            // and come round again after loops of any length, itself included.
            let reach = 1 + round % 9;
            let labels: Vec<Label> = (0..n)
                .map(|e| Label {
                    speed: e as f64,
                    pred: if next(50) == 0 { NONE } else { ((e + n + next(2 * reach + 1) - reach) % n) as u32 },
                    ..REST
                })
                .collect();
            let last = next(n);
            let mut expected = Vec::new();
            let mut seen = HashSet::new();
            let mut e = last as u32;
            while e != NONE && seen.insert(e) {
                expected.push((e, e as f64));
                e = labels[e as usize].pred;
            }
            looped += usize::from(e != NONE);
            assert_eq!(analyser.path_back(last, &labels, &|e| Some(e as usize), None), expected, "round {round}");
        }
        assert!(looped > 100, "{looped}");
    }

    #[test]
    fn optimised_speeds_match_the_reference_on_random_cities() {
        let set = VehicleSet::default_set().unwrap();
        let classes = set.select("M1,N3C,N3F").unwrap();
        let params = DynamicsParams::default();
        for seed in 1..=4u64 {
            let graph =
                synthetic::city(8 + seed as usize, 60.0 + 20.0 * seed as f64, 1 + seed as usize, 24.0, 60.0, 0.1, seed);
            let analyser = Analyser::new(&graph, &classes, &params);
            for (class, field) in classes.iter().zip(&analyser.fields) {
                let reference = reference_speeds(&graph, class, &params);
                let worst = field.labels.iter().zip(&reference).map(|(l, r)| (l.speed - r).abs()).fold(0.0, f64::max);
                assert!(worst <= 0.01, "seed {seed}, {}: speeds differ by up to {worst} m/s", class.key);
                for l in &field.labels {
                    assert!((l.dist - class.distance_from_rest(l.speed)).abs() <= 1e-6 * l.dist.max(1.0), "{l:?}");
                }
            }
        }
    }

    #[test]
    fn merged_chains_give_the_speeds_of_the_full_graph() {
        // Both passes run close to the exact model (threshold 1e-6 m/s), so they must agree far
        // more closely than the 0.01 m/s threshold; cities with sharp bends mid-street (split 5,
        // 50 m blocks), bollards mid-street and cars (more bends bind) exercise kept nodes.
        let set = VehicleSet::default_set().unwrap();
        let params = DynamicsParams { improvement_threshold_ms: 1e-6, ..DynamicsParams::default() };
        let fg = params.friction * params.gravity_ms2;
        for seed in 1..=4u64 {
            let graph = synthetic::city(
                6 + 2 * seed as usize,
                50.0 + 25.0 * seed as f64,
                1 + seed as usize,
                24.0,
                60.0,
                0.15,
                seed,
            );
            for class in set.select("M1,N1,N3F").unwrap() {
                let collapsed =
                    graph.collapse_chains(class.vmax_ms().powi(2) / fg, params.improvement_threshold_ms.powi(2) / fg);
                let mut chained: Vec<u32> = collapsed.chain.clone();
                chained.sort_unstable();
                assert_eq!(
                    chained,
                    (0..graph.edge_count() as u32).collect::<Vec<_>>(),
                    "every edge in exactly one chain"
                );
                if seed > 1 {
                    assert!(
                        collapsed.graph.edge_count() < graph.edge_count(),
                        "seed {seed}, {}: nothing merged",
                        class.key
                    );
                }
                let (full, merged) =
                    (whole_graph(&graph, &class, &params, false), whole_graph(&graph, &class, &params, true));
                for (e, (a, b)) in full.labels.iter().zip(&merged.labels).enumerate() {
                    assert!(
                        (a.speed - b.speed).abs() <= 1e-4,
                        "seed {seed}, {}, edge {e}: {} vs {} m/s",
                        class.key,
                        a.speed,
                        b.speed
                    );
                    assert!(
                        (a.run_up - b.run_up).abs() <= 1e-3 || a.speed < 0.01,
                        "seed {seed}, {}, edge {e}: run-up {a:?} vs {b:?}",
                        class.key
                    );
                }
            }
        }
    }

    #[test]
    fn site_speeds_match_the_converged_model() {
        // The same analysis run until labels move by less than 1e-6 m/s stands for the exact
        // model; the speeds are read back from the energies (0.1 kJ of 7.2 t or 30 t is well
        // under 0.001 m/s), since speeds are printed to 0.1 km/h only.
        let set = VehicleSet::default_set().unwrap();
        let classes = set.select("N3C,N3F").unwrap();
        let graph = synthetic::city(24, 100.0, 4, 24.0, 60.0, 0.05, 7);
        let sites = synthetic::sites(40, 24, 100.0, 80.0, 24.0, 60.0, 9);
        let params = DynamicsParams::default();
        let exact = DynamicsParams { improvement_threshold_ms: 1e-6, ..params.clone() };
        let fast = Analyser::new(&graph, &classes, &params).analyse_sites(&sites);
        let slow = Analyser::new(&graph, &classes, &exact).analyse_sites(&sites);
        let speed = |class: &VehicleClass, imp: &Impact| (2.0 * imp.energy_kj * 1000.0 / class.mass_kg).sqrt();
        let mut compared = 0;
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!(f.access_points.len(), s.access_points.len());
            for (pf, ps) in f.access_points.iter().zip(&s.access_points) {
                for class in &classes {
                    let (a, b) = (speed(class, &pf.vehicles[&class.key]), speed(class, &ps.vehicles[&class.key]));
                    assert!((a - b).abs() <= 0.011, "{} at {}: {a} vs {b} m/s", class.key, pf.id);
                    compared += 1;
                }
            }
        }
        assert!(compared > 50, "{compared}");
    }
}
