//! HVM benchmark: prints figures for docs/performance.md. `cargo bench -p vigie-hvm`.
//! - Helsinki: read the PBF, build the graph, list the public-space candidates, analyse every
//!   candidate for every class (set VIGIE_HVM_PBF to use another extract).
//! - Scale: a synthetic city of about 1 million directed edges, 1,000 sites, 6 classes, and how
//!   the time grows with edges, sites and classes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a benchmark fails loudly

use std::path::PathBuf;
use std::time::Instant;

use vigie_hvm::{Analyser, DynamicsParams, GraphOptions, StreetGraph, VehicleClass, VehicleSet, synthetic};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU seconds used by the process so far (user + system, all threads): less distorted than
/// wall time when other jobs share the cores.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Six classes with distinct dynamics (N2A and N2B share N3C's).
fn six_classes() -> Vec<VehicleClass> {
    let set = VehicleSet::default_set().unwrap_or_else(|e| panic!("{e}"));
    set.select("M1,N1G,N1,N3C,N3D,N3F").unwrap_or_else(|e| panic!("{e}"))
}

fn helsinki() {
    let path = std::env::var("VIGIE_HVM_PBF").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/helsinki-centre.osm.pbf"))
    });
    if !path.exists() {
        println!("helsinki: {} not found, skipped", path.display());
        return;
    }
    let classes = VehicleSet::default_set().unwrap_or_else(|e| panic!("{e}")).classes;
    let total = Instant::now();
    let t = Instant::now();
    let extract = vigie_hvm::osm::read_streets(&path, &GraphOptions::default(), &vigie_osm::NoProgress)
        .unwrap_or_else(|e| panic!("{e}"));
    let read_s = secs(t);
    let t = Instant::now();
    let graph = StreetGraph::from_extract(&extract, &GraphOptions::default());
    let build_s = secs(t);
    let t = Instant::now();
    let candidates = vigie_osm::find_public_spaces(&path, &vigie_osm::NoProgress).unwrap_or_else(|e| panic!("{e}"));
    let cand_s = secs(t);
    let sites: Vec<_> = candidates.candidates.iter().map(|c| c.geometry.clone()).collect();
    let t = Instant::now();
    let analyser = Analyser::new(&graph, &classes, &DynamicsParams::default());
    let field_s = secs(t);
    let t = Instant::now();
    let results = analyser.analyse_sites(&sites);
    let sites_s = secs(t);
    let aps: usize = results.iter().map(|r| r.access_points.len()).sum();
    println!(
        "## Helsinki extract ({})",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    );
    println!("| step | figure |\n|---|---|");
    println!(
        "| read streets from PBF | {:.3} s, {} nodes read, {:.1} M nodes/s |",
        read_s,
        extract.nodes_read,
        extract.nodes_read as f64 / read_s / 1e6
    );
    println!(
        "| build graph | {:.3} s: {} nodes, {} directed edges, {} barriers |",
        build_s,
        graph.node_count(),
        graph.edge_count(),
        graph.barrier_count()
    );
    println!("| list candidate sites (second read) | {:.3} s: {} sites |", cand_s, sites.len());
    println!("| whole-graph speeds, {} classes | {:.3} s |", classes.len(), field_s);
    println!("| {} sites × {} classes | {:.3} s, {} access points |", sites.len(), classes.len(), sites_s, aps);
    println!("| whole process | {:.3} s, peak memory {:.0} MiB |", secs(total), peak_rss_mib());
}

struct Scale {
    edges: usize,
    sites: usize,
    classes: usize,
    build_s: f64,
    field_s: f64,
    sites_s: f64,
    field_cpu: f64,
    sites_cpu: f64,
    aps: usize,
}

fn scale(n: usize, sites: usize, classes: &[VehicleClass]) -> Scale {
    let (block, split, lon0, lat0) = (100.0, 4, 24.0, 60.0);
    let t = Instant::now();
    let graph = synthetic::city(n, block, split, lon0, lat0, 0.03, 42);
    let build_s = secs(t);
    let sites = synthetic::sites(sites, n, block, 80.0, lon0, lat0, 42);
    let (t, c) = (Instant::now(), cpu_s());
    let analyser = Analyser::new(&graph, classes, &DynamicsParams::default());
    let (field_s, field_cpu) = (secs(t), cpu_s() - c);
    let (t, c) = (Instant::now(), cpu_s());
    let results = analyser.analyse_sites(&sites);
    let (sites_s, sites_cpu) = (secs(t), cpu_s() - c);
    Scale {
        edges: graph.edge_count(),
        sites: sites.len(),
        classes: classes.len(),
        build_s,
        field_s,
        sites_s,
        field_cpu,
        sites_cpu,
        aps: results.iter().map(|r| r.access_points.len()).sum(),
    }
}

fn print_row(s: &Scale) {
    println!(
        "| {} | {} | {} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} + {:.2} = {:.2} | {} |",
        s.edges,
        s.sites,
        s.classes,
        s.build_s,
        s.field_s,
        s.sites_s,
        s.field_s + s.sites_s,
        s.field_cpu,
        s.sites_cpu,
        s.field_cpu + s.sites_cpu,
        s.aps
    );
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("# vigie-hvm benchmark ({cores} cores)\n");
    helsinki();
    let six = six_classes();
    println!("\n## Synthetic city: target 1,000 sites × 6 classes on ~1 M directed edges\n");
    println!(
        "| directed edges | sites | classes | graph build (s) | whole-graph speeds (s) | sites (s) | dynamics total (s) | CPU s: whole-graph + sites | access points |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let full = scale(250, 1000, &six);
    print_row(&full);
    println!("\npeak memory after the full run: {:.0} MiB\n", peak_rss_mib());
    if std::env::var("VIGIE_HVM_BENCH").as_deref() == Ok("quick") {
        return;
    }
    println!("### Scaling\n");
    println!(
        "| directed edges | sites | classes | graph build (s) | whole-graph speeds (s) | sites (s) | dynamics total (s) | CPU s: whole-graph + sites | access points |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in [125, 177] {
        print_row(&scale(n, 1000, &six));
    }
    for sites in [250, 500] {
        print_row(&scale(250, sites, &six));
    }
    for k in [1, 3] {
        print_row(&scale(250, 1000, &six[..k]));
    }
}
