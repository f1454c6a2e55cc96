//! Relevance and speed of the guidance library. `cargo bench -p vigie-search` prints:
//! - top-1 / top-3 hit rates of the queries in `benches/relevance.toml` over the demo library;
//! - ingest throughput (parse + split, and parse + split + index), in pages of 3,000
//!   characters of extracted text per second;
//! - search latency p50 / p95 / max on a library of at least 10,000 passages: the demo
//!   corpus plus synthetic documents whose words are drawn from the corpus's own word
//!   distribution, spread over ten organisations and all markings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a benchmark fails loudly

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use vigie_search::analysis::fold;
use vigie_search::demo::DEMO_LIBRARY;
use vigie_search::{Access, IngestOptions, LibraryIndex, Marking, ParsedDocument, SearchQuery, parse};

#[derive(serde::Deserialize)]
struct RelevanceFile {
    query: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    lang: String,
    text: String,
    expect: String,
}

fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/library")
}

fn corpus_files() -> Vec<(&'static str, Vec<u8>, IngestOptions)> {
    DEMO_LIBRARY
        .iter()
        .map(|e| (e.filename, std::fs::read(library_dir().join(e.filename)).expect("demo file"), e.options("eu")))
        .collect()
}

fn parse_corpus() -> Vec<ParsedDocument> {
    corpus_files().into_iter().map(|(name, bytes, o)| parse(&bytes, name, o).expect("parse")).collect()
}

fn index_of(docs: &[ParsedDocument]) -> LibraryIndex {
    LibraryIndex::in_ram_from(docs).expect("index")
}

fn admin() -> Access {
    Access::everything()
}

fn relevance(cases: &[Case]) {
    let docs = parse_corpus();
    let index = index_of(&docs);
    let texts: HashMap<&str, String> =
        docs.iter().flat_map(|d| d.passages.iter().map(|p| (p.id.as_str(), fold(&p.text)))).collect();
    let (mut top1, mut top3) = (0, 0);
    let mut by_lang: HashMap<&str, (usize, usize)> = HashMap::new();
    for case in cases {
        let results =
            index.search(&SearchQuery { limit: 3, ..SearchQuery::new(&case.text) }, &admin()).expect("search").results;
        let want = fold(&case.expect);
        let rank = results.iter().position(|h| texts.get(h.passage_id.as_str()).is_some_and(|t| t.contains(&want)));
        let entry = by_lang.entry(case.lang.as_str()).or_default();
        entry.1 += 1;
        match rank {
            Some(r) => {
                top3 += 1;
                entry.0 += 1;
                top1 += usize::from(r == 0);
            }
            None => println!("  miss [{}] {:?} → {:?}", case.lang, case.text, results.first().map(|h| &h.snippet)),
        }
    }
    let n = cases.len();
    println!(
        "relevance: {n} queries, top-1 {top1}/{n} = {:.0}%, top-3 {top3}/{n} = {:.0}%",
        pct(top1, n),
        pct(top3, n)
    );
    let mut langs: Vec<_> = by_lang.into_iter().collect();
    langs.sort();
    for (lang, (hit, total)) in langs {
        println!("  {lang}: top-3 {hit}/{total}");
    }
}

fn pct(a: usize, b: usize) -> f64 {
    100.0 * a as f64 / b.max(1) as f64
}

fn ingest_throughput() {
    let files = corpus_files();
    let rounds = 20;
    let started = Instant::now();
    let mut chars = 0usize;
    let mut parsed = Vec::new();
    for round in 0..rounds {
        for (name, bytes, o) in &files {
            let mut o = o.clone();
            o.document_id = Some(format!("{name}-{round}"));
            let d = parse(bytes, name, o).expect("parse");
            chars += d.version.char_count;
            parsed.push(d);
        }
    }
    let parse_secs = started.elapsed().as_secs_f64();
    let pages = chars as f64 / vigie_search::PAGE_CHARS as f64;
    let started = Instant::now();
    let index = index_of(&parsed);
    let index_secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {pages:.0} pages ({} passages) parsed+split in {parse_secs:.2} s = {:.0} pages/s; with indexing (RAM, 1 writer thread) {:.0} pages/s",
        index.passage_count().expect("count"),
        pages / parse_secs,
        pages / (parse_secs + index_secs)
    );
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn latency(cases: &[Case]) {
    let mut docs = parse_corpus();
    let words: Vec<String> = docs
        .iter()
        .flat_map(|d| d.passages.iter().flat_map(|p| p.text.split_whitespace().map(str::to_owned).collect::<Vec<_>>()))
        .collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut passages: usize = docs.iter().map(|d| d.passages.len()).sum();
    let mut n = 0;
    while passages < 10_000 {
        let mut md = format!("# Guide synthétique {n}\n\n");
        for section in 0..10 {
            md.push_str(&format!("## Section {section}\n\n"));
            for _ in 0..5 {
                let len = 70 + rng.below(60);
                let para: Vec<&str> = (0..len).map(|_| words[rng.below(words.len())].as_str()).collect();
                md.push_str(&para.join(" "));
                md.push_str(".\n\n");
            }
        }
        let mut o = IngestOptions::new(format!("org-{}", n % 10));
        o.document_id = Some(format!("synthetic-{n}"));
        o.marking = Marking::ALL[n % Marking::ALL.len()];
        o.language = Some(vigie_search::Lang::Fr);
        let d = parse(md.as_bytes(), "synthetic.md", o).expect("synthetic");
        passages += d.passages.len();
        docs.push(d);
        n += 1;
    }
    let index = index_of(&docs);
    // What a member of org-1 reads: every CLEAR and GREEN document (org-1 in their
    // communities) and its own above that, as the application's rule decides it.
    let access = Access::documents(
        docs.iter()
            .filter(|d| d.document.marking <= Marking::Green || d.document.org_id.as_str() == "org-1")
            .map(|d| d.document.id.to_string()),
    );
    let mut times = Vec::new();
    let mut cpu_ticks = 0u64;
    for round in 0..10 {
        let cpu_before = thread_cpu_ticks();
        for case in cases {
            let q = SearchQuery { limit: 10, ..SearchQuery::new(&case.text) };
            let started = Instant::now();
            let r = index.search(&q, &access).expect("search");
            let micros = started.elapsed().as_micros();
            if round > 0 {
                // The first round warms caches; it is not counted.
                times.push(micros);
            }
            std::hint::black_box(r);
        }
        if round > 0 {
            cpu_ticks += thread_cpu_ticks().saturating_sub(cpu_before);
        }
    }
    times.sort_unstable();
    let at = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "search latency on {} passages ({} documents), {} queries, limit 10, access filter on: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        index.passage_count().expect("count"),
        docs.len(),
        times.len(),
        at(50),
        at(95),
        *times.last().unwrap_or(&0) as f64 / 1000.0
    );
    // Wall-clock figures include waiting for a core on a busy machine; CPU time does not.
    if cpu_ticks > 0 {
        println!(
            "  mean CPU time per search (this thread, from /proc, 10 ms ticks): {:.2} ms",
            cpu_ticks as f64 * 10.0 / times.len() as f64
        );
    }
    println!(
        "  machine load average while measuring: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
}

/// user + system time of the calling thread, in clock ticks (100 per second on Linux).
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at the state field.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn main() {
    let file: RelevanceFile = toml::from_str(
        &std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/relevance.toml"))
            .expect("relevance file"),
    )
    .expect("relevance toml");
    relevance(&file.query);
    ingest_throughput();
    latency(&file.query);
}
