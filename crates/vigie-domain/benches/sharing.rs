//! Speed of the TLP access rule: `cargo bench -p vigie-domain` prints the decisions per
//! second over one million (reader, object) pairs drawn from a world of 1,000 organisations,
//! 100 communities and 10,000 users, every marking equally likely, recipients of 0 to 20 ids.
//! Target (issue 13): at least 10 million decisions per second per core.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a benchmark fails loudly

use std::hint::black_box;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use vigie_domain::sharing::{Marking, Reader, Recipients, Shared, may_read};
use vigie_domain::{CommunityId, OrgId, UserId};

fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / 100.0)
}

fn main() {
    // A fixed seed: the same world on every run.
    let mut draw = rand::rngs::StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    let orgs: Vec<OrgId> = (0..1_000).map(|i| OrgId::from(format!("org-{i}"))).collect();
    let communities: Vec<CommunityId> = (0..100).map(|i| CommunityId::from(format!("community-{i}"))).collect();
    let users: Vec<(UserId, usize)> = (0..10_000).map(|i| (UserId::from(format!("user-{i}")), i % 1_000)).collect();
    // Each organisation is a member of 0 to 4 communities.
    let memberships: Vec<Vec<CommunityId>> = (0..orgs.len())
        .map(|_| (0..draw.random_range(0..5)).map(|_| communities[draw.random_range(0..100)].clone()).collect())
        .collect();
    let objects: Vec<(Marking, usize, Recipients)> = (0..10_000)
        .map(|_| {
            let author = draw.random_range(0..users.len());
            let recipients = Recipients {
                communities: (0..draw.random_range(0..3))
                    .map(|_| communities[draw.random_range(0..100)].clone())
                    .collect(),
                orgs: (0..draw.random_range(0..21)).map(|_| orgs[draw.random_range(0..1_000)].clone()).collect(),
                users: (0..draw.random_range(0..6)).map(|_| users[draw.random_range(0..10_000)].0.clone()).collect(),
            };
            (Marking::ALL[draw.random_range(0..5)], author, recipients)
        })
        .collect();
    let pairs: Vec<(usize, usize)> =
        (0..1_000_000).map(|_| (draw.random_range(0..users.len()), draw.random_range(0..objects.len()))).collect();
    let decide = |(reader, object): (usize, usize)| {
        let (user, org) = &users[reader];
        let (marking, author, recipients) = &objects[object];
        let (author_user, author_org) = &users[*author];
        may_read(
            &Reader { user, org: &orgs[*org], communities: &memberships[*org] },
            &Shared { marking: *marking, author: author_user, author_org: &orgs[*author_org], recipients },
        )
    };
    for &pair in pairs.iter().take(100_000) {
        black_box(decide(black_box(pair)));
    }
    let rounds = 5;
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..rounds {
        for &pair in &pairs {
            allowed += usize::from(black_box(decide(black_box(pair))));
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let decisions = (rounds * pairs.len()) as f64;
    let cpu = thread_cpu_seconds().zip(cpu_start).map(|(end, begin)| end - begin).filter(|s| *s > 0.0);
    println!(
        "TLP rule: {decisions:.0} decisions over 1,000,000 (reader, object) pairs, {:.1} % allowed; wall {:.1} M/s; cpu {}",
        allowed as f64 * 100.0 / decisions,
        decisions / wall / 1e6,
        cpu.map_or("n/a".to_owned(), |c| format!("{:.1} M/s per core", decisions / c / 1e6))
    );
    println!("machine load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}
