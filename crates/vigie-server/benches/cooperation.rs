//! Cooperation at scale (issue 13): `cargo bench -p vigie-server --bench cooperation` builds
//! SQLite stores in a temporary folder and prints
//! 1. how long `App::send_bulletin` takes to store a TLP:AMBER bulletin to a community of
//!    10,000 operator organisations, with its recipients and a delivered receipt for each
//!    (5 sends, each and the median). Target: ≤ 1 s on 2 cores.
//! 2. wrk's figures for `GET /api/v1/inbox` (2 threads, 64 connections, served by this process
//!    on 127.0.0.1, every read audited) with 100,000 bulletins in the store, 300 of them to the
//!    reading organisation: once with all 300 open, once with the newest 30 open; then one
//!    request at a time, split into its parts. Target: ≥ 3,000 req/s, p99 < 20 ms (SQLite,
//!    2 cores).
//!
//! Smaller sizes for a quick run: `VIGIE_BENCH_ORGS` (10,000), `VIGIE_BENCH_BULLETINS`
//! (100,000), `VIGIE_BENCH_ADDRESSED` (300), `VIGIE_BENCH_OPEN` (30), `VIGIE_BENCH_SECONDS`
//! (15 per wrk run). Needs `wrk` (Debian package). Seeding is never timed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a benchmark fails loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_app::secrets::{new_secret, secret_hash};
use vigie_app::{App, Settings};
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::bulletin::{BulletinDraft, Texts};
use vigie_domain::sharing::{Marking, MembershipState, Recipients};
use vigie_domain::{BulletinId, CommunityId, OrgId};
use vigie_server::{AppState, ServerConfig};
use vigie_store::{NewUser, Store, WriteContext};

/// Authorities of the inbox world, each owning one community.
const AUTHORITIES: usize = 10;
/// Operator organisations of the inbox world, spread evenly over the communities.
const OPERATORS: usize = 1_000;
/// Operator organisations (besides the reader's) with a user who sends bulletins to peers.
const PEER_AUTHORS: usize = 10;
/// Calls per part when one request at a time is split into its parts.
const ROUNDS: usize = 200;

fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    println!(
        "machine: {} cores; load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(send_to_a_community(size("VIGIE_BENCH_ORGS", 10_000)));
    runtime.block_on(read_the_inbox(
        size("VIGIE_BENCH_BULLETINS", 100_000),
        size("VIGIE_BENCH_ADDRESSED", 300),
        size("VIGIE_BENCH_OPEN", 30),
        size("VIGIE_BENCH_SECONDS", 15),
    ));
}

async fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    vigie_store::open(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.unwrap()
}

/// Seeding writes as the command line does.
fn cli(app: &App) -> WriteContext {
    WriteContext { at_ms: app.now_ms(), actor: "cli".into(), actor_org: None }
}

/// A user of `org` with an API token: the principal and the token.
async fn user_with_token(app: &App, store: &dyn Store, email: &str, org: &OrgId, role: Role) -> (Principal, String) {
    // Nobody signs in with a password here, so no (deliberately slow) password hash.
    let new = NewUser { email: email.into(), org_id: org.clone(), role, password_hash: String::new() };
    let user = store.create_user(&cli(app), new).await.unwrap();
    let token = new_secret("vg_");
    store.create_token(&cli(app), &user.id, "bench", &secret_hash(&token)).await.unwrap();
    (app.principal_for_token(&token).await.unwrap().unwrap(), token)
}

/// `owner` invites `org` to `community`, which accepts.
async fn enrol(app: &App, store: &dyn Store, owner: &Principal, community: &CommunityId, org: &OrgId) {
    app.invite_to_community(owner, community, org).await.unwrap();
    // Accepting is an operator's act, and these organisations have no users: the store records it.
    store
        .change_membership(&cli(app), community, org, &[MembershipState::Invited], MembershipState::Member)
        .await
        .unwrap();
}

/// The demo's reconnaissance warning, as its author would write it.
fn bulletin(marking: Marking, recipients: Recipients, now_ms: i64) -> BulletinDraft {
    let texts = |fr: &str, en: &str| Texts { fr: Some(fr.to_owned()), en: Some(en.to_owned()) };
    BulletinDraft {
        title: texts("Repérages suspects aux entrées de service", "Suspected reconnaissance of service entrances"),
        text: texts(
            "Trois signalements cette semaine : une camionnette grise filme les entrées de service des centres commerciaux du centre.",
            "Three reports this week: a grey van films the service entrances of the centre's shopping centres.",
        ),
        instruction: texts(
            "Signalez toute présence répétée ; ne l’interpellez pas.",
            "Report any repeated presence; do not confront it.",
        ),
        marking,
        recipients,
        area: None,
        sites: Vec::new(),
        scenario: Some("hostile_reconnaissance".into()),
        urgency: "Expected".into(),
        severity: "Moderate".into(),
        certainty: "Likely".into(),
        response_type: "Monitor".into(),
        status: "Actual".into(),
        msg_type: "Alert".into(),
        references: None,
        effective_ms: now_ms,
        expires_ms: Some(now_ms + 7 * 86_400_000),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The middle value (the upper one of an even count) and the 99th percentile (nearest rank).
fn median_p99(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let p99 = times[(times.len() * 99).div_ceil(100).max(1) - 1];
    (times[times.len() / 2], p99)
}

async fn send_to_a_community(org_count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir).await;
    let app = App::new(store.clone(), Settings::default());
    let seeding = Instant::now();
    let city = store.create_org(&cli(&app), "City", OrgKind::Authority).await.unwrap();
    let (officer, _) = user_with_token(&app, store.as_ref(), "officer@city.example", &city.id, Role::Authority).await;
    let community = app.create_community(&officer, "Operators of the country").await.unwrap();
    for i in 0..org_count {
        let org = store.create_org(&cli(&app), &format!("Operator {i:05}"), OrgKind::Operator).await.unwrap();
        enrol(&app, store.as_ref(), &officer, &community.id, &org.id).await;
    }
    println!(
        "\n== TLP:AMBER bulletin to a community of {org_count} operator organisations (seeded in {:.1} s)",
        seeding.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    for send in 1..=5 {
        let to_community = Recipients { communities: vec![community.id.clone()], ..Recipients::default() };
        let draft = bulletin(Marking::Amber, to_community, app.now_ms());
        let start = Instant::now();
        let sent = app.send_bulletin(&officer, draft).await.unwrap();
        let took = start.elapsed();
        assert_eq!(store.bulletin_receipts(&sent.id).await.unwrap().len(), org_count, "a receipt per member");
        println!("send {send}: {:.0} ms", ms(took));
        times.push(took);
    }
    println!("median of 5 sends: {:.0} ms (target ≤ 1,000 ms)", ms(median_p99(times).0));
}

/// What the reader's organisation is sent: the `n`-th bulletin to it, in turn GREEN, AMBER
/// and CLEAR to its community (AMBER stored as the community's 100 member organisations) and
/// AMBER from a peer to it and two other operators.
fn to_the_reader<'a>(
    n: usize,
    authority: &'a Principal,
    peer: &'a Principal,
    community: &CommunityId,
    orgs: &[OrgId],
) -> (&'a Principal, Marking, Recipients) {
    let to_community = Recipients { communities: vec![community.clone()], ..Recipients::default() };
    match n % 4 {
        0 => (authority, Marking::Green, to_community),
        1 => (authority, Marking::Amber, to_community),
        2 => (authority, Marking::Clear, to_community),
        _ => (peer, Marking::Amber, Recipients { orgs: orgs.to_vec(), ..Recipients::default() }),
    }
}

async fn read_the_inbox(bulletins: usize, addressed: usize, open: usize, seconds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir).await;
    let state = AppState::new(store.clone(), ServerConfig::default());
    let app = state.app.clone();
    let seeding = Instant::now();
    let mut authorities = Vec::new();
    let mut communities = Vec::new();
    for a in 0..AUTHORITIES {
        let org = store.create_org(&cli(&app), &format!("Authority {a}"), OrgKind::Authority).await.unwrap();
        let email = format!("officer{a}@authority.example");
        let (officer, _) = user_with_token(&app, store.as_ref(), &email, &org.id, Role::Authority).await;
        communities.push(app.create_community(&officer, &format!("Community {a}")).await.unwrap().id);
        authorities.push(officer);
    }
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        let org = store.create_org(&cli(&app), &format!("Operator {i:04}"), OrgKind::Operator).await.unwrap();
        let a = i % AUTHORITIES;
        enrol(&app, store.as_ref(), &authorities[a], &communities[a], &org.id).await;
        operators.push(org.id);
    }
    let (reader, token) =
        user_with_token(&app, store.as_ref(), "duty@operator0.example", &operators[0], Role::Operator).await;
    let mut peers = Vec::new();
    for (p, org) in operators.iter().enumerate().skip(1).take(PEER_AUTHORS) {
        let email = format!("duty@operator{p}.example");
        peers.push(user_with_token(&app, store.as_ref(), &email, org, Role::Operator).await.0);
    }
    // Every `spacing`-th bulletin is to the reader's organisation; the others go to three other
    // operators, marked CLEAR, AMBER and AMBER+STRICT in turn, from the authorities and the
    // peers in turn. The reader sees none of those in its inbox, but they fill the tables.
    let spacing = (bulletins / addressed.max(1)).max(1);
    let mut to_reader: Vec<BulletinId> = Vec::new();
    for i in 0..bulletins {
        let others: Vec<OrgId> = (1..=3).map(|k| operators[1 + (i * 7 + k * 331) % (OPERATORS - 1)].clone()).collect();
        let for_reader = i % spacing == 0 && to_reader.len() < addressed;
        let (author, marking, recipients) = if for_reader {
            let orgs = [&operators[..1], &others[..2]].concat();
            to_the_reader(to_reader.len(), &authorities[0], &peers[i % PEER_AUTHORS], &communities[0], &orgs)
        } else {
            let author = if i % 2 == 0 { &authorities[i % AUTHORITIES] } else { &peers[i % PEER_AUTHORS] };
            let marking = [Marking::Clear, Marking::Amber, Marking::AmberStrict][i % 3];
            (author, marking, Recipients { orgs: others, ..Recipients::default() })
        };
        let sent = app.send_bulletin(author, bulletin(marking, recipients, app.now_ms())).await.unwrap();
        if for_reader {
            to_reader.push(sent.id);
        }
    }
    println!(
        "\n== GET /api/v1/inbox: {bulletins} bulletins ({} to the reader's organisation), {OPERATORS} operators in {AUTHORITIES} communities (seeded in {:.1} s)",
        to_reader.len(),
        seeding.elapsed().as_secs_f64()
    );
    assert_eq!(
        app.inbox(&reader).await.unwrap().bulletins.len(),
        to_reader.len(),
        "every bulletin to the reader listed"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/inbox", listener.local_addr().unwrap());
    let service = vigie_server::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let _server = tokio::spawn(async move { axum::serve(listener, service).await });

    load(&url, &token, seconds, &format!("all {} open", to_reader.len())).await;
    parts(&app, store.as_ref(), &reader, &token).await;
    let keep_open = open.min(to_reader.len());
    for id in &to_reader[..to_reader.len() - keep_open] {
        app.acknowledge_bulletin(&reader, id).await.unwrap();
    }
    assert_eq!(app.inbox(&reader).await.unwrap().bulletins.len(), keep_open, "the acknowledged ones leave the inbox");
    load(&url, &token, seconds, &format!("the newest {keep_open} open, the rest acknowledged")).await;
    parts(&app, store.as_ref(), &reader, &token).await;
}

/// wrk as scripts/bench-api runs it: 2 threads, 64 connections, latency distribution; then
/// one connection, for the latency of a request alone.
async fn load(url: &str, token: &str, seconds: usize, inbox: &str) {
    let authorization = format!("Authorization: Bearer {token}");
    for (threads, connections) in [(2, 64), (1, 1)] {
        println!("-- inbox with {inbox}: wrk -t{threads} -c{connections} -d{seconds}s --latency");
        let out = tokio::process::Command::new("wrk")
            .args([&format!("-t{threads}"), &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-H"])
            .args([&authorization, url])
            .output()
            .await
            .expect("wrk runs the load: apt-get install wrk");
        assert!(out.status.success(), "wrk failed: {}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// One call at a time, `ROUNDS` times: where a request's time goes.
async fn parts(app: &App, store: &dyn Store, reader: &Principal, token: &str) {
    let mut auth = Vec::new();
    let mut reads = Vec::new();
    let mut bulletins = Vec::new();
    let mut audited = Vec::new();
    let ids: Vec<BulletinId> =
        store.open_receipts(&reader.org_id, 500).await.unwrap().into_iter().map(|(id, _)| id).collect();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        app.principal_for_token(token).await.unwrap();
        auth.push(start.elapsed());
        let start = Instant::now();
        app.inbox_unread(reader).await.unwrap();
        reads.push(start.elapsed());
        let start = Instant::now();
        store.bulletins_by_ids(&ids).await.unwrap();
        bulletins.push(start.elapsed());
        let start = Instant::now();
        app.inbox(reader).await.unwrap();
        audited.push(start.elapsed());
    }
    for (what, times) in [
        ("token → principal (every API call)", auth),
        ("inbox reads, no audit (App::inbox_unread)", reads),
        ("  of which the bulletins with their recipients (bulletins_by_ids)", bulletins),
        ("inbox use case with its audit entry (App::inbox)", audited),
    ] {
        let (median, p99) = median_p99(times);
        println!("   {what}: median {:.2} ms, p99 {:.2} ms", ms(median), ms(p99));
    }
}
