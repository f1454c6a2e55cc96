//! Cooperation at scale (issue 13): `cargo bench -p vigie-server --bench cooperation` builds
//! SQLite stores in a temporary folder and prints
//! 1. how long `App::send_bulletin` takes to store a TLP:AMBER bulletin to a community of 10,000
//!    operator organisations, with its recipients and a delivered receipt for each: 5 sends, each
//!    and the median; then the two store calls of a send alone, and as many rows written one
//!    statement each and 500 per statement into a bare table. Target: ≤ 1 s on 2 cores.
//! 2. wrk's figures for `GET /api/v1/inbox`, served by this process on 127.0.0.1 (every read
//!    audited), with 100,000 bulletins in the store, 300 of them to the reading organisation:
//!    with all 300 open, the newest 30, none; each time 64 connections as fast as they go, 36
//!    pausing 10 ms each (at most 3,600 req/s), and one request at a time split into its parts.
//!    Target: ≥ 3,000 req/s, p99 < 20 ms (SQLite, 2 cores).
//!
//! Smaller sizes for a quick run: `VIGIE_BENCH_ORGS` (10,000), `VIGIE_BENCH_BULLETINS`
//! (100,000), `VIGIE_BENCH_ADDRESSED` (300), `VIGIE_BENCH_OPEN` (30), `VIGIE_BENCH_SECONDS`
//! (15 per wrk run). Needs `wrk` (Debian package). Seeding is never timed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a benchmark fails loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use vigie_app::secrets::{new_secret, secret_hash};
use vigie_app::{App, Settings};
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::bulletin::{Bulletin, BulletinDraft, Texts};
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

/// Awaits `call`: its output, the wall time and this process's CPU seconds meanwhile (all
/// threads: the tokio workers and SQLite's), which other programs on the cores distort least.
async fn timed<T>(call: impl Future<Output = T>) -> (T, Duration, f64) {
    let cpu = process_cpu_seconds();
    let start = Instant::now();
    let output = call.await;
    (output, start.elapsed(), process_cpu_seconds() - cpu)
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
    let mut sent_ids = Vec::new();
    for send in 1..=5 {
        let to_community = Recipients { communities: vec![community.id.clone()], ..Recipients::default() };
        let draft = bulletin(Marking::Amber, to_community, app.now_ms());
        let (sent, took, cpu) = timed(app.send_bulletin(&officer, draft)).await;
        let sent = sent.unwrap();
        assert_eq!(store.bulletin_receipts(&sent.id).await.unwrap().len(), org_count, "a receipt per member");
        println!("send {send}: {:.0} ms (CPU {:.0} ms)", ms(took), cpu * 1e3);
        times.push(took);
        sent_ids.push(sent.id);
    }
    println!("median of 5 sends: {:.0} ms (target ≤ 1,000 ms)", ms(median_p99(times).0));
    // Where a send's time goes: the two store calls it makes for the community, alone, with
    // the bulletin as the application stores it (under AMBER, the members named one by one).
    let (mut reads, mut writes, mut write_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 1..=5 {
        let start = Instant::now();
        let members = store.community_members(&community.id).await.unwrap();
        reads.push(start.elapsed());
        let mut receipt_orgs: Vec<OrgId> =
            members.into_iter().map(|m| m.org_id).filter(|org| *org != officer.org_id).collect();
        receipt_orgs.sort();
        let to_members =
            Recipients { communities: vec![community.id.clone()], orgs: receipt_orgs.clone(), users: Vec::new() };
        let stored = Bulletin {
            id: BulletinId::from(format!("{:032x}", rand::random::<u128>())),
            author: officer.user_id.clone(),
            author_org: officer.org_id.clone(),
            created_at_ms: app.now_ms(),
            draft: bulletin(Marking::Amber, to_members, app.now_ms()),
        };
        let (stored, took, cpu) = timed(store.create_bulletin(&cli(&app), &stored, &receipt_orgs, &[])).await;
        stored.unwrap();
        writes.push(took);
        write_cpu.push(Duration::from_secs_f64(cpu));
    }
    println!(
        "of which, alone (median of 5): the memberships (community_members) {:.0} ms; the transaction (create_bulletin: {org_count} recipient and {org_count} receipt rows, audit entry) {:.0} ms (CPU {:.0} ms)",
        ms(median_p99(reads).0),
        ms(median_p99(writes).0),
        ms(median_p99(write_cpu).0)
    );
    statements_or_rows(2 * org_count).await;
    // What a member's inbox then loads: each bulletin with the recipient rows naming it.
    let member = store.community_members(&community.id).await.unwrap().pop().unwrap().org_id;
    let communities = vec![community.id.clone()];
    let naming = vigie_store::Naming { user: "a-member", org: member.as_str(), communities: &communities };
    let start = Instant::now();
    let read_back = store.bulletins_seen_by(&sent_ids, naming).await.unwrap();
    println!(
        "reading the 5 back as a member sees them (bulletins_seen_by, {} recipient rows naming it): {:.0} ms",
        read_back.iter().map(|b| b.draft.recipients.orgs.len() + b.draft.recipients.communities.len()).sum::<usize>(),
        ms(start.elapsed())
    );
}

/// The lever for that transaction, on a bare table of receipts in a database of its own opened
/// as the store opens its own: `rows` rows in one transaction, one statement each (as
/// `create_bulletin` writes recipients and receipts) and 500 per statement (as the outbox
/// queues notifications). Each statement is a round trip to SQLite's worker thread.
async fn statements_or_rows(rows: usize) {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("rows.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
    let table = "CREATE TABLE receipts (bulletin_id TEXT, org_id TEXT, delivered_at INTEGER, PRIMARY KEY (bulletin_id, org_id))";
    sqlx::query(table).execute(&pool).await.unwrap();
    let orgs: Vec<String> = (0..rows).map(|i| format!("{i:032x}")).collect();
    let one_each = async {
        let mut tx = pool.begin().await.unwrap();
        for org in &orgs {
            let insert = sqlx::query("INSERT INTO receipts VALUES ($1, $2, $3)").bind("one each").bind(org).bind(0_i64);
            insert.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    };
    let (_, one_each, one_each_cpu) = timed(one_each).await;
    let batched = async {
        let mut tx = pool.begin().await.unwrap();
        for chunk in orgs.chunks(500) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO receipts ");
            insert.push_values(chunk, |mut row, org| {
                row.push_bind("batched").push_bind(org).push_bind(0_i64);
            });
            insert.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    };
    let (_, batched, batched_cpu) = timed(batched).await;
    println!(
        "the lever, {rows} rows into a bare table in one transaction: one statement each {:.0} ms (CPU {:.0} ms); 500 per statement {:.0} ms (CPU {:.0} ms)",
        ms(one_each),
        one_each_cpu * 1e3,
        ms(batched),
        batched_cpu * 1e3
    );
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

    let paced = dir.path().join("paced.lua");
    std::fs::write(&paced, "function delay() return 10 end\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/inbox", listener.local_addr().unwrap());
    let router = vigie_server::router(state);
    let service = router.clone().into_make_service_with_connect_info::<SocketAddr>();
    let _server = tokio::spawn(async move { axum::serve(listener, service).await });

    // The same store three times: every bulletin to the reader open (an organisation that
    // never acknowledges), the newest few, none (the floor: what any inbox read costs).
    let mut acknowledged = 0;
    for keep_open in [to_reader.len(), open.min(to_reader.len()), 0] {
        for id in &to_reader[acknowledged..to_reader.len() - keep_open] {
            app.acknowledge_bulletin(&reader, id).await.unwrap();
        }
        acknowledged = to_reader.len() - keep_open;
        assert_eq!(app.inbox(&reader).await.unwrap().bulletins.len(), keep_open, "the open ones listed");
        let inbox = format!("{keep_open} of the {} bulletins to the reader open", to_reader.len());
        load(&url, &token, seconds, &paced, &inbox).await;
        parts(&router, &app, store.as_ref(), &reader, &token).await;
    }
}

/// This process's CPU time (user + system, all threads), in seconds.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// wrk as scripts/bench-api runs it, 2 threads: 64 connections as fast as they go, then 36
/// connections each pausing 10 ms between requests (`paced`, a Lua script): at most 3,600
/// req/s, fewer as the latency adds to the pause, for the latency at or below the target's
/// rate. A request slower than wrk's default 2 s timeout would drop out of the latency
/// figures, hence 10 s.
async fn load(url: &str, token: &str, seconds: usize, paced: &std::path::Path, inbox: &str) {
    let authorization = format!("Authorization: Bearer {token}");
    let paced = paced.to_str().unwrap();
    for (connections, script) in [("-c64", None), ("-c36", Some(["-s", paced]))] {
        let duration = format!("-d{seconds}s");
        let mut wrk = tokio::process::Command::new("wrk");
        wrk.args(["-t2", connections, &duration, "--latency", "--timeout", "10s"]);
        wrk.args(script.iter().flatten()).args(["-H", &authorization, url]);
        let pacing = if script.is_some() { ", 10 ms pause per connection" } else { "" };
        println!("-- inbox with {inbox}: wrk -t2 {connections} {duration}{pacing}");
        let (out, _, cpu) = timed(wrk.output()).await;
        let out = out.expect("wrk runs the load: apt-get install wrk");
        assert!(out.status.success(), "wrk failed: {}", String::from_utf8_lossy(&out.stderr));
        let report = String::from_utf8_lossy(&out.stdout);
        print!("{report}");
        let requests: f64 = report
            .lines()
            .find(|line| line.contains(" requests in "))
            .and_then(|line| line.split_whitespace().next()?.parse().ok())
            .unwrap();
        println!("   server CPU: {:.2} ms per request ({cpu:.1} s for {requests:.0})", cpu * 1e3 / requests);
    }
}

/// One call at a time, `ROUNDS` times each: where a request's time goes.
async fn parts(router: &axum::Router, app: &App, store: &dyn Store, reader: &Principal, token: &str) {
    let ids: Vec<BulletinId> =
        store.open_receipts(&reader.org_id, 500).await.unwrap().into_iter().map(|(id, _)| id).collect();
    let communities: Vec<vigie_domain::CommunityId> =
        store.communities_of(&reader.org_id).await.unwrap().into_iter().map(|(c, _)| c.id).collect();
    let naming =
        vigie_store::Naming { user: reader.user_id.as_str(), org: reader.org_id.as_str(), communities: &communities };
    let (mut whole, mut auth, mut reads, mut bulletins, mut audited) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut body_bytes = 0;
    for _ in 0..ROUNDS {
        let request = Request::get("/api/v1/inbox")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let start = Instant::now();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        body_bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().len();
        whole.push(start.elapsed());
        let start = Instant::now();
        app.principal_for_token(token).await.unwrap();
        auth.push(start.elapsed());
        let start = Instant::now();
        app.inbox_unread(reader).await.unwrap();
        reads.push(start.elapsed());
        let start = Instant::now();
        store.bulletins_seen_by(&ids, naming).await.unwrap();
        bulletins.push(start.elapsed());
        let start = Instant::now();
        app.inbox(reader).await.unwrap();
        audited.push(start.elapsed());
    }
    println!("   one at a time, {ROUNDS} calls each ({body_bytes} bytes of JSON per response):");
    for (what, times) in [
        ("whole request through the router, no socket", whole),
        ("  token → principal (every API call)", auth),
        ("  inbox use case with its audit entry (App::inbox)", audited),
        ("    its reads alone (App::inbox_unread)", reads),
        ("      of which the bulletins with the recipients naming the reader (bulletins_seen_by)", bulletins),
    ] {
        let (median, p99) = median_p99(times);
        println!("   {what}: median {:.2} ms, p99 {:.2} ms", ms(median), ms(p99));
    }
}
