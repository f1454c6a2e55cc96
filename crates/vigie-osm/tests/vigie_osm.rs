//! vigie-osm on the real Helsinki demo extract and on broken files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vigie_domain::site::SiteCategory;
use vigie_osm::{ExtractFilter, NoProgress, OsmError, Progress, Tags, find_public_spaces, read_extract};

/// © OpenStreetMap contributors, ODbL 1.0 (see data/demo/ATTRIBUTION.md).
fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/helsinki-centre.osm.pbf")
}

fn demo_bytes() -> Vec<u8> {
    std::fs::read(demo()).unwrap_or_else(|e| panic!("{}: {e}", demo().display()))
}

fn has(tags: &Tags, key: &str) -> bool {
    tags.iter().any(|(k, _)| k == key)
}

fn value<'t>(tags: &'t Tags, key: &str) -> Option<&'t str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(u64, u64)>>);

impl Progress for Recorder {
    fn advance(&self, done: u64, total: u64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((done, total));
    }
}

#[test]
fn the_helsinki_extract_holds_dozens_of_known_public_spaces() {
    let report = find_public_spaces(&demo(), &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    let counts = report.count_by_category();
    println!("{} candidates from {} nodes; skipped {:?}", report.candidates.len(), report.nodes_read, report.skipped);
    for (category, count) in &counts {
        println!("  {:<18} {count}", category.key());
    }
    assert!(report.candidates.len() >= 25, "{} candidates", report.candidates.len());
    assert_eq!(report.nodes_read, 24_260);

    let known = [
        ("Helsingin tuomiokirkko", SiteCategory::PlaceOfWorship, "way/"),
        ("Vanha kirkko", SiteCategory::PlaceOfWorship, "way/"),
        ("Senaatintori", SiteCategory::PublicSquare, "relation/"),
        ("Rautatientori", SiteCategory::PublicSquare, "relation/"),
        ("Helsingin päärautatieasema", SiteCategory::TransportHub, "way/"),
        ("Stockmann", SiteCategory::ShoppingCentre, "way/"),
        ("Kauppakeskus Citycenter", SiteCategory::ShoppingCentre, "relation/"),
        ("Suomen Kansallisteatteri", SiteCategory::Venue, "way/"),
        ("Ateneum", SiteCategory::TouristSite, "way/"),
        ("Aleksanterinkatu", SiteCategory::PedestrianZone, "way/"),
        ("Vanha Kauppahalli", SiteCategory::OpenAirMarket, "way/"),
    ];
    for (name, category, kind) in known {
        let found = report.candidates.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} is missing"));
        assert_eq!(found.category, category, "{name}");
        assert!(found.osm_ref.starts_with(kind), "{name}: {}", found.osm_ref);
        assert_eq!(found.tags.get("name").map(String::as_str), Some(name));
    }
    // Senate Square is a multipolygon of two ways: stitched, with its real size (about 0.7 ha).
    let senate =
        report.candidates.iter().find(|c| c.name == "Senaatintori").map(|c| c.geometry.area_m2()).unwrap_or_default();
    assert!((5_000.0..10_000.0).contains(&senate), "{senate}");
    // The Market Square relation is cut by the edge of the extract: counted, not guessed.
    assert!(report.candidates.iter().all(|c| c.name != "Kauppatori"));
    assert!(report.skipped.get("incomplete_relation").is_some_and(|&n| n >= 1), "{:?}", report.skipped);
    assert!(report.skipped.get("no_area").is_some_and(|&n| n >= 10), "nodes such as theatres mapped as points");

    // Sane areas, all inside the extract's box (24.935–24.954 E, 60.164–60.180 N).
    for candidate in &report.candidates {
        let area = candidate.geometry.area_m2();
        assert!((100.0..200_000.0).contains(&area), "{} {}: {area} m²", candidate.osm_ref, candidate.name);
        let bbox = candidate.geometry.bounding_box().unwrap_or_else(|| panic!("{} has no box", candidate.osm_ref));
        assert!(
            bbox.west > 24.93 && bbox.east < 24.96 && bbox.south > 60.16 && bbox.north < 60.185,
            "{}: {bbox:?}",
            candidate.osm_ref
        );
    }
    // Unique elements, deterministic order.
    let refs: Vec<&str> = report.candidates.iter().map(|c| c.osm_ref.as_str()).collect();
    assert_eq!(refs.iter().collect::<BTreeSet<_>>().len(), refs.len());
    let again = find_public_spaces(&demo(), &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.candidates.iter().map(|c| c.osm_ref.as_str()).collect::<Vec<_>>(), refs);
    assert!(refs.iter().position(|r| r.starts_with("way/")) > refs.iter().rposition(|r| r.starts_with("relation/")));
}

#[test]
fn read_extract_keeps_what_the_filter_accepts_and_the_nodes_it_needs() {
    let streets = |t: &Tags| has(t, "highway");
    let theatres = |t: &Tags| value(t, "amenity") == Some("theatre");
    let senate = |t: &Tags| value(t, "name") == Some("Senaatintori") && value(t, "type") == Some("multipolygon");
    let filter = ExtractFilter { keep_way: &streets, keep_node: &theatres, keep_relation: &senate };
    let progress = Recorder::default();
    let extract = read_extract(&demo(), &filter, &progress).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!((extract.nodes_read, extract.ways_read, extract.relations_read), (24_260, 5_130, 620));
    assert_eq!(extract.relations.len(), 1);
    let relation = &extract.relations[0];
    // Member ways come along even though they are not highways.
    for member in relation.members.iter().filter(|m| m.kind == "way") {
        assert!(extract.ways.iter().any(|w| w.id == member.id), "member way {} is missing", member.id);
    }
    let member_ids: BTreeSet<i64> = relation.members.iter().map(|m| m.id).collect();
    assert!(extract.ways.iter().all(|w| has(&w.tags, "highway") || member_ids.contains(&w.id)));
    assert!(extract.ways.len() > 1_000, "{} ways", extract.ways.len());
    assert!(extract.ways.windows(2).all(|w| w[0].id < w[1].id), "ways sorted by id");

    // Coordinates of the kept ways' nodes are there, except for the parts of streets that run
    // out of the extract (about 8 % here).
    let refs: Vec<i64> = extract.ways.iter().flat_map(|w| w.refs.iter().copied()).collect();
    let known = refs.iter().filter(|id| extract.nodes.contains_key(id)).count();
    assert!(known * 100 >= refs.len() * 90, "{known} of {} way nodes have coordinates", refs.len());
    for node in extract.nodes.values() {
        assert!((24.9..25.0).contains(&node.lon) && (60.1..60.2).contains(&node.lat), "{node:?}");
    }
    // Tags only for the nodes keep_node accepts.
    let tagged: Vec<&Tags> = extract.nodes.values().filter_map(|n| n.tags.as_ref()).collect();
    assert!(!tagged.is_empty());
    assert!(tagged.iter().all(|t| value(t, "amenity") == Some("theatre")));

    // Progress: bytes, never backwards, ending at the file size.
    let calls = progress.0.into_inner().unwrap_or_else(|p| p.into_inner());
    let size = demo_bytes().len() as u64;
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");
    assert!(calls.iter().all(|&(done, total)| total == size && done <= size));
    assert_eq!(calls.last(), Some(&(size, size)));
}

/// The byte ranges of the file's blocks, as osmpbf sees them.
fn frames(path: &Path, len: usize) -> Vec<std::ops::Range<usize>> {
    let mut reader = osmpbf::BlobReader::seekable_from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let mut starts = Vec::new();
    while let Some(next) = reader.next_header_skip_blob() {
        let (_, offset) = next.unwrap_or_else(|e| panic!("{e}"));
        starts.push(offset.map_or(0, |o| o.0 as usize));
    }
    starts.push(len);
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

#[test]
fn an_unsorted_file_gives_the_same_result() {
    let bytes = demo_bytes();
    let ranges = frames(&demo(), bytes.len());
    assert!(ranges.len() >= 3, "{ranges:?}");
    // Header, then the block with the ways and relations, then the node blocks.
    let (header, data) = ranges.split_first().unwrap_or_else(|| unreachable!());
    let (last, nodes) = data.split_last().unwrap_or_else(|| unreachable!());
    let mut shuffled = bytes[header.clone()].to_vec();
    shuffled.extend_from_slice(&bytes[last.clone()]);
    for range in nodes.iter().rev() {
        shuffled.extend_from_slice(&bytes[range.clone()]);
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("unsorted.osm.pbf");
    std::fs::write(&path, &shuffled).unwrap_or_else(|e| panic!("{e}"));

    let sorted = find_public_spaces(&demo(), &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    let unsorted = find_public_spaces(&path, &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    let summary = |r: &vigie_osm::CandidateReport| {
        r.candidates.iter().map(|c| (c.osm_ref.clone(), c.geometry.area_m2().round() as i64)).collect::<Vec<_>>()
    };
    assert_eq!(summary(&unsorted), summary(&sorted));
    assert_eq!(unsorted.skipped, sorted.skipped);
    assert_eq!(unsorted.nodes_read, sorted.nodes_read);
}

fn error_for(bytes: &[u8], name: &str) -> OsmError {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    match find_public_spaces(&path, &NoProgress) {
        Ok(report) => panic!("{name}: read {} candidates from bad input", report.candidates.len()),
        Err(error) => {
            assert!(error.to_string().contains(name), "the message names the file: {error}");
            error
        }
    }
}

#[test]
fn a_missing_file_is_unreadable() {
    let error = find_public_spaces(Path::new("/nonexistent/helsinki.osm.pbf"), &NoProgress).err();
    let error = error.unwrap_or_else(|| panic!("a missing file was read"));
    assert_eq!(error.code(), "osm_file_unreadable");
    assert!(error.to_string().contains("/nonexistent/helsinki.osm.pbf"), "{error}");
}

#[test]
fn a_directory_is_unreadable_and_a_file_with_only_a_header_is_empty() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let error = find_public_spaces(dir.path(), &NoProgress).err().unwrap_or_else(|| panic!("a directory was read"));
    assert_eq!(error.code(), "osm_file_unreadable", "{error}");

    let bytes = demo_bytes();
    let header = frames(&demo(), bytes.len())[0].clone();
    let path = dir.path().join("header-only.osm.pbf");
    std::fs::write(&path, &bytes[header]).unwrap_or_else(|e| panic!("{e}"));
    let report = find_public_spaces(&path, &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.candidates.is_empty() && report.skipped.is_empty());
    assert_eq!(report.nodes_read, 0);
}

#[test]
fn files_that_are_not_pbf_are_named_as_such() {
    let geojson = br#"{"type": "FeatureCollection", "features": []}"#;
    let xml = b"<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\"></osm>\n";
    // A fixed pseudo-random sequence (xorshift), so the test is reproducible.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let cases: [(&[u8], &str, &str); 5] = [
        (b"", "empty.osm.pbf", "empty"),
        (b"hello, this is a text file\n", "notes.txt", "header block"),
        (geojson, "sites.geojson", "JSON"),
        (xml, "extract.osm", "OSM XML"),
        (&random, "random.bin", "header block"),
    ];
    for (bytes, name, hint) in cases {
        let error = error_for(bytes, name);
        assert_eq!(error.code(), "osm_not_pbf", "{name}: {error}");
        assert!(error.to_string().contains(hint), "{name}: {error}");
    }
}

#[test]
fn a_cut_or_damaged_file_is_reported_as_truncated() {
    let bytes = demo_bytes();
    for (cut, name) in
        [(bytes.len() / 2, "half.osm.pbf"), (bytes.len() - 1, "one-byte-short.osm.pbf"), (10, "ten-bytes.osm.pbf")]
    {
        let error = error_for(&bytes[..cut], name);
        assert_eq!(error.code(), "osm_truncated", "{name}: {error}");
        assert!(error.to_string().contains("interrupted"), "{name}: {error}");
    }
    let mut extra = bytes.clone();
    extra.extend_from_slice(b"\x00\x00");
    assert_eq!(error_for(&extra, "trailing.osm.pbf").code(), "osm_truncated");

    // Damage inside a compressed block: the framing is intact, the content is not.
    let ranges = frames(&demo(), bytes.len());
    let block = ranges[2].clone();
    let mut damaged = bytes.clone();
    let middle = block.start + block.len() / 2;
    damaged[middle..middle + 64].fill(0x55);
    let error = error_for(&damaged, "damaged.osm.pbf");
    assert_eq!(error.code(), "osm_truncated", "{error}");
    assert!(error.to_string().contains("cannot be decoded"), "{error}");

    // The street reader meets the same errors.
    let none = |_: &Tags| false;
    let filter = ExtractFilter { keep_way: &none, keep_node: &none, keep_relation: &none };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let half = dir.path().join("half.osm.pbf");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_extract(&half, &filter, &NoProgress).map(|_| ()).map_err(|e| e.code().key()), Err("osm_truncated"));
}

#[test]
fn a_block_compressed_other_than_with_zlib_is_named() {
    let bytes = demo_bytes();
    let header = frames(&demo(), bytes.len())[0].clone();
    // A data block whose Blob holds `lzma_data` (field 4): "lzma" as its 4 bytes.
    let blob = b"\x10\x0a\x22\x04lzma";
    let blob_header = [b"\x0a\x07OSMData\x18".as_slice(), &[blob.len() as u8]].concat();
    let mut file = bytes[header].to_vec();
    file.extend_from_slice(&(blob_header.len() as u32).to_be_bytes());
    file.extend_from_slice(&blob_header);
    file.extend_from_slice(blob);
    let error = error_for(&file, "lzma.osm.pbf");
    assert_eq!(error.code(), "osm_not_pbf", "{error}");
    assert!(error.to_string().contains("LZMA") && error.to_string().contains("block 2"), "{error}");
}

#[test]
fn every_site_is_placed_by_its_nearest_named_streets() {
    let report = find_public_spaces(&demo(), &NoProgress).unwrap_or_else(|e| panic!("{e}"));
    let streets = |name: &str| -> Vec<Vec<String>> {
        report.candidates.iter().filter(|c| c.name == name).map(|c| c.nearest_streets.clone()).collect()
    };
    // Senate Square lies between Hallituskatu (north) and Aleksanterinkatu (south); the
    // squares have no address at all.
    assert_eq!(streets("Senaatintori"), [["Hallituskatu", "Aleksanterinkatu"]]);
    assert_eq!(streets("Rautatientori"), [["Mikonkatu", "Kaivokatu"]]);
    // Two stretches of Keskuskatu, told apart by their cross streets; never a site's own name.
    let keskuskatu = streets("Keskuskatu");
    assert_eq!(keskuskatu.len(), 2);
    assert_ne!(keskuskatu[0], keskuskatu[1]);
    for candidate in &report.candidates {
        assert!(!candidate.nearest_streets.is_empty(), "{} is placed", candidate.name);
        assert!(!candidate.nearest_streets.contains(&candidate.name), "{}", candidate.name);
    }
}
