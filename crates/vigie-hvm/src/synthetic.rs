//! A synthetic city for benchmarks and tests: a jittered street grid with curved segments,
//! gaps, pedestrian streets and bollards, deterministic for a given seed.
use vigie_domain::geometry::SiteGeometry;
use vigie_osm::Tags;

use crate::graph::{StreetGraph, WaySpec};

/// Metres per degree of latitude, for placing the grid.
const M_PER_DEG: f64 = 111_195.08;

/// A small deterministic generator (SplitMix64): the benchmark must not depend on a clock.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A grid of `n`×`n` intersections `block_m` apart, each block side cut into `split` segments,
/// around (lon0, lat0), with a bollard on a share `bollards` of the streets. Directed edges ≈
/// 4·n²·split.
pub fn city(n: usize, block_m: f64, split: usize, lon0: f64, lat0: f64, bollards: f64, seed: u64) -> StreetGraph {
    let mut rng = Mix(seed);
    let kx = M_PER_DEG * lat0.to_radians().cos();
    let node_id =
        |i: usize, j: usize, k: usize, dir: usize| -> i64 { (((i * n + j) * split + k) * 2 + dir) as i64 + 1 };
    let jitter = block_m * 0.08;
    let mut corner = vec![(0.0, 0.0); n * n];
    for (idx, c) in corner.iter_mut().enumerate() {
        let (i, j) = (idx / n, idx % n);
        let x = i as f64 * block_m + (rng.next() - 0.5) * jitter;
        let y = j as f64 * block_m + (rng.next() - 0.5) * jitter;
        *c = (lon0 + x / kx, lat0 + y / M_PER_DEG);
    }
    let mut ways = Vec::new();
    let mut barriers: Vec<(i64, Tags)> = Vec::new();
    for i in 0..n {
        for j in 0..n {
            for dir in 0..2 {
                let (i2, j2) = if dir == 0 { (i + 1, j) } else { (i, j + 1) };
                if i2 >= n || j2 >= n || rng.next() < 0.04 {
                    continue;
                }
                let (Some(&a), Some(&b)) = (corner.get(i * n + j), corner.get(i2 * n + j2)) else { continue };
                let bend = (rng.next() - 0.5) * 0.3;
                let mut nodes = vec![(-((i * n + j) as i64) - 1, a.0, a.1)];
                for k in 1..split {
                    let f = k as f64 / split as f64;
                    // A gentle arc: offset perpendicular to the segment, largest mid-block.
                    let off = bend * (f * (1.0 - f)) * block_m;
                    let (dx, dy) = ((b.0 - a.0) * kx, (b.1 - a.1) * M_PER_DEG);
                    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
                    let (px, py) = (-dy / len * off, dx / len * off);
                    nodes.push((
                        node_id(i, j, k, dir),
                        a.0 + f * (b.0 - a.0) + px / kx,
                        a.1 + f * (b.1 - a.1) + py / M_PER_DEG,
                    ));
                }
                nodes.push((-((i2 * n + j2) as i64) - 1, b.0, b.1));
                if rng.next() < bollards
                    && nodes.len() > 2
                    && let Some(&(first_inner, ..)) = nodes.get(1)
                {
                    barriers.push((first_inner, vec![("barrier".into(), "bollard".into())]));
                }
                let highway = if rng.next() < 0.1 { "pedestrian" } else { "residential" };
                ways.push(WaySpec { osm_way: ways.len() as i64 + 1, highway: highway.into(), nodes });
            }
        }
    }
    // In an OSM file ways come in the order they were mapped, not street by street: shuffled
    // here too, so the benchmark does not enjoy a memory layout real data never has.
    for i in (1..ways.len()).rev() {
        let j = (rng.next() * (i + 1) as f64) as usize;
        ways.swap(i, j.min(i));
    }
    StreetGraph::from_ways(&ways, &barriers)
}

/// `count` square sites of `side_m` metres spread over the city made by [`city`] with the same
/// `n`, `block_m`, `lon0`, `lat0`.
pub fn sites(count: usize, n: usize, block_m: f64, side_m: f64, lon0: f64, lat0: f64, seed: u64) -> Vec<SiteGeometry> {
    let mut rng = Mix(seed ^ 0xA5A5_A5A5);
    let kx = M_PER_DEG * lat0.to_radians().cos();
    let span = (n.saturating_sub(1)) as f64 * block_m - side_m;
    (0..count)
        .filter_map(|_| {
            let (x, y) = (rng.next() * span, rng.next() * span);
            let (w, s) = (lon0 + x / kx, lat0 + y / M_PER_DEG);
            let (e, nn) = (lon0 + (x + side_m) / kx, lat0 + (y + side_m) / M_PER_DEG);
            let ring = geo::LineString::from(vec![(w, s), (e, s), (e, nn), (w, nn), (w, s)]);
            SiteGeometry::from_polygons(vec![geo::Polygon::new(ring, vec![])]).ok()
        })
        .collect()
}
