//! The API's answers pinned byte for byte before the server's logic moves to an application
//! layer (issue 11). Each story below calls routes of `api::all_routes()`, in success and in
//! their main errors, and pins a transcript of status, headers and raw body text: key order and
//! number formatting count. Ids, secrets, times and the backend's name are replaced by stable
//! placeholders, so that a transcript is the same on every run and on both backends.
use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use vigie_server::HvmNetwork;

use super::{AMBER_TEXT, CLEAR_TEXT, PHOTO_WITH_GPS, World, library_state, site_body, upload, worlds};

const DAY_MS: i64 = 86_400_000;
/// Headers worth pinning with the body; the others (length, date) follow from it or vary.
const PINNED_HEADERS: [header::HeaderName; 5] =
    [header::CONTENT_TYPE, header::LOCATION, header::SET_COOKIE, header::CACHE_CONTROL, header::X_CONTENT_TYPE_OPTIONS];
/// The routes that answer without authentication, and so have no error answer to pin.
const PUBLIC_ROUTES: [&str; 2] = ["/healthz", "/api/v1/openapi.json"];
const SNAPSHOT_PREFIX: &str = "vigie_server__api_snapshots__";
const CATALOGUE_CSV: &str = "manufacturer,product,standard,rating,foundation,width\n\
Example Ltd,Bollard B1,IWA 14-1,V/7200[N2B]/80/90:0.7,C,1.2\n\
Example Ltd,Planter P1,IWA 14-1,V/1500[M1]/48/90:1.5,A,2.0\n\
Example Ltd,Heavy blocker H1,IWA 14-1,V/30000[N3F]/80/90:1.0,C,3.0\n";

/// Two streets into the market square of `site_body`: a straight one from the west and one
/// from the south with a bend, small enough for the studies to stay readable.
fn street_network() -> HvmNetwork {
    use vigie_hvm::graph::WaySpec;
    let way = |osm_way: i64, nodes: &[(i64, f64, f64)]| WaySpec {
        osm_way,
        highway: "residential".into(),
        nodes: nodes.to_vec(),
    };
    let graph = vigie_hvm::StreetGraph::from_ways(
        &[
            way(1, &[(1, 24.946, 60.1675), (2, 24.953, 60.1675)]),
            way(2, &[(3, 24.950, 60.164), (4, 24.953, 60.1655), (2, 24.953, 60.1675)]),
        ],
        &[],
    );
    HvmNetwork { graph, vehicles: vigie_hvm::VehicleSet::default_set().unwrap(), name: "two-streets (test)".into() }
}

/// Lists ordered by creation time fall back on random ids for objects made in the same
/// millisecond: a story waits between two of them.
async fn next_millisecond() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

/// The worlds, served with a library index and the street network.
async fn snapshot_worlds() -> Vec<World> {
    let mut worlds = worlds().await;
    for world in &mut worlds {
        world.app = vigie_server::router(library_state(&world.store).await.with_hvm(street_network()));
    }
    worlds
}

/// Placeholders for what changes from run to run: `[kind-N]` in order of naming, or a fixed
/// label for what every world has.
#[derive(Default)]
struct Placeholders {
    labels: BTreeMap<String, String>,
    counts: BTreeMap<String, usize>,
}

impl Placeholders {
    fn fix(&mut self, raw: &str, label: &str) {
        let previous = self.labels.insert(raw.to_owned(), format!("[{label}]"));
        assert!(previous.is_none(), "{raw} named twice");
    }

    fn label(&mut self, kind: &str, raw: &str) -> String {
        if let Some(label) = self.labels.get(raw) {
            return label.clone();
        }
        let count = self.counts.entry(kind.to_owned()).or_default();
        *count += 1;
        let label = format!("[{kind}-{count}]");
        self.labels.insert(raw.to_owned(), label.clone());
        label
    }
}

/// Replaces what `matcher` finds in `text` (given the character before and the rest, it
/// answers the length of a match and its replacement).
fn replace_matches(text: &str, mut matcher: impl FnMut(Option<char>, &str) -> Option<(usize, String)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous = None;
    while let Some(c) = rest.chars().next() {
        if let Some((len, replacement)) = matcher(previous, rest) {
            previous = rest[..len].chars().next_back();
            out.push_str(&replacement);
            rest = &rest[len..];
        } else {
            out.push(c);
            previous = Some(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn hex_run(text: &str) -> usize {
    text.bytes().take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)).count()
}

/// The length of a UUID at the start of `text`; the nil UUID, which tests send, is left alone.
fn uuid_at(previous: Option<char>, text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let shape = bytes.len() >= 36
        && (0..36).all(|i| match i {
            8 | 13 | 18 | 23 => bytes[i] == b'-',
            _ => bytes[i].is_ascii_digit() || (b'a'..=b'f').contains(&bytes[i]),
        });
    if !shape || bytes[..36].iter().all(|b| *b == b'0' || *b == b'-') {
        return None;
    }
    (!is_word(previous) && !is_word(text[36..].chars().next())).then_some(36)
}

/// The length of a library passage id (`p-` and 16 hex digits, `-N` for a repeated text), but
/// for the all-zero one, which tests send.
fn passage_at(previous: Option<char>, text: &str) -> Option<usize> {
    let hex = text.strip_prefix("p-").map(hex_run)?;
    let mut len = 2 + hex;
    let digits = text[len..].strip_prefix('-').map(|r| r.bytes().take_while(u8::is_ascii_digit).count());
    if let Some(digits @ 1..) = digits {
        len += 1 + digits;
    }
    let nil = text[2..len].bytes().all(|b| b == b'0' || b == b'-');
    (hex == 16 && !nil && !is_word(previous) && !is_word(text[len..].chars().next())).then_some(len)
}

/// A story: requests sent to one world and the transcript of their answers.
struct Story<'w> {
    world: &'w World,
    /// The exchanges as received; placeholders are put in at the end, once every id is named.
    exchanges: Vec<Exchange>,
    placeholders: Placeholders,
    started_ms: i64,
}

/// A request line with the status, the pinned headers, and the body.
struct Exchange {
    head: String,
    body: String,
    /// Pinned by its digest: a large answer whose text another exchange of the story shows.
    digest: bool,
}

impl<'w> Story<'w> {
    /// Names what every world has: its organisations, users, their tokens and the market site.
    async fn new(world: &'w World) -> Story<'w> {
        let mut placeholders = Placeholders::default();
        for org in world.store.list_orgs().await.unwrap() {
            let label = match org.name.as_str() {
                "City" => "org-city",
                "Market Operator" => "org-market",
                "Other Operator" => "org-other",
                other => panic!("an organisation the world does not make: {other}"),
            };
            placeholders.fix(&org.id, label);
        }
        for role in ["admin", "officer", "viewer", "operator", "stranger"] {
            let user = world.store.user_by_email(&format!("{role}@example.org")).await.unwrap().unwrap().user;
            placeholders.fix(&user.id, &format!("user-{role}"));
            for token in world.store.list_tokens(&user.id).await.unwrap() {
                placeholders.fix(&token.id, &format!("token-{role}"));
            }
        }
        placeholders.fix(&world.operator_site, "site-market");
        // The world's own site was made just before: times from then on are "now".
        let started_ms = super::now_ms() - 10 * 60_000;
        Story { world, exchanges: Vec::new(), placeholders, started_ms }
    }

    fn name(&mut self, kind: &str, raw: &Value) {
        self.placeholders.label(kind, raw.as_str().unwrap_or_else(|| panic!("no {kind} id: {raw}")));
    }

    fn token(&self, who: &str) -> Option<&'w str> {
        let world = self.world;
        match who {
            "admin" => Some(&world.admin),
            "officer" => Some(&world.officer),
            "operator" => Some(&world.operator),
            "stranger" => Some(&world.stranger),
            "viewer" => Some(&world.viewer),
            "anonymous" => None,
            other => panic!("no such user in the world: {other}"),
        }
    }

    /// Sends `body` as JSON, with the bearer token of `who`.
    async fn call(&mut self, method: &str, uri: &str, who: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, value, _) = match body {
            Some(body) => self.bytes(method, uri, who, Some("application/json"), body.to_string().into_bytes()).await,
            None => self.bytes(method, uri, who, None, Vec::new()).await,
        };
        (status, value)
    }

    /// Sends raw bytes, with a content type when one is given.
    async fn bytes(
        &mut self,
        method: &str,
        uri: &str,
        who: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = self.token(who) {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(who, request.body(Body::from(body)).unwrap()).await
    }

    /// Sends `request` and records the exchange under the caller's description `who`.
    async fn send(&mut self, who: &str, request: Request<Body>) -> (StatusCode, Value, HeaderMap) {
        let line = format!("{} {} ({who})", request.method(), request.uri());
        let response = self.world.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let mut head = format!("{line} -> {status}\n");
        for name in PINNED_HEADERS {
            for value in headers.get_all(&name) {
                head.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
            }
        }
        let body = match std::str::from_utf8(&bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => format!("<{} bytes, sha256 {}>", bytes.len(), hex::encode(Sha256::digest(&bytes))),
        };
        self.exchanges.push(Exchange { head, body, digest: false });
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
    }

    /// Pins the last answer's body by its length and digest (taken once placeholders are in).
    fn digest_last(&mut self) {
        self.exchanges.last_mut().unwrap().digest = true;
    }

    /// The transcript, with placeholders.
    fn finish(self) -> String {
        let Story { world, exchanges, placeholders, started_ms } = self;
        let mut named: Vec<(String, String)> = placeholders.labels.clone().into_iter().collect();
        named.sort_by_key(|(raw, _)| std::cmp::Reverse(raw.len()));
        let mut redactor = Redactor {
            placeholders,
            named,
            started_ms,
            finished_ms: super::now_ms() + 60_000,
            backend: world.store.backend(),
        };
        let mut text = String::new();
        for exchange in exchanges {
            text.push_str(&redactor.apply(&exchange.head));
            let body = redactor.apply(&exchange.body);
            match (body.as_str(), exchange.digest) {
                ("", _) => {}
                (body, false) => text.push_str(&format!("{body}\n")),
                (body, true) => text.push_str(&format!(
                    "<{} bytes, sha256 {} with placeholders>\n",
                    body.len(),
                    hex::encode(Sha256::digest(body))
                )),
            }
            text.push('\n');
        }
        for secret in [&world.admin, &world.officer, &world.operator, &world.stranger, &world.viewer] {
            assert!(!text.contains(secret.as_str()), "a bearer token leaked into an answer");
        }
        assert!(!text.contains("$argon2"), "a password hash leaked into an answer");
        text
    }
}

/// Puts placeholders in the text of a story's exchanges, in order.
struct Redactor {
    placeholders: Placeholders,
    /// The ids and secrets named by the story, longest first.
    named: Vec<(String, String)>,
    /// Times in this window are the run's "now".
    started_ms: i64,
    finished_ms: i64,
    backend: &'static str,
}

impl Redactor {
    /// Named ids first, then any other UUID or passage id in order of appearance, then the
    /// times of this run, the backend's name and the package version.
    fn apply(&mut self, text: &str) -> String {
        let mut text = text.to_owned();
        for (raw, label) in &self.named {
            text = text.replace(raw.as_str(), label);
        }
        let placeholders = &mut self.placeholders;
        text = replace_matches(&text, |previous, rest| {
            let (kind, len) = match (uuid_at(previous, rest), passage_at(previous, rest)) {
                (Some(len), _) => ("uuid", len),
                (None, Some(len)) => ("passage", len),
                (None, None) => return None,
            };
            Some((len, placeholders.label(kind, &rest[..len])))
        });
        let window = self.started_ms..=self.finished_ms;
        let now = |ms: i64| window.contains(&ms);
        // When a validated assessment falls due, with the worlds' (default) setting.
        let reassessment_ms = i64::from(vigie_server::ServerConfig::default().reassessment_days) * DAY_MS;
        text = replace_matches(&text, |previous, rest| {
            if previous.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
                return None;
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let ms: i64 =
                rest[..digits].parse().ok().filter(|_| digits == 13 && !is_word(rest[13..].chars().next()))?;
            let label = if now(ms) {
                "[now]"
            } else if now(ms - reassessment_ms) {
                "[now+reassessment_days]"
            } else {
                return None;
            };
            Some((13, label.to_owned()))
        });
        text = replace_matches(&text, |previous, rest| {
            let end = rest.find('"').filter(|_| previous == Some('"'))?;
            let at = time::OffsetDateTime::parse(&rest[..end], &time::format_description::well_known::Rfc3339).ok()?;
            now(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()).then(|| (end, "[now]".to_owned()))
        });
        text.replace(&format!("\"backend\":\"{}\"", self.backend), "\"backend\":\"[backend]\"")
            .replace(&format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION")), "\"version\":\"[package version]\"")
    }
}

/// Pins a story told on every world: the same transcript on every backend, and the snapshot's.
fn pin(name: &str, transcripts: Vec<(&'static str, String)>) {
    let (first_backend, first) = &transcripts[0];
    for (backend, text) in &transcripts[1..] {
        if let Some((line, (a, b))) = first.lines().zip(text.lines()).enumerate().find(|(_, (a, b))| a != b) {
            panic!("{name}: {backend} answers differently from {first_backend} at line {}:\n{a}\n{b}", line + 1);
        }
        assert_eq!(first.len(), text.len(), "{name}: {backend} answers differently from {first_backend}");
    }
    insta::assert_snapshot!(name, first);
}

#[tokio::test]
async fn api_snapshot_health_openapi_and_sessions() {
    let mut health = Vec::new();
    let mut openapi = Vec::new();
    for world in snapshot_worlds().await {
        let backend = world.store.backend();
        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/openapi.json", "anonymous", None).await;
        openapi.push((backend, story.finish()));

        let mut story = Story::new(&world).await;
        story.call("GET", "/healthz", "anonymous", None).await;
        story.call("GET", "/api/v1/me", "anonymous", None).await;
        story.call("GET", "/api/v1/me", "operator", None).await;
        story.call("GET", "/api/v1/me", "officer", None).await;
        let login = |password: &str| json!({"email": "operator@example.org", "password": password});
        story.call("POST", "/api/v1/auth/login", "anonymous", Some(login("wrong password!"))).await;
        story
            .bytes("POST", "/api/v1/auth/login", "anonymous", Some("application/json"), b"{\"email\": ".to_vec())
            .await;
        story.call("POST", "/api/v1/auth/login", "anonymous", Some(json!({"email": "operator@example.org"}))).await;
        story.bytes("POST", "/api/v1/auth/login", "anonymous", None, login("x").to_string().into_bytes()).await;
        let (status, _, headers) = story
            .bytes(
                "POST",
                "/api/v1/auth/login",
                "anonymous",
                Some("application/json"),
                login("a long enough password").to_string().into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let cookie = headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        story.placeholders.fix(cookie.split_once('=').unwrap().1, "session-secret");
        let with_cookie = |method: &str, uri: &str| {
            Request::builder().method(method).uri(uri).header(header::COOKIE, &cookie).body(Body::empty()).unwrap()
        };
        story.send("session cookie", with_cookie("GET", "/api/v1/me")).await;
        story.send("session cookie", with_cookie("POST", "/api/v1/auth/logout")).await;
        story.send("session cookie", with_cookie("GET", "/api/v1/me")).await;
        story.call("POST", "/api/v1/auth/logout", "viewer", None).await;
        story.call("POST", "/api/v1/auth/logout", "anonymous", None).await;
        for _ in 0..5 {
            story.call("POST", "/api/v1/auth/login", "anonymous", Some(login("still wrong!!"))).await;
        }
        story.call("POST", "/api/v1/auth/login", "anonymous", Some(login("a long enough password"))).await;
        story.call("GET", "/api/v1/nothing-here", "operator", None).await;
        story.call("PATCH", "/api/v1/sites", "operator", None).await;
        health.push((backend, story.finish()));
    }
    pin("openapi", openapi);
    pin("health_and_sessions", health);
}

#[tokio::test]
async fn api_snapshot_orgs_and_tokens() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/orgs", "admin", None).await;
        story.call("GET", "/api/v1/orgs", "officer", None).await;
        story.call("GET", "/api/v1/orgs", "operator", None).await;
        story.call("GET", "/api/v1/orgs", "anonymous", None).await;
        let (_, org) = story
            .call("POST", "/api/v1/orgs", "admin", Some(json!({"name": "Harbour Authority", "kind": "authority"})))
            .await;
        story.name("org", &org["id"]);
        story.call("POST", "/api/v1/orgs", "officer", Some(json!({"name": "New", "kind": "other"}))).await;
        story.call("POST", "/api/v1/orgs", "admin", Some(json!({"name": "  ", "kind": "other"}))).await;
        story.call("POST", "/api/v1/orgs", "admin", Some(json!({"name": "New", "kind": "guild"}))).await;

        story.call("GET", "/api/v1/tokens", "viewer", None).await;
        story.call("GET", "/api/v1/tokens", "anonymous", None).await;
        let (_, token) = story.call("POST", "/api/v1/tokens", "viewer", Some(json!({"name": " phone "}))).await;
        story.name("token", &token["id"]);
        story.placeholders.fix(token["token"].as_str().unwrap(), "token-secret");
        story.call("POST", "/api/v1/tokens", "viewer", Some(json!({"name": ""}))).await;
        story.call("POST", "/api/v1/tokens", "viewer", Some(json!({"label": "phone"}))).await;
        let uri = format!("/api/v1/tokens/{}", token["id"].as_str().unwrap());
        story.call("DELETE", &uri, "operator", None).await;
        story.call("DELETE", &uri, "viewer", None).await;
        story.call("DELETE", &uri, "viewer", None).await;
        story.call("GET", "/api/v1/tokens", "viewer", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("orgs_and_tokens", transcripts);
}

#[tokio::test]
async fn api_snapshot_communities() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let forum = json!({"name": "Helsinki city-centre operators forum"});
        story.call("POST", "/api/v1/communities", "operator", Some(forum.clone())).await;
        let (_, community) = story.call("POST", "/api/v1/communities", "officer", Some(forum)).await;
        story.name("community", &community["id"]);
        story.call("POST", "/api/v1/communities", "officer", Some(json!({"name": ""}))).await;
        let url = format!("/api/v1/communities/{}", community["id"].as_str().unwrap());
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        story.call("GET", &url, "operator", None).await;
        story.call("POST", &format!("{url}/members"), "officer", Some(json!({"org_id": market}))).await;
        story.call("POST", &format!("{url}/members"), "officer", Some(json!({"org_id": "no-such-org"}))).await;
        story.call("GET", "/api/v1/communities", "operator", None).await;
        story.call("POST", &format!("{url}/join"), "stranger", None).await;
        story.call("POST", &format!("{url}/join"), "operator", None).await;
        story.call("GET", &url, "operator", None).await;
        story.call("GET", &url, "stranger", None).await;
        story.call("POST", &format!("{url}/leave"), "officer", None).await;
        story.call("POST", &format!("{url}/leave"), "operator", None).await;
        story.call("GET", "/api/v1/communities", "officer", None).await;
        story.call("GET", "/api/v1/communities", "anonymous", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("communities", transcripts);
}

#[tokio::test]
async fn api_snapshot_bulletins() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let market = world.store.org_by_name("Market Operator").await.unwrap().unwrap().id;
        let body = |marking: &str| {
            json!({
                "title": {"en": "Suspected hostile reconnaissance"},
                "text": {"en": "A grey van filmed the service entrance."},
                "marking": marking,
                "recipients": {"orgs": [market]},
                "urgency": "Expected", "severity": "Moderate", "certainty": "Likely", "response_type": "Monitor",
                "status": "Exercise", "effective": "2026-12-07T08:00:00+02:00"
            })
        };
        // The market's webhook, registered by an admin: the bulletin queues a call to it.
        let hook = json!({"url": "https://hooks.market.example/vigie", "org_id": market});
        story.call("POST", "/api/v1/webhooks", "operator", Some(hook.clone())).await;
        let (_, webhook) = story.call("POST", "/api/v1/webhooks", "admin", Some(hook)).await;
        story.placeholders.fix(webhook["secret"].as_str().unwrap(), "webhook-secret");
        story.call("GET", &format!("/api/v1/webhooks?org_id={market}"), "admin", None).await;
        story.call("GET", &format!("/api/v1/webhooks?org_id={market}"), "stranger", None).await;
        let (_, bulletin) = story.call("POST", "/api/v1/bulletins", "officer", Some(body("TLP:AMBER"))).await;
        story.name("bulletin", &bulletin["id"]);
        story.call("POST", "/api/v1/bulletins", "officer", Some(body("TLP:WHITE"))).await;
        story.call("GET", "/api/v1/inbox", "operator", None).await;
        story.call("GET", "/api/v1/inbox", "anonymous", None).await;
        story.call("GET", "/api/v1/bulletins", "operator", None).await;
        story.call("GET", "/api/v1/bulletins", "anonymous", None).await;
        let url = format!("/api/v1/bulletins/{}", bulletin["id"].as_str().unwrap());
        story.call("GET", &url, "stranger", None).await;
        story.call("GET", &url, "operator", None).await;
        story.call("POST", &format!("{url}/ack"), "stranger", None).await;
        story.call("POST", &format!("{url}/ack"), "operator", None).await;
        story.call("GET", &format!("{url}/receipts"), "operator", None).await;
        story.call("GET", &format!("{url}/receipts"), "officer", None).await;
        story.call("GET", &format!("{url}/deliveries"), "officer", None).await;
        story.call("GET", &format!("{url}/deliveries"), "stranger", None).await;
        // Only the source changes who reads it; lowering is allowed to it (and audited).
        story.call("POST", &format!("{url}/marking"), "operator", Some(json!({"marking": "TLP:CLEAR"}))).await;
        story.call("POST", &format!("{url}/marking"), "officer", Some(json!({"marking": "TLP:RED"}))).await;
        story.call("POST", &format!("{url}/marking"), "officer", Some(json!({"marking": "TLP:AMBER+STRICT"}))).await;
        let webhook_url = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());
        story.call("DELETE", &webhook_url, "admin", None).await;
        story.call("DELETE", &webhook_url, "admin", None).await;
        story.call("GET", "/api/v1/inbox", "operator", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("bulletins", transcripts);
}

#[tokio::test]
async fn api_snapshot_field_reports() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let city = world.store.org_by_name("City").await.unwrap().unwrap().id;
        let body = |kind: &str| {
            json!({
                "kind": kind, "observed_at": "2026-12-05T16:30:00+02:00", "location": {"lon": 24.9458, "lat": 60.1686},
                "text": "A man filmed the service entrance.", "marking": "TLP:AMBER", "recipients": {"orgs": [city]}
            })
        };
        let (_, report) =
            story.call("POST", "/api/v1/field-reports", "operator", Some(body("hostile_reconnaissance"))).await;
        story.name("report", &report["id"]);
        story.call("POST", "/api/v1/field-reports", "operator", Some(body("rumour"))).await;
        let url = format!("/api/v1/field-reports/{}", report["id"].as_str().unwrap());
        story.call("GET", &url, "operator", None).await;
        story.call("GET", &url, "stranger", None).await;
        story.call("GET", "/api/v1/field-reports", "officer", None).await;
        story.call("GET", "/api/v1/field-reports", "anonymous", None).await;
        story.call("PATCH", &url, "operator", Some(json!({"status": "closed"}))).await;
        story.call("PATCH", &url, "officer", Some(json!({"status": "under_review"}))).await;
        story.call("POST", &format!("{url}/marking"), "officer", Some(json!({"marking": "TLP:CLEAR"}))).await;
        story.call("POST", &format!("{url}/marking"), "operator", Some(json!({"marking": "TLP:AMBER+STRICT"}))).await;
        let jpeg = Some("image/jpeg");
        let (_, photo, _) =
            story.bytes("POST", &format!("{url}/photos"), "operator", jpeg, PHOTO_WITH_GPS.to_vec()).await;
        story.bytes("POST", &format!("{url}/photos"), "officer", jpeg, PHOTO_WITH_GPS.to_vec()).await;
        let photo = photo["url"].as_str().unwrap().to_owned();
        story.call("GET", &photo, "officer", None).await;
        story.call("GET", &photo, "stranger", None).await;
        let case = json!({"title": "Grey van", "report_ids": [report["id"]]});
        story.call("POST", "/api/v1/cases", "operator", Some(case.clone())).await;
        let (_, opened) = story.call("POST", "/api/v1/cases", "officer", Some(json!({"title": "Grey van"}))).await;
        let link = format!("/api/v1/cases/{}/reports", opened["id"].as_str().unwrap());
        story.call("POST", &link, "officer", Some(json!({"report_ids": ["no-such-report"]}))).await;
        story.call("POST", &link, "officer", Some(json!({"report_ids": [report["id"]]}))).await;
        story.call("GET", "/api/v1/cases", "officer", None).await;
        story.call("GET", "/api/v1/cases", "anonymous", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("field_reports", transcripts);
}

#[tokio::test]
async fn api_snapshot_threat_levels() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let raise = json!({"level": 4, "reason": "Attaque dans un pays voisin"});
        story.call("POST", "/api/v1/threat-levels", "operator", Some(raise.clone())).await;
        story.call("POST", "/api/v1/threat-levels", "officer", Some(json!({"level": 6, "reason": "?"}))).await;
        let (_, set) = story.call("POST", "/api/v1/threat-levels?lang=fr", "officer", Some(raise)).await;
        story.name("threat-level", &set["id"]);
        story.call("GET", "/api/v1/threat-levels", "officer", None).await;
        story.call("GET", "/api/v1/threat-levels", "operator", None).await;
        story.call("GET", "/api/v1/threat-levels", "stranger", None).await;
        story.call("GET", "/api/v1/threat-levels", "anonymous", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("threat_levels", transcripts);
}

#[tokio::test]
async fn api_snapshot_sites() {
    let mut transcripts = Vec::new();
    for world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/site-categories", "viewer", None).await;
        story.call("GET", "/api/v1/site-categories", "anonymous", None).await;
        let mut hall = site_body("Harbour Hall");
        hall["category"] = json!("public_square");
        hall["geometry"] = json!({"type": "Polygon", "coordinates": [[[24.9560, 60.1660], [24.9575, 60.1660], [24.9575, 60.1668], [24.9560, 60.1668], [24.9560, 60.1660]]]});
        let (_, created) = story.call("POST", "/api/v1/sites", "operator", Some(hall.clone())).await;
        story.name("site", &created["id"]);
        story.call("POST", "/api/v1/sites", "viewer", Some(site_body("Viewer's"))).await;
        let mut foreign = site_body("Elsewhere");
        foreign["org_id"] = json!(world.store.list_orgs().await.unwrap()[1].id);
        story.call("POST", "/api/v1/sites", "stranger", Some(foreign)).await;
        let mut nowhere = site_body("Nowhere");
        nowhere["org_id"] = json!("no-such-org");
        story.call("POST", "/api/v1/sites", "admin", Some(nowhere)).await;
        let mut open_ring = site_body("Open ring");
        open_ring["geometry"]["coordinates"][0].as_array_mut().unwrap().pop();
        story.call("POST", "/api/v1/sites", "operator", Some(open_ring)).await;
        story
            .call(
                "POST",
                "/api/v1/sites",
                "operator",
                Some(json!({"name": 12, "category": "public_square", "geometry": {}})),
            )
            .await;

        for query in [
            "",
            "?category=public_square",
            "?bbox=24.95,60.165,24.955,60.17",
            "?limit=1",
            "?limit=1&offset=1",
            "?org_id=someone-else",
            "?limit=0",
            "?limit=lots",
            "?bbox=24.9,60.1,25.0",
            "?category=castle",
            "?colour=red",
        ] {
            story.call("GET", &format!("/api/v1/sites{query}"), "operator", None).await;
        }
        story.call("GET", "/api/v1/sites", "officer", None).await;
        story.call("GET", "/api/v1/sites", "stranger", None).await;

        let site = format!("/api/v1/sites/{}", created["id"].as_str().unwrap());
        story.call("GET", &site, "officer", None).await;
        story.call("GET", &site, "stranger", None).await;
        story.call("GET", "/api/v1/sites/00000000-0000-0000-0000-000000000000", "operator", None).await;
        let mut edit = hall.clone();
        edit["name"] = json!("Harbour Hall (east)");
        edit["version"] = json!(1);
        story.call("PUT", &site, "operator", Some(edit.clone())).await;
        story.call("PUT", &site, "operator", Some(edit.clone())).await;
        story.call("PUT", &site, "operator", Some(hall.clone())).await;
        story.call("PUT", &site, "officer", Some(edit.clone())).await;
        edit["org_id"] = json!(world.store.list_orgs().await.unwrap()[0].id);
        story.call("PUT", &site, "operator", Some(edit)).await;
        story.call("DELETE", &site, "officer", None).await;
        story.call("DELETE", &site, "stranger", None).await;
        story.call("DELETE", &site, "operator", None).await;
        story.call("GET", &site, "operator", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("sites", transcripts);
}

#[tokio::test]
async fn api_snapshot_vehicle_studies() {
    let mut transcripts = Vec::new();
    for mut world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let hvm = format!("/api/v1/sites/{}/hvm", world.operator_site);
        let recommendation = format!("{hvm}/recommendation");
        story.call("GET", &hvm, "operator", None).await;
        let (_, study) = story.call("POST", &hvm, "operator", Some(json!({}))).await;
        story.name("study", &study["id"]);
        next_millisecond().await;
        let (_, study) =
            story.call("POST", &hvm, "operator", Some(json!({"vehicles": ["M1", "N3C"], "friction": 1.0}))).await;
        story.name("study", &study["id"]);
        story.call("POST", &hvm, "officer", Some(json!({}))).await;
        story.call("POST", &hvm, "stranger", Some(json!({}))).await;
        story.call("POST", &hvm, "operator", Some(json!({"vehicles": ["Z9"]}))).await;
        story.call("POST", &hvm, "operator", Some(json!({"vehicles": []}))).await;
        story.call("POST", &hvm, "operator", Some(json!({"friction": 3.0}))).await;
        story.call("GET", &hvm, "officer", None).await;
        story.call("GET", &hvm, "stranger", None).await;

        let catalogue = |extra: Value| {
            let mut body = json!({"catalogue_csv": CATALOGUE_CSV, "vehicles": ["M1", "N3C"]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        story.call("POST", &recommendation, "officer", Some(catalogue(json!({})))).await;
        story
            .call(
                "POST",
                &recommendation,
                "operator",
                Some(catalogue(json!({"standoff_m": 5.0, "bend_distance_m": 30.0}))),
            )
            .await;
        story.call("POST", &recommendation, "operator", Some(catalogue(json!({"standoff_m": -1.0})))).await;
        story
            .call("POST", &recommendation, "operator", Some(catalogue(json!({"catalogue_csv": "product\nnothing"}))))
            .await;
        story.call("POST", &recommendation, "stranger", Some(catalogue(json!({})))).await;

        // A server started without a street network.
        let transcript = story.finish();
        world.app = vigie_server::router(library_state(&world.store).await);
        let mut story = Story::new(&world).await;
        story.call("POST", &hvm, "operator", Some(json!({}))).await;
        story.call("POST", &recommendation, "operator", Some(catalogue(json!({})))).await;
        transcripts.push((
            world.store.backend(),
            format!("{transcript}--- without a street network ---\n\n{}", story.finish()),
        ));
    }
    pin("vehicle_studies", transcripts);
}

#[tokio::test]
async fn api_snapshot_assessments() {
    let mut transcripts = Vec::new();
    let mut methodologies = Vec::new();
    for world in snapshot_worlds().await {
        let (question, best, worst, methodology) = world.market_question().await;
        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/methodology", "viewer", None).await;
        story.call("GET", "/api/v1/methodology?lang=fr", "viewer", None).await;
        story.digest_last();
        methodologies.push((world.store.backend(), story.finish()));

        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/methodology?lang=de", "viewer", None).await;
        let site = world.operator_site.clone();
        // A vehicle study, so that the score shows its evidence.
        let (_, study) = story
            .call("POST", &format!("/api/v1/sites/{site}/hvm"), "operator", Some(json!({"vehicles": ["N3C"]})))
            .await;
        story.name("study", &study["id"]);

        let assessments = format!("/api/v1/sites/{site}/assessments");
        let (_, created) = story.call("POST", &assessments, "operator", Some(json!({"threat_level": 3}))).await;
        story.name("assessment", &created["id"]);
        story.call("POST", &assessments, "officer", Some(json!({"threat_level": 3}))).await;
        story.call("POST", &assessments, "stranger", Some(json!({"threat_level": 3}))).await;
        story.call("POST", &assessments, "operator", Some(json!({"threat_level": 9}))).await;
        story.call("GET", &assessments, "officer", None).await;
        story.call("GET", &assessments, "stranger", None).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let assessment = format!("/api/v1/assessments/{id}");
        story.call("GET", &assessment, "officer", None).await;
        story.call("GET", &assessment, "stranger", None).await;

        let answer = format!("{assessment}/answers/{question}");
        story.call("PUT", &answer, "operator", Some(json!({"answer": worst, "note": "Nobody checks bags at the north gate", "gps": {"lat": 60.1675, "lon": 24.9531, "accuracy_m": 5.0}, "observed_at_ms": 1_763_800_000_000i64, "base_version": 0}))).await;
        story.call("PUT", &answer, "officer", Some(json!({"answer": best, "base_version": 1}))).await;
        story.call("PUT", &answer, "stranger", Some(json!({"answer": best, "base_version": 1}))).await;
        story.call("PUT", &answer, "operator", Some(json!({"answer": best, "base_version": 1}))).await;
        story.call("PUT", &answer, "operator", Some(json!({"answer": worst, "base_version": 1}))).await;
        story
            .call("PUT", &format!("{assessment}/answers/no.such_question"), "operator", Some(json!({"answer": "a0"})))
            .await;
        story.call("PUT", &answer, "operator", Some(json!({"answer": "a9"}))).await;
        story.call("PUT", &answer, "operator", Some(json!({"answer": best, "gps": {"lat": 123.0, "lon": 0.0}}))).await;

        let mut bulk = serde_json::Map::new();
        for q in methodology["questions"].as_array().unwrap() {
            let applies = q["applies_to"].as_array().unwrap().iter().any(|c| c == "open_air_market");
            if applies && q["id"] != question.as_str() {
                let worst =
                    q["answers"].as_array().unwrap().iter().max_by_key(|a| a["grade"].as_u64()).unwrap()["id"].clone();
                bulk.insert(q["id"].as_str().unwrap().to_owned(), json!({"answer": worst}));
            }
        }
        story.call("POST", &format!("{assessment}/answers"), "operator", Some(json!({"answers": bulk}))).await;
        story.call("POST", &format!("{assessment}/answers"), "operator", Some(json!({"answers": {}}))).await;

        let photos = format!("{assessment}/photos?question={question}");
        let octets = Some("application/octet-stream");
        let (_, photo, _) = story.bytes("POST", &photos, "operator", octets, PHOTO_WITH_GPS.to_vec()).await;
        story.name("photo", &photo["id"]);
        story.bytes("POST", &photos, "operator", Some("image/jpeg"), b"GIF89a not a photo".to_vec()).await;
        story.bytes("POST", &photos, "operator", octets, PHOTO_WITH_GPS[..200].to_vec()).await;
        let unknown_question = format!("{assessment}/photos?question=no.such");
        story.bytes("POST", &unknown_question, "operator", octets, PHOTO_WITH_GPS.to_vec()).await;
        story.bytes("POST", &photos, "stranger", octets, PHOTO_WITH_GPS.to_vec()).await;
        let photo = format!("/api/v1/photos/{}", photo["id"].as_str().unwrap());
        story.call("GET", &photo, "officer", None).await;
        story.call("GET", &photo, "stranger", None).await;
        story.call("GET", &assessment, "operator", None).await;

        let (_, score) = story.call("GET", &format!("{assessment}/score?lang=fr"), "operator", None).await;
        story.call("GET", &format!("{assessment}/score"), "officer", None).await;
        story.digest_last();
        story.call("GET", &format!("{assessment}/score?lang=xx"), "operator", None).await;
        story.call("GET", &format!("{assessment}/score"), "stranger", None).await;
        let proposed: Vec<Value> =
            score["report"]["actions"].as_array().unwrap().iter().map(|a| a["measure"].clone()).collect();
        let what_if = format!("{assessment}/what-if");
        story.call("POST", &what_if, "operator", Some(json!({"measures": proposed[..2], "lang": "fr"}))).await;
        story.call("POST", &what_if, "officer", Some(json!({"measures": proposed}))).await;
        story.digest_last();
        story.call("POST", &what_if, "operator", Some(json!({"measures": ["no.such_measure"]}))).await;
        story.call("POST", &what_if, "stranger", Some(json!({"measures": []}))).await;

        let transition = format!("{assessment}/transition");
        story.call("POST", &transition, "operator", Some(json!({"to": "validated"}))).await;
        story.call("POST", &transition, "operator", Some(json!({"to": "archived-ish"}))).await;
        story.call("POST", &transition, "operator", Some(json!({"to": "submitted"}))).await;
        story.call("PUT", &answer, "operator", Some(json!({"answer": worst}))).await;
        story.call("POST", &transition, "operator", Some(json!({"to": "validated"}))).await;
        story.call("POST", &transition, "stranger", Some(json!({"to": "validated"}))).await;
        story.call("POST", &transition, "officer", Some(json!({"to": "validated"}))).await;
        story.call("POST", &transition, "officer", Some(json!({"to": "draft"}))).await;

        let actions = format!("{assessment}/actions");
        let measure = &proposed[0];
        let (_, action) = story.call("POST", &actions, "operator", Some(json!({"title": "Bag checks at the north gate", "owner": "Security manager", "due_date": "2027-02-01", "measure_id": measure, "question_id": question}))).await;
        story.name("action", &action["id"]);
        next_millisecond().await;
        let (_, second) = story.call("POST", &actions, "operator", Some(json!({"title": "Brief the stewards", "due_date": "2027-03-01", "scenario_id": "vehicle_as_weapon"}))).await;
        story.name("action", &second["id"]);
        story.call("POST", &actions, "operator", Some(json!({"title": "x", "due_date": "2027-02-30"}))).await;
        story.call("POST", &actions, "operator", Some(json!({"title": "x", "measure_id": "no.such"}))).await;
        story.call("POST", &actions, "officer", Some(json!({"title": "x"}))).await;
        story.call("GET", &actions, "officer", None).await;
        story.call("GET", &actions, "stranger", None).await;
        let action = format!("/api/v1/actions/{}", action["id"].as_str().unwrap());
        story.call("PUT", &action, "operator", Some(json!({"title": "Bag checks at the north gate", "status": "done", "evidence": "Two stewards since 1 Feb", "measure_id": measure, "version": 1}))).await;
        story.call("PUT", &action, "operator", Some(json!({"title": "stale", "version": 1}))).await;
        story.call("PUT", &action, "operator", Some(json!({"title": "no version"}))).await;
        story.call("PUT", &action, "officer", Some(json!({"title": "not mine", "version": 2}))).await;
        story.call("PUT", &action, "stranger", Some(json!({"title": "hijack", "version": 2}))).await;
        story
            .call(
                "PUT",
                "/api/v1/actions/00000000-0000-0000-0000-000000000000",
                "operator",
                Some(json!({"title": "x", "version": 1})),
            )
            .await;
        story.call("GET", &actions, "operator", None).await;
        story.call("GET", "/api/v1/dashboard", "officer", None).await;
        story.call("GET", "/api/v1/dashboard", "stranger", None).await;
        story.call("GET", "/api/v1/dashboard", "anonymous", None).await;
        transcripts.push((world.store.backend(), story.finish()));
    }
    pin("methodology", methodologies);
    pin("assessments", transcripts);
}

#[tokio::test]
async fn api_snapshot_library() {
    let mut transcripts = Vec::new();
    for mut world in snapshot_worlds().await {
        let mut story = Story::new(&world).await;
        let documents = "/api/v1/library/documents";
        story.call("GET", documents, "operator", None).await;
        let (_, amber) =
            story.call("POST", documents, "operator", Some(upload("plan-marche.md", AMBER_TEXT, "TLP:AMBER"))).await;
        story.name("document", &amber["document_id"]);
        let (_, clear) =
            story.call("POST", documents, "officer", Some(upload("guide.md", CLEAR_TEXT, "TLP:CLEAR"))).await;
        story.name("document", &clear["document_id"]);
        story.call("POST", documents, "operator", Some(upload("plan-marche.md", AMBER_TEXT, "TLP:AMBER"))).await;
        story
            .call(
                "POST",
                documents,
                "operator",
                Some(upload("plan-marche.md", &AMBER_TEXT.replace("mardi", "jeudi"), "TLP:AMBER")),
            )
            .await;
        story.call("POST", documents, "viewer", Some(upload("a.md", CLEAR_TEXT, "TLP:CLEAR"))).await;
        story.call("POST", documents, "officer", Some(upload("a.md", CLEAR_TEXT, "TLP:WHITE"))).await;
        story.call("POST", documents, "officer", Some(upload("a.pdf", CLEAR_TEXT, "TLP:CLEAR"))).await;
        story.call("POST", documents, "officer", Some(json!({"filename": "a.md", "content_base64": "***"}))).await;
        story.call("GET", documents, "operator", None).await;
        story.call("GET", documents, "stranger", None).await;
        story.call("GET", documents, "anonymous", None).await;

        let amber_doc = format!("{documents}/{}", amber["document_id"].as_str().unwrap());
        let (_, full) = story.call("GET", &amber_doc, "operator", None).await;
        story.call("GET", &amber_doc, "stranger", None).await;
        story.call("GET", &format!("{documents}/{}", clear["document_id"].as_str().unwrap()), "stranger", None).await;
        let passage = format!("/api/v1/library/passages/{}", full["passages"][0]["id"].as_str().unwrap());
        story.call("GET", &passage, "operator", None).await;
        story.call("GET", &passage, "stranger", None).await;
        story.call("GET", "/api/v1/library/passages/p-0000000000000000", "operator", None).await;
        // The market shares its plan with the city, then (as its source) lowers it.
        let marking = format!("{amber_doc}/marking");
        story.call("POST", &marking, "stranger", Some(json!({"marking": "TLP:CLEAR"}))).await;
        let city = world.store.org_by_name("City").await.unwrap().unwrap().id;
        let to_city = json!({"marking": "TLP:AMBER", "recipients": {"orgs": [city]}});
        story.call("POST", &marking, "operator", Some(to_city)).await;
        story.call("POST", &marking, "officer", Some(json!({"marking": "TLP:CLEAR"}))).await;
        story.call("POST", &marking, "operator", Some(json!({"marking": "TLP:GREEN"}))).await;

        for (who, query) in [
            ("operator", "q=bornes%20escamotables"),
            ("stranger", "q=bornes%20escamotables"),
            ("operator", "q=jeudi&lang=fr&limit=5"),
            ("operator", "q=bornes&tag=guide&marking=TLP:CLEAR"),
            ("operator", "q=%22open"),
            ("operator", "q=bornes&marking=TLP:WHITE"),
            ("operator", "q=bornes&lang=de"),
            ("operator", "lang=fr"),
        ] {
            story.call("GET", &format!("/api/v1/library/search?{query}"), who, None).await;
        }

        let sentences: Vec<String> = (1..40)
            .map(|i| {
                format!("Mesure {i} : des bornes protègent la place {i} contre les véhicules béliers lors du marché.")
            })
            .collect();
        let (_, original) = story
            .call(
                "POST",
                documents,
                "officer",
                Some(upload("guide-complet.md", &format!("# Guide\n\n{}", sentences.join("\n\n")), "TLP:CLEAR")),
            )
            .await;
        story.name("document", &original["document_id"]);
        let (_, copy) = story
            .call(
                "POST",
                documents,
                "officer",
                Some(upload("guide-copie.md", &format!("# Guide (copie)\n\n{}", sentences.join(" ")), "TLP:CLEAR")),
            )
            .await;
        story.name("document", &copy["document_id"]);
        story.call("GET", "/api/v1/library/duplicates", "stranger", None).await;
        story.call("GET", "/api/v1/library/duplicates", "operator", None).await;
        story.call("GET", "/api/v1/library/duplicates", "anonymous", None).await;

        // A question whose wording meets the guides' (vehicles, bollards).
        let question = "perimeter.hvm_main_approaches";
        for query in [
            format!("question={question}&lang=fr"),
            format!("question={question}&lang=en&limit=2"),
            "question=no.such".to_owned(),
            format!("question={question}&lang=de"),
            format!("question={question}&limit=0"),
        ] {
            story.call("GET", &format!("/api/v1/library/related?{query}"), "stranger", None).await;
        }

        // A server started without a library index.
        let transcript = story.finish();
        world.app = vigie_server::router(vigie_server::AppState::new(
            world.store.clone(),
            vigie_server::ServerConfig::default(),
        ));
        let mut story = Story::new(&world).await;
        story.call("GET", "/api/v1/library/search?q=bornes", "operator", None).await;
        story.call("GET", &format!("/api/v1/library/related?question={question}"), "operator", None).await;
        transcripts.push((
            world.store.backend(),
            format!("{transcript}--- without a library index ---\n\n{}", story.finish()),
        ));
    }
    pin("library", transcripts);
}

/// Route templates (`{id}` for any one segment) that a transcript's request line matches.
fn routes_called(transcript: &str) -> Vec<(String, String, u16)> {
    let mut called = Vec::new();
    for line in transcript.lines() {
        let Some((request, status)) = line.split_once(") -> ") else { continue };
        let mut words = request.split(' ');
        let (Some(method), Some(uri)) = (words.next(), words.next()) else { continue };
        if !method.chars().all(|c| c.is_ascii_uppercase()) || !uri.starts_with('/') {
            continue;
        }
        let path = uri.split('?').next().unwrap_or_default();
        let status: u16 = status.split(' ').next().unwrap().parse().unwrap();
        for (route_method, route) in vigie_server::api::all_routes() {
            let template: Vec<&str> = route.split('/').collect();
            let segments: Vec<&str> = path.split('/').collect();
            let matches = template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s);
            if matches && route_method.eq_ignore_ascii_case(method) {
                called.push((route_method.to_uppercase(), (*route).to_owned(), status));
            }
        }
    }
    called
}

/// A new route cannot go unpinned: every route of the API answers in the snapshots with success,
/// and with an error unless it is public.
#[test]
fn api_snapshots_pin_every_route() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vigie_server/snapshots");
    let mut called = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(".snap") {
            called.extend(routes_called(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    let unpinned: Vec<String> = vigie_server::api::all_routes()
        .filter(|(method, route)| {
            !called
                .iter()
                .any(|(m, r, status)| m.eq_ignore_ascii_case(method) && r == route && (200..300).contains(status))
        })
        .map(|(method, route)| format!("{} {route}", method.to_uppercase()))
        .collect();
    assert!(unpinned.is_empty(), "routes without a successful answer in the API snapshots: {unpinned:?}");
    let without_errors: Vec<String> = vigie_server::api::all_routes()
        .filter(|(_, route)| !PUBLIC_ROUTES.contains(route))
        .filter(|(method, route)| {
            !called.iter().any(|(m, r, status)| m.eq_ignore_ascii_case(method) && r == route && *status >= 400)
        })
        .map(|(method, route)| format!("{} {route}", method.to_uppercase()))
        .collect();
    assert!(without_errors.is_empty(), "routes without an error answer in the API snapshots: {without_errors:?}");
}
