//! Vehicle dynamics assessment (VDA): the highest speed each vehicle class can reach where the
//! street network enters a site.
//!
//! The speeds are labels on directed edges: the speed at the start of the edge, after the bend
//! at its start node. They are computed once for the whole graph ([`Analyser::new`]), then
//! recomputed around each site without passing through the site itself, seeded with the
//! whole-graph labels at the edge of that neighbourhood.
use std::collections::{BTreeMap, BinaryHeap, HashSet};

use serde::Serialize;
use vigie_domain::geometry::SiteGeometry;

use crate::dynamics::{DynamicsParams, KMH_PER_MS, VehicleClass, energy_kj};
use crate::graph::{BLOCKING_BARRIERS, DRIVABLE_HIGHWAYS, EARTH_RADIUS_M, GraphOptions, StreetGraph, WIDE_PATH_HIGHWAYS, deflection};

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
}

const REST: Label = Label { speed: 0.0, run_up: 0.0, pred: NONE };

/// The whole-graph labels of one class.
#[derive(Debug, Clone)]
struct Field {
    labels: Vec<Label>,
}

/// One class on one graph, with or without the barriers.
struct Dynamics<'a> {
    graph: &'a StreetGraph,
    class: &'a VehicleClass,
    params: &'a DynamicsParams,
    passable_barriers: bool,
}

/// Label-correcting over directed edges until no label improves by more than the threshold.
/// `slot(e)` maps a graph edge to its index in `labels` (None: outside the set); `open(i)` says
/// whether a vehicle can go on past the end of edge `i`.
///
/// The queue is a max-heap on speed: the fastest label is spread first, so a speed gained on a
/// long straight run travels down the street in one sweep instead of one edge per round as in
/// FIFO order (which made the whole-graph pass some 50 times slower). Entries made stale by a
/// later improvement are skipped when popped.
fn propagate(d: &Dynamics<'_>, edges: &[u32], slot: &impl Fn(u32) -> Option<usize>, open: &impl Fn(usize) -> bool, labels: &mut [Label]) {
    let Dynamics { graph, class, params, passable_barriers } = *d;
    let key = |v: f64| v.max(0.0).to_bits();
    // Equal speeds (all edges start at rest) are taken in a scrambled order: in index order a
    // long street is swept again from each of its edges in turn, from the far end backwards.
    let scramble = |i: u32| i.wrapping_mul(0x9E37_79B1).rotate_left(16);
    let mut heap: BinaryHeap<(u64, u32, u32)> = (0..edges.len()).filter(|&i| open(i)).map(|i| (key(labels[i].speed), scramble(i as u32), i as u32)).collect();
    let fg = params.friction * params.gravity_ms2;
    while let Some((k, _, i)) = heap.pop() {
        let i = i as usize;
        if k != key(labels[i].speed) || !open(i) {
            continue;
        }
        let e = edges[i] as usize;
        let b = graph.to[e];
        if !passable_barriers && graph.barrier_of[b as usize] != 0 {
            continue;
        }
        let here = labels[i];
        let v_end = class.speed_after(here.speed, graph.length[e]);
        let first_out = graph.out_start[b as usize] as usize;
        for (k, t) in graph.turns(e).enumerate() {
            let next = (first_out + k) as u32;
            let Some(j) = slot(next) else { continue };
            let limit = (fg * graph.turn_radius[t] as f64).sqrt();
            let v = v_end.min(limit);
            if v > labels[j].speed + params.improvement_threshold_ms {
                let run_up = if v_end > limit { 0.0 } else { here.run_up + graph.length[e] };
                labels[j] = Label { speed: v, run_up, pred: e as u32 };
                heap.push((key(v), scramble(j as u32), j as u32));
            }
        }
    }
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
    pub run_up_m: f64,
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
    /// Graph edge → index in `edges` + 1 (0: not in the neighbourhood).
    slot: Vec<u32>,
    open: Vec<bool>,
    crossings: Vec<(usize, Crossing)>,
    barrier_nodes: Vec<u32>,
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
        let all: Vec<u32> = (0..graph.edge_count() as u32).collect();
        let compute = |class: &VehicleClass| {
            let mut labels = vec![REST; all.len()];
            propagate(&Dynamics { graph, class, params, passable_barriers: false }, &all, &|e| Some(e as usize), &|_| true, &mut labels);
            Field { labels }
        };
        let fields = parallel_map(classes, compute);
        Analyser { graph, classes: classes.to_vec(), params: params.clone(), fields }
    }

    pub fn classes(&self) -> &[VehicleClass] {
        &self.classes
    }

    /// Many sites, spread over the machine's cores.
    pub fn analyse_sites(&self, sites: &[SiteGeometry]) -> Vec<VdaResult> {
        parallel_map(sites, |s| self.analyse_site(s))
    }

    pub fn analyse_site(&self, site: &SiteGeometry) -> VdaResult {
        let g = self.graph;
        let outline = Outline::new(site);
        let hood = self.neighbourhood(&outline);
        let slot = |e: u32| match hood.slot[e as usize] {
            0 => None,
            s => Some(s as usize - 1),
        };
        let open = |i: usize| hood.open[i];
        let mut points: Vec<AccessPoint> = hood
            .crossings
            .iter()
            .map(|(i, c)| {
                let e = hood.edges[*i] as usize;
                let way = &g.ways[g.way[e] as usize];
                AccessPoint { id: String::new(), lon: round(c.lon, 7), lat: round(c.lat, 7), osm_way: way.osm_way, highway: way.highway.clone(), vehicles: BTreeMap::new() }
            })
            .collect();
        let mut relied: HashSet<u32> = HashSet::new();
        for (class, field) in self.classes.iter().zip(&self.fields) {
            let solve = |passable: bool| {
                let mut labels = self.seed(&hood, field, class, passable);
                propagate(&Dynamics { graph: g, class, params: &self.params, passable_barriers: passable }, &hood.edges, &slot, &open, &mut labels);
                labels
            };
            let labels = solve(false);
            // Barriers relied on: with every barrier passable, an access point would be reached
            // faster by a path through them.
            let free = if hood.barrier_nodes.is_empty() { None } else { Some(solve(true)) };
            for ((i, c), point) in hood.crossings.iter().zip(points.iter_mut()) {
                let e = hood.edges[*i] as usize;
                let label = labels[*i];
                let v = class.speed_after(label.speed, c.t * g.length[e]);
                if let Some(free) = &free {
                    let v_free = class.speed_after(free[*i].speed, c.t * g.length[e]);
                    if v_free > v + self.params.improvement_threshold_ms {
                        let nodes = self.path_nodes(e, free, &slot, None);
                        relied.extend(nodes.into_iter().map(|(n, _)| n).filter(|n| g.barrier_of[*n as usize] != 0));
                    }
                }
                let (mut path, mut path_speeds_kmh): (Vec<[f64; 2]>, Vec<f64>) = self.path_nodes(e, &labels, &slot, Some(field)).into_iter().map(|(n, v)| (lon_lat(g, n), round(v * KMH_PER_MS, 1))).unzip();
                path.push([round(c.lon, 7), round(c.lat, 7)]);
                path_speeds_kmh.push(round(v * KMH_PER_MS, 1));
                point.vehicles.insert(
                    class.key.clone(),
                    Impact {
                        speed_kmh: round(v * KMH_PER_MS, 1),
                        energy_kj: round(energy_kj(class.mass_kg, v), 1),
                        run_up_m: round(label.run_up + c.t * g.length[e], 1),
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
                Some(AssumedBarrier { osm_node: b.osm_node, lon, lat, barrier: b.barrier.clone(), bollard: b.bollard.clone() })
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
        let mut slot = vec![0u32; g.edge_count()];
        for (i, &e) in edges.iter().enumerate() {
            slot[e as usize] = i as u32 + 1;
        }
        let inside: Vec<bool> = nodes.iter().map(|&n| outline.contains(g.lon[n as usize], g.lat[n as usize])).collect();
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
        Neighbourhood { edges, slot, open, crossings, barrier_nodes }
    }

    /// Initial labels of a neighbourhood: the whole-graph label of each edge whose best path
    /// does not go through the site (an achievable speed, so a valid start for label-correcting),
    /// rest for the others, improved by the whole-graph labels of the edges leading in from
    /// outside the neighbourhood.
    fn seed(&self, hood: &Neighbourhood, field: &Field, class: &VehicleClass, passable: bool) -> Vec<Label> {
        let g = self.graph;
        let fg = self.params.friction * self.params.gravity_ms2;
        let clean = clean_paths(hood, field);
        let mut labels: Vec<Label> = hood.edges.iter().zip(&clean).map(|(&e, &ok)| if ok { field.labels[e as usize] } else { REST }).collect();
        for (j, &e2) in hood.edges.iter().enumerate() {
            let a = g.from[e2 as usize];
            if !passable && g.barrier_of[a as usize] != 0 {
                continue;
            }
            let first_out = g.out_start[a as usize];
            for o in g.out_edges(a) {
                let e = g.reverse[o] as usize;
                if hood.slot[e] != 0 {
                    continue;
                }
                let from_outside = field.labels[e];
                let v_end = class.speed_after(from_outside.speed, g.length[e]);
                let t = g.turn_start[e] as usize + (e2 - first_out) as usize;
                let limit = (fg * g.turn_radius[t] as f64).sqrt();
                let v = v_end.min(limit);
                if v > labels[j].speed {
                    let run_up = if v_end > limit { 0.0 } else { from_outside.run_up + g.length[e] };
                    labels[j] = Label { speed: v, run_up, pred: e as u32 };
                }
            }
        }
        labels
    }

    /// Nodes of the best path ending with edge `last`, from its start (rest) onwards, with the
    /// speed (m/s) leaving each; within the neighbourhood only when `field` is None. When the
    /// best path circles a loop (gaining speed round a block up to its bend limits), the
    /// predecessors form a cycle: the path is then drawn from where it enters the loop.
    fn path_nodes(&self, last: usize, local: &[Label], slot: &impl Fn(u32) -> Option<usize>, field: Option<&Field>) -> Vec<(u32, f64)> {
        let g = self.graph;
        let mut nodes = Vec::new();
        let mut seen = HashSet::new();
        let mut e = last as u32;
        while e != NONE && nodes.len() < MAX_PATH_EDGES && seen.insert(e) {
            let label = match (slot(e), field) {
                (Some(i), _) => local[i],
                (None, Some(f)) => f.labels[e as usize],
                (None, None) => break,
            };
            nodes.push((g.from[e as usize], label.speed));
            e = label.pred;
        }
        nodes.reverse();
        nodes
    }
}

/// For each edge of the neighbourhood: does its whole-graph best path stay clear of the site
/// (no edge inside or crossing into it, within the neighbourhood)? Predecessor chains are
/// followed once each; a chain that loops is treated as not clear.
fn clean_paths(hood: &Neighbourhood, field: &Field) -> Vec<bool> {
    const UNKNOWN: u8 = 0;
    const VISITING: u8 = 1;
    const CLEAN: u8 = 2;
    const TAINTED: u8 = 3;
    let slot = |e: u32| match hood.slot[e as usize] {
        0 => None,
        s => Some(s as usize - 1),
    };
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
            let pred = field.labels[hood.edges[current] as usize].pred;
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
pub fn analyse_site(graph: &StreetGraph, site: &SiteGeometry, classes: &[VehicleClass], params: &DynamicsParams) -> VdaResult {
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
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(chunk).map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
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
        let rings = rings_deg.iter().map(|r| r.iter().map(|&(x, y)| ((x - lon0) * kx, (y - lat0) * ky)).collect()).collect();
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
            for w in ring.windows(2) {
                let ((x1, y1), (x2, y2)) = (w[0], w[1]);
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
            for w in ring.windows(2) {
                let (c, d) = (w[0], w[1]);
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
