//! Read throughput of the PBF reader and wall time of `find_public_spaces`.
//!
//! `cargo bench -p vigie-osm` prints nodes/s on the Helsinki demo extract and on a larger file
//! made by tiling its blocks (the same real data repeated, so that a run lasts long enough to
//! measure steady throughput), then the peak resident memory of the process (VmHWM).
//! `VIGIE_OSM_BENCH_TILES` sets how many copies the tiled file holds (default 200).
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

/// Writes the header frame, then `tiles` copies of the node-only frames, then `tiles` copies
/// of the rest: a sorted file `tiles` times the size of the original.
fn tiled_file(source: &Path, tiles: usize, out: &Path) -> u64 {
    let mut bytes = Vec::new();
    File::open(source).and_then(|mut f| f.read_to_end(&mut bytes)).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let frames: Vec<&[u8]> = frames(source, &bytes).into_iter().map(|range| &bytes[range]).collect();
    let (header, data) = frames.split_first().unwrap_or_else(|| panic!("no frames"));
    // In the demo file the last data block holds the remaining nodes, the ways and the relations.
    let (rest, nodes) = data.split_last().unwrap_or_else(|| panic!("no data"));
    let mut file = File::create(out).unwrap_or_else(|e| panic!("{e}"));
    file.write_all(header).unwrap_or_else(|e| panic!("{e}"));
    for part in [nodes, std::slice::from_ref(rest)] {
        for _ in 0..tiles {
            for frame in part {
                file.write_all(frame).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    file.metadata().map(|m| m.len()).unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// Runs `f` `runs` times; returns the median duration and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed());
    }
    times.sort();
    (times[runs / 2], last.unwrap_or_else(|| panic!("no run")))
}

fn main() {
    let streets = |t: &Tags| t.iter().any(|(k, _)| k == "highway");
    let tagged = |t: &Tags| !t.is_empty();
    let none = |_: &Tags| false;
    // What the street graph reads: highways and their nodes, tagged barriers and the like.
    let street_filter = ExtractFilter { keep_way: &streets, keep_node: &tagged, keep_relation: &none };

    let demo = demo_extract();
    let size = std::fs::metadata(&demo).map(|m| m.len()).unwrap_or(0);
    println!("demo extract: {} ({:.1} MiB)", demo.display(), size as f64 / 1048576.0);
    let (median, extract) = time(21, || read_extract(&demo, &street_filter, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    println!(
        "  read_extract (streets): median {:.2} ms over 21 runs, {} nodes read, {:.2} M nodes/s; kept {} ways, {} nodes",
        median.as_secs_f64() * 1e3,
        extract.nodes_read,
        extract.nodes_read as f64 / median.as_secs_f64() / 1e6,
        extract.ways.len(),
        extract.nodes.len()
    );
    let (median, report) = time(21, || find_public_spaces(&demo, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    println!("  find_public_spaces: median {:.2} ms over 21 runs, {} candidates, skipped {:?}", median.as_secs_f64() * 1e3, report.candidates.len(), report.skipped);
    for (category, count) in report.count_by_category() {
        println!("    {:<18} {count}", category.key());
    }

    let tiles: usize = std::env::var("VIGIE_OSM_BENCH_TILES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let tiled = dir.path().join("tiled.osm.pbf");
    let tiled_size = tiled_file(&demo, tiles, &tiled);
    println!("tiled file: {tiles} copies of the demo blocks ({:.1} MiB)", tiled_size as f64 / 1048576.0);
    let (median, extract) = time(5, || read_extract(&tiled, &street_filter, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    println!(
        "  read_extract (streets): median {:.3} s over 5 runs, {} nodes read, {:.2} M nodes/s",
        median.as_secs_f64(),
        extract.nodes_read,
        extract.nodes_read as f64 / median.as_secs_f64() / 1e6
    );
    drop(extract);
    let (median, report) = time(5, || find_public_spaces(&tiled, &NoProgress).unwrap_or_else(|e| panic!("{e}")));
    println!(
        "  find_public_spaces: median {:.3} s over 5 runs, {:.2} M nodes/s, {} candidates",
        median.as_secs_f64(),
        report.nodes_read as f64 / median.as_secs_f64() / 1e6,
        report.candidates.len()
    );
    println!("threads: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("peak memory (VmHWM): {:.1} MiB", peak_rss_mib());
}
