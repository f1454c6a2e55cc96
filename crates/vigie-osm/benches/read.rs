//! Read throughput of the PBF reader and wall time of `find_public_spaces`.
//!
//! `cargo bench -p vigie-osm` prints nodes/s on the Helsinki demo extract and on two larger
//! files made by tiling its real blocks, so that a run lasts long enough to measure steady
//! throughput:
//! - "city tiling": every block repeated, the demo's own mix (a city-centre extract holds one
//!   way for five nodes and 620 relations, far more than a country extract);
//! - "node tiling": the node blocks repeated, the other block once: the shape of a country
//!   extract, where node blocks are most of the bytes.
//!
//! Besides wall time it prints CPU time (user + system, all threads), so that figures taken on
//! a busy machine can still be compared, and the peak resident memory (VmHWM).
//! `VIGIE_OSM_BENCH_TILES` sets how many copies the tiled files hold (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a benchmark fails loudly

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigie_osm::{ExtractFilter, NoProgress, Tags, find_public_spaces, read_extract};

fn demo_extract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/helsinki-centre.osm.pbf")
}

/// Splits a PBF file into frames (`[4-byte length][BlobHeader][Blob]`), using the offsets
/// osmpbf reports while skipping blob bodies.
fn frames(path: &Path, bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut reader = osmpbf::BlobReader::seekable_from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let mut starts = Vec::new();
    while let Some(next) = reader.next_header_skip_blob() {
        let (_, offset) = next.unwrap_or_else(|e| panic!("{e}"));
        starts.push(offset.map_or(0, |o| o.0 as usize));
    }
    starts.push(bytes.len());
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Writes the header frame, then `tiles` copies of the node-only frames, then `rest_tiles`
/// copies of the rest: a sorted file.
fn tiled_file(source: &Path, tiles: usize, rest_tiles: usize, out: &Path) -> u64 {
    let mut bytes = Vec::new();
    File::open(source)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let frames: Vec<&[u8]> = frames(source, &bytes).into_iter().map(|range| &bytes[range]).collect();
    let (header, data) = frames.split_first().unwrap_or_else(|| panic!("no frames"));
    // In the demo file the last data block holds the remaining nodes, the ways and the relations.
    let (rest, nodes) = data.split_last().unwrap_or_else(|| panic!("no data"));
    let mut file = File::create(out).unwrap_or_else(|e| panic!("{e}"));
    file.write_all(header).unwrap_or_else(|e| panic!("{e}"));
    for (part, copies) in [(nodes, tiles), (std::slice::from_ref(rest), rest_tiles)] {
        for _ in 0..copies {
            for frame in part {
                file.write_all(frame).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    file.metadata().map(|m| m.len()).unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time of the process so far (user + system, all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum());
    ticks / 100.0 // USER_HZ is 100 on Linux
}

struct Timing {
    median: Duration,
    cpu_per_run: f64,
}

/// Runs `f` `runs` times; returns the median wall time, the mean CPU time and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Timing, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    let cpu = cpu_seconds();
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    let cpu_per_run = (cpu_seconds() - cpu) / runs as f64;
    times.sort();
    (Timing { median: times[runs / 2], cpu_per_run }, last.unwrap_or_else(|| panic!("no run")))
}

/// Prints one read_extract measurement.
fn report_read(label: &str, runs: usize, timing: &Timing, nodes_read: u64) {
    let wall = timing.median.as_secs_f64();
    println!(
        "  {label}: median {:.1} ms over {runs} runs, {nodes_read} nodes read, {:.2} M nodes/s wall; CPU {:.1} ms/run, {:.2} M nodes per CPU-second",
        wall * 1e3,
        nodes_read as f64 / wall / 1e6,
        timing.cpu_per_run * 1e3,
        nodes_read as f64 / timing.cpu_per_run.max(1e-9) / 1e6,
    );
}

fn main() {
    let streets = |t: &Tags| t.iter().any(|(k, _)| k == "highway");
    let barriers = |t: &Tags| t.iter().any(|(k, _)| k == "barrier");
    let none = |_: &Tags| false;
    // What a street graph reads: highways, their nodes, and barriers (bollards, gates).
    let street_filter = ExtractFilter { keep_way: &streets, keep_node: &barriers, keep_relation: &none };

    let demo = demo_extract();
    let size = std::fs::metadata(&demo).map(|m| m.len()).unwrap_or(0);
    println!("demo extract: {} ({:.2} MiB)", demo.display(), size as f64 / 1048576.0);
    let (timing, extract) =
        time(21, || read_extract(&demo, &street_filter, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    report_read("read_extract (streets)", 21, &timing, extract.nodes_read);
    println!("    kept {} ways, {} nodes", extract.ways.len(), extract.nodes.len());
    let (timing, report) = time(21, || find_public_spaces(&demo, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    report_read("find_public_spaces", 21, &timing, report.nodes_read);
    println!("    {} candidates, skipped {:?}", report.candidates.len(), report.skipped);
    for (category, count) in report.count_by_category() {
        println!("    {:<18} {count}", category.key());
    }

    let tiles: usize = std::env::var("VIGIE_OSM_BENCH_TILES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    println!("  peak memory so far (VmHWM): {:.1} MiB", peak_rss_mib());
    for (label, rest_tiles) in [("node tiling", 1), ("city tiling", tiles)] {
        let tiled = dir.path().join("tiled.osm.pbf");
        let tiled_size = tiled_file(&demo, tiles, rest_tiles, &tiled);
        println!(
            "{label}: node blocks x{tiles}, way/relation block x{rest_tiles} ({:.1} MiB)",
            tiled_size as f64 / 1048576.0
        );
        let (timing, extract) =
            time(5, || read_extract(&tiled, &street_filter, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
        report_read("read_extract (streets)", 5, &timing, extract.nodes_read);
        drop(extract);
        let (timing, report) = time(5, || find_public_spaces(&tiled, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
        report_read("find_public_spaces", 5, &timing, report.nodes_read);
        // For comparison: osmpbf (the decoder the reader used before its own) decoding every
        // block on all cores and only counting nodes.
        let (timing, nodes) = time(5, || {
            let reader = osmpbf::ElementReader::from_path(&tiled).unwrap_or_else(|e| panic!("{e}"));
            reader
                .par_map_reduce(
                    |e| u64::from(matches!(e, osmpbf::Element::DenseNode(_) | osmpbf::Element::Node(_))),
                    || 0,
                    |a, b| a + b,
                )
                .unwrap_or_else(|e| panic!("{e}"))
        });
        report_read("osmpbf decode only (par_map_reduce count)", 5, &timing, nodes);
        println!("  peak memory so far (VmHWM): {:.1} MiB", peak_rss_mib());
    }
    println!("threads: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
}
