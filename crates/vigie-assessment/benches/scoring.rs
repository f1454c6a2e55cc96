//! `cargo bench -p vigie-assessment`: assessments scored per second on one core with the full
//! embedded methodology, full report (`score`) and numbers only (`score_numbers`). Prints figures; no timing assertion (see docs/performance.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a benchmark fails loudly

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use vigie_assessment::{AssessmentInput, Methodology, SiteContext, score, score_numbers, what_if};
use vigie_domain::site::SiteCategory;

/// A deterministic spread of answers: every applicable question answered, grades varied,
/// some `na`, a few left unanswered, over every category.
fn inputs(m: &Methodology) -> Vec<AssessmentInput> {
    SiteCategory::ALL
        .iter()
        .enumerate()
        .map(|(ci, category)| {
            let mut answers = BTreeMap::new();
            for (qi, q) in m.questions.iter().enumerate() {
                if !q.applies_to.contains(category) {
                    continue;
                }
                let pick = (qi * 7 + ci * 3) % (q.answers.len() + 2);
                if pick < q.answers.len() {
                    answers.insert(q.id.clone(), q.answers[pick].id.clone());
                } else if q.allows_na && pick == q.answers.len() {
                    answers.insert(q.id.clone(), "na".to_owned());
                }
            }
            AssessmentInput {
                methodology_version: m.version.clone(),
                site: SiteContext {
                    category: *category,
                    occupancy: 500 + 900 * ci as u32,
                    area_m2: 4000.0,
                    visibility: None,
                },
                threat_level: 3 + (ci % 3) as u8,
                answers,
            }
        })
        .collect()
}

/// CPU time of this thread in seconds (user + system), from /proc: on a shared machine the
/// wall clock also counts the time other processes hold the core.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are utime and stime, in clock ticks (100 per second on Linux).
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn measure(label: &str, runs: usize, mut f: impl FnMut(usize)) {
    // `cargo bench -p vigie-assessment -- WORD` runs only the measures whose label has WORD.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filter.is_empty() && !filter.iter().any(|w| label.contains(w.as_str())) {
        return;
    }
    // Warm-up, then the timed runs.
    for i in 0..runs / 10 {
        f(i);
    }
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    for i in 0..runs {
        f(i);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds().zip(cpu_start).map(|(end, begin)| end - begin).filter(|s| *s > 0.0);
    let per_second = |seconds: f64| runs as f64 / seconds;
    println!(
        "{label:<40} {runs:>7} runs  wall {:>8.2} µs/run ({:>8.0}/s)  cpu {}",
        wall * 1e6 / runs as f64,
        per_second(wall),
        cpu.map_or("n/a".to_owned(), |c| format!(
            "{:>8.2} µs/run ({:>8.0}/s per core)",
            c * 1e6 / runs as f64,
            per_second(c)
        ))
    );
}

fn main() {
    let m = match Methodology::embedded() {
        Ok(m) => m,
        Err(err) => {
            eprintln!("the embedded methodology does not load: {err}");
            std::process::exit(1);
        }
    };
    let inputs = inputs(m);
    let answered: usize = inputs.iter().map(|i| i.answers.len()).sum::<usize>() / inputs.len();
    println!(
        "methodology {}: {} questions, {} scenarios, {} domains; {} answers per assessment on average",
        m.version,
        m.questions.len(),
        m.scenarios.len(),
        m.domains.len(),
        answered
    );
    measure("score (resolve ids + full report)", 200_000, |i| {
        black_box(score(m, black_box(&inputs[i % inputs.len()])).ok());
    });
    measure("score_numbers (resolve ids + numbers only)", 1_000_000, |i| {
        black_box(score_numbers(m, black_box(&inputs[i % inputs.len()])).ok());
    });
    let mut actions = Vec::new();
    for input in &inputs {
        if let Ok(report) = score(m, input) {
            actions.push(report.actions.iter().take(10).map(|a| a.measure.to_owned()).collect::<Vec<_>>());
        }
    }
    measure("what_if (10 measures, before + after)", 50_000, |i| {
        black_box(what_if(m, black_box(&inputs[i % inputs.len()]), &actions[i % actions.len()]).ok());
    });
    measure("score + serialise to JSON", 50_000, |i| {
        let report = score(m, &inputs[i % inputs.len()]).ok();
        black_box(serde_json::to_vec(&report).ok());
    });
}
