//! The `vigie` binary as a user runs it: commands, settings, imports, audit, backup, and a
//! server killed with SIGKILL that must keep every acknowledged write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test fails loudly
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vigie");

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A folder with a new, empty database (`vigie init`).
    fn new() -> Self {
        let sandbox = Sandbox::uninitialised();
        assert!(sandbox.ok(&["init"]).starts_with("created the database"));
        sandbox
    }

    /// A folder with no database yet.
    fn uninitialised() -> Self {
        Sandbox { dir: tempfile::tempdir().unwrap() }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("vigie.db").display())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("VIGIE_DATABASE_URL", self.url())
            .env_remove("VIGIE_CONFIG")
            .env_remove("VIGIE_BIND")
            .current_dir(self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "vigie {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// An organisation, a user with `role` and a token for it.
    fn account(&self, org: &str, kind: &str, email: &str, role: &str) -> String {
        if !self.ok(&["orgs", "list"]).contains(&format!("\"{org}\"")) {
            self.ok(&["orgs", "add", "--name", org, "--kind", kind]);
        }
        let out = self
            .command(&["users", "add", "--email", email, "--org", org, "--role", role])
            .env("VIGIE_PASSWORD", "a long enough password")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tokens = self.ok(&["tokens", "create", "--email", email]);
        tokens.lines().last().unwrap().trim().to_owned()
    }

    /// The organisation `City`, which the import stories fill.
    fn city(&self) {
        self.ok(&["orgs", "add", "--name", "City", "--kind", "authority"]);
    }

    /// `features` as a GeoJSON FeatureCollection in the file `name`.
    fn geojson(&self, name: &str, features: Vec<Value>) -> PathBuf {
        let path = self.path(name);
        write_json(&path, &json!({"type": "FeatureCollection", "features": features}));
        path
    }

    /// `vigie sites import-geojson FILE --org City`, whatever its outcome.
    fn import(&self, file: &Path) -> Output {
        self.run(&["sites", "import-geojson", file.to_str().unwrap(), "--org", "City"])
    }

    /// The summary of an import that must succeed.
    fn imported(&self, file: &Path) -> Value {
        let out = self.import(file);
        assert!(out.status.success(), "the import failed:\n{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn serve(&self) -> Server {
        let mut child = self
            .command(&["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, base: format!("http://{address}") }
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn feature(name: &str, category: &str, lon: f64, lat: f64) -> Value {
    let d = 0.001;
    json!({"type": "Feature", "id": name, "properties": {"name": name, "category": category, "peak_occupancy": 800},
           "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}})
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, value.to_string()).unwrap();
}

#[test]
fn help_lists_the_commands_and_default_config_is_a_commented_file() {
    let sandbox = Sandbox::new();
    let help = sandbox.ok(&["--help"]);
    for command in [
        "serve",
        "default-config",
        "orgs",
        "users",
        "tokens",
        "sites",
        "audit",
        "backup",
        "restore",
        "hvm",
        "assess",
        "methodology",
    ] {
        assert!(help.contains(command), "{command} missing from --help:\n{help}");
    }
    let config = sandbox.ok(&["default-config"]);
    assert!(config.lines().filter(|l| l.starts_with('#')).count() > 5);
    assert!(
        config.contains("database_url = \"sqlite://./vigie-data/vigie.db\"")
            && config.contains("bind = \"127.0.0.1:8080\"")
    );
}

#[test]
fn json_commands_report_errors_as_json() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["hvm", "rating", "parse", "not a rating", "--json"]);
    assert!(!out.status.success());
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "hvm_rating_unreadable", "{error}");
}

#[test]
fn settings_come_from_defaults_then_file_then_environment_then_flags() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("vigie.toml");
    std::fs::write(
        &file,
        "database_url = \"sqlite://from-file.db\"\n[server]\nbind = \"127.0.0.1:7001\"\nsession_hours = 3\n",
    )
    .unwrap();
    let show = |envs: &[(&str, &str)], flags: &[&str]| -> Value {
        let mut command = Command::new(BIN);
        command
            .arg("--config")
            .arg(&file)
            .arg("config")
            .args(flags)
            .env_remove("VIGIE_DATABASE_URL")
            .env_remove("VIGIE_BIND");
        for (k, v) in envs {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let from_file = show(&[], &[]);
    assert_eq!(
        (from_file["database_url"].as_str(), from_file["server"]["bind"].as_str()),
        (Some("sqlite://from-file.db"), Some("127.0.0.1:7001"))
    );
    assert_eq!(from_file["server"]["body_limit_bytes"], 2 * 1024 * 1024, "unset keys keep their default");
    let from_env =
        show(&[("VIGIE_BIND", "127.0.0.1:7002"), ("VIGIE_DATABASE_URL", "postgres://u:secret@db/vigie")], &[]);
    assert_eq!(from_env["server"]["bind"], "127.0.0.1:7002");
    assert_eq!(from_env["database_url"], "postgres://u:***@db/vigie", "passwords are never printed");
    let from_flag = show(&[("VIGIE_BIND", "127.0.0.1:7002")], &["--bind", "127.0.0.1:7003"]);
    assert_eq!(from_flag["server"]["bind"], "127.0.0.1:7003");
    assert_eq!(from_flag["server"]["session_hours"], 3);
}

#[test]
fn accounts_are_created_from_the_command_line() {
    let sandbox = Sandbox::new();
    let token = sandbox.account("City", "authority", "officer@example.org", "authority");
    assert!(token.starts_with("vg_") && token.len() > 40, "{token}");
    let out = sandbox.run(&["orgs", "add", "--name", "X", "--kind", "castle"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown organisation kind 'castle'"));
    let out = sandbox
        .command(&["users", "add", "--email", "a@example.org", "--org", "City", "--role", "viewer"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"password from standard input\n")?;
            child.wait_with_output()
        });
    assert!(out.unwrap().status.success(), "the password may come on standard input");
    let out = sandbox
        .command(&["users", "add", "--email", "b@example.org", "--org", "City", "--role", "viewer"])
        .env("VIGIE_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    let out = sandbox
        .command(&["users", "add", "--email", "c@example.org", "--org", "Nowhere", "--role", "viewer"])
        .env("VIGIE_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no organisation named 'Nowhere'"));
}

#[test]
fn geojson_import_reports_each_bad_feature_and_imports_the_good_ones() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["orgs", "add", "--name", "City", "--kind", "authority"]);
    let mut open = feature("Open ring", "public_square", 24.95, 60.17);
    open["geometry"]["coordinates"][0].as_array_mut().unwrap().pop();
    let collection = json!({"type": "FeatureCollection", "features": [
        feature("Senate Square", "public_square", 24.951, 60.169),
        open,
        feature("Castle", "castle", 24.96, 60.17),
        json!({"type": "Feature", "properties": {"category": "other"}, "geometry": null}),
        feature("Market Square", "open_air_market", 24.953, 60.167),
    ]});
    let file = sandbox.path("sites.geojson");
    write_json(&file, &collection);
    let summary = sandbox.json(&["sites", "import-geojson", file.to_str().unwrap(), "--org", "City"]);
    assert_eq!(summary["imported"], 2);
    let rejected: Vec<(u64, &str)> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, vec![(1, "site_geometry_invalid"), (2, "validation_failed"), (3, "validation_failed")]);
    let again = sandbox.json(&["sites", "import-geojson", file.to_str().unwrap(), "--org", "City"]);
    assert_eq!(
        (again["imported"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "re-import by feature id changes nothing"
    );

    for (content, code) in [("{not json", "geojson_invalid"), ("{\"type\": \"Feature\"}", "geojson_invalid")] {
        std::fs::write(&file, content).unwrap();
        let out = sandbox.run(&["sites", "import-geojson", file.to_str().unwrap(), "--org", "City"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(code));
    }
    assert_eq!(sandbox.json(&["sites", "list", "--json"])["total"], 2, "failed imports wrote nothing");
}

#[test]
fn osm_import_finds_dozens_of_real_helsinki_sites_and_reimports_nothing() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["orgs", "add", "--name", "City", "--kind", "authority"]);
    let pbf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/helsinki-centre.osm.pbf");
    let summary = sandbox.json(&["sites", "import-osm", pbf.to_str().unwrap(), "--org", "City"]);
    let imported = summary["imported"].as_u64().unwrap();
    assert!(imported >= 24, "dozens of sites expected: {summary}");
    assert!(summary["by_category"].as_object().unwrap().len() >= 5, "{summary}");
    let again = sandbox.json(&["sites", "import-osm", pbf.to_str().unwrap(), "--org", "City"]);
    assert_eq!((again["imported"].as_u64(), again["skipped"]["unchanged"].as_u64()), (Some(0), Some(imported)));
    // A person tells the sites apart: addresses as written, else the nearest streets.
    let table = sandbox.ok(&["sites", "list"]);
    let line = |name: &str| table.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_owned();
    assert!(line("Helsingin päärautatieasema").contains("Kaivokatu 1, 00101 Helsinki"), "{table}");
    assert!(line("Senaatintori").contains("near Hallituskatu, Aleksanterinkatu"), "{table}");

    let not_pbf = sandbox.path("not.osm.pbf");
    std::fs::write(&not_pbf, "{\"type\": \"FeatureCollection\"}").unwrap();
    let truncated = sandbox.path("truncated.osm.pbf");
    let bytes = std::fs::read(&pbf).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    for (file, code) in
        [(not_pbf, "osm_not_pbf"), (truncated, "osm_truncated"), (sandbox.path("missing.pbf"), "osm_file_unreadable")]
    {
        let out = sandbox.run(&["sites", "import-osm", file.to_str().unwrap(), "--org", "City"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(code), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(sandbox.json(&["sites", "list", "--json"])["total"].as_u64(), Some(imported), "bad files wrote nothing");
}

#[test]
fn audit_verify_detects_tampering() {
    let sandbox = Sandbox::new();
    sandbox.account("City", "authority", "officer@example.org", "authority");
    assert!(sandbox.ok(&["audit", "verify"]).contains("intact"));
    let db = sandbox.path("vigie.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        let refused = sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2").execute(&mut conn).await;
        assert!(refused.is_err(), "the database refuses changes to the audit log");
        // Someone with file access can drop the guard; the chain still tells.
        sqlx::query("DROP TRIGGER audit_log_no_update").execute(&mut conn).await.unwrap();
        sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2").execute(&mut conn).await.unwrap();
    });
    let out = sandbox.run(&["audit", "verify"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tampered with at entry 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn backup_and_restore_round_trip() {
    let sandbox = Sandbox::new();
    sandbox.city();
    let file = sandbox.geojson("sites.geojson", vec![feature("Senate Square", "public_square", 24.951, 60.169)]);
    sandbox.imported(&file);
    let backup = sandbox.path("backup.db");
    sandbox.ok(&["backup", "--out", backup.to_str().unwrap()]);
    assert!(!sandbox.run(&["backup", "--out", backup.to_str().unwrap()]).status.success(), "never overwrites a backup");
    let before = sandbox.json(&["sites", "list", "--json"]);

    write_json(
        &file,
        &json!({"type": "FeatureCollection", "features": [feature("Later site", "other", 24.96, 60.17)]}),
    );
    sandbox.ok(&["sites", "import-geojson", file.to_str().unwrap(), "--org", "City"]);
    assert_eq!(sandbox.json(&["sites", "list", "--json"])["total"], 2);

    assert!(sandbox.ok(&["restore", backup.to_str().unwrap()]).contains("audit entries verified"));
    assert_eq!(sandbox.json(&["sites", "list", "--json"]), before);

    let garbage = sandbox.path("garbage.db");
    std::fs::write(&garbage, "not a database at all").unwrap();
    let out = sandbox.run(&["restore", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable Vigie database backup"));
    assert_eq!(sandbox.json(&["sites", "list", "--json"]), before, "a bad backup leaves the database alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill() {
    let sandbox = Sandbox::new();
    let token = sandbox.account("City", "authority", "officer@example.org", "authority");
    let client = reqwest::Client::new();
    let mut server = sandbox.serve();
    let mut acknowledged = Vec::new();
    for i in 0..40 {
        let body = feature(&format!("Site {i}"), "public_square", 24.90 + f64::from(i) * 0.002, 60.17);
        let site =
            json!({"name": body["properties"]["name"], "category": "public_square", "geometry": body["geometry"]});
        let response =
            client.post(format!("{}/api/v1/sites", server.base)).bearer_auth(&token).json(&site).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        acknowledged.push(created["id"].as_str().unwrap().to_owned());
    }
    // SIGKILL: no shutdown handler runs, nothing is flushed on the way out.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = sandbox.serve();
    for id in &acknowledged {
        let response =
            client.get(format!("{}/api/v1/sites/{id}", server.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200, "acknowledged site {id} was lost");
    }
    assert!(sandbox.ok(&["audit", "verify"]).contains("intact"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_serves_helsinki_to_its_accounts() {
    let sandbox = Sandbox::new();
    let mut child =
        sandbox.command(&["serve", "--demo", "--bind", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let base = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the demo stopped early:\n{printed}");
        printed.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    let server = Server { child, base };
    assert!(printed.contains("operator@vigie.demo") && printed.contains("vigie-demo-2026"), "{printed}");
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": "officer@vigie.demo", "password": "vigie-demo-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    // A GET of the API as the officer, its JSON.
    let get_json = |path: String| {
        let request = client.get(format!("{}{path}", server.base)).header("cookie", &cookie);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let page = get_json("/api/v1/sites?bbox=24.93,60.16,24.96,60.18&limit=200".into()).await;
    assert!(page["total"].as_u64().unwrap() >= 10, "{page}");

    // The officer's dashboard opens on assessed sites: two validated, complete assessments with
    // their actions; a third, in progress, waits on the department store.
    let dashboard = get_json("/api/v1/dashboard".into()).await;
    let mut assessed: Vec<&str> =
        dashboard["sites"].as_array().unwrap().iter().map(|s| s["site_name"].as_str().unwrap()).collect();
    assessed.sort_unstable();
    assert_eq!(assessed, ["Helsingin päärautatieasema", "Senaatintori"], "{dashboard}");
    assert!(
        dashboard["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["provisional"] == false && s["completeness"]["unanswered"] == 0)
    );
    // Four actions from the assessments; the others are the threat level's checklist.
    let pending = dashboard["pending_actions"].as_array().unwrap();
    assert_eq!(pending.iter().filter(|a| a.get("threat_level_id").is_none()).count(), 4, "{dashboard}");
    let stockmann = page["items"].as_array().unwrap().iter().find(|s| s["name"] == "Stockmann").unwrap();
    let drafts = get_json(format!("/api/v1/sites/{}/assessments", stockmann["id"].as_str().unwrap())).await;
    assert_eq!(drafts["items"][0]["status"], "draft", "{drafts}");

    // Cooperation: the forum's two bulletins (one an exercise) and three reports to the city,
    // the officer's patrol sighting one of a cluster with the mall's report nearby.
    let bulletins = get_json("/api/v1/bulletins".into()).await;
    let statuses: Vec<&str> =
        bulletins["items"].as_array().unwrap().iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert!(statuses.len() == 2 && statuses.contains(&"Exercise"), "{bulletins}");
    let reports = get_json("/api/v1/field-reports".into()).await;
    assert_eq!(reports["items"].as_array().unwrap().len(), 3, "{reports}");
    let patrol = reports["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["text"].as_str().unwrap().starts_with("Patrol"))
        .unwrap();
    let patrol = get_json(format!("/api/v1/field-reports/{}", patrol["id"].as_str().unwrap())).await;
    assert_eq!(patrol["similar_nearby"], json!({"organisations": 1}), "{patrol}");
    // Threat level 4 around the central station: its assessed sites have the level's
    // checklist; Senaatintori, outside the area, has none.
    let levels = get_json("/api/v1/threat-levels".into()).await;
    assert_eq!(
        (levels["items"].as_array().unwrap().len(), levels["items"][0]["level"].as_u64()),
        (1, Some(4)),
        "{levels}"
    );
    let mut checklisted: Vec<&str> =
        levels["sites"].as_array().unwrap().iter().map(|s| s["site_name"].as_str().unwrap()).collect();
    checklisted.sort_unstable();
    assert!(checklisted.contains(&"Helsingin päärautatieasema") && checklisted.contains(&"Stockmann"), "{levels}");
    assert!(!checklisted.contains(&"Senaatintori"));
    assert!(
        levels["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["site_name"] == "Stockmann")
            .all(|s| s["total"].as_u64() > Some(0))
    );

    // A hostile-vehicle study of Senate Square on the demo's street network, kept with the site.
    let senate = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Senaatintori")
        .expect("Senaatintori is in the demo registry");
    let study_url = format!("{}/api/v1/sites/{}/hvm", server.base, senate["id"].as_str().unwrap());
    let missing = client.get(&study_url).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(missing.status(), 404, "no study before one is run");
    let created = client
        .post(&study_url)
        .header("cookie", &cookie)
        .json(&json!({"vehicles": ["M1", "N3C"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let points = created["result"]["access_points"].as_array().unwrap();
    assert!(!points.is_empty(), "Senate Square has vehicle access points: {created}");
    let speed = points[0]["vehicles"]["N3C"]["speed_kmh"].as_f64().unwrap();
    assert!(speed > 5.0 && speed < 100.0, "{speed}");
    let stored: Value = client.get(&study_url).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["id"], created["id"]);
    let unknown =
        client.post(&study_url).header("cookie", &cookie).json(&json!({"vehicles": ["TANK"]})).send().await.unwrap();
    assert_eq!(unknown.status(), 422);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "hvm_vehicle_unknown");

    // Barrier advice for the same entrances from the demo catalogue.
    let catalogue = include_str!("../../../data/demo/barrier-catalogue.csv");
    let advice = client
        .post(format!("{study_url}/recommendation"))
        .header("cookie", &cookie)
        .json(&json!({"catalogue_csv": catalogue, "vehicles": ["M1", "N3C"], "standoff_m": 5.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(advice.status(), 200);
    let advice: Value = advice.json().await.unwrap();
    let first = &advice["access_points"][0];
    assert_eq!(first["id"], points[0]["id"], "{advice}");
    let requirements = first["requirements"].as_array().unwrap();
    assert_eq!(requirements.len(), 2, "one requirement per vehicle class: {first}");
    assert!(
        requirements.iter().any(|r| !r["products"].as_array().unwrap().is_empty()),
        "some fictional product covers some class: {first}"
    );
    // The methodology's guidance phrases find their passages in the demo library, whatever ids
    // this installation gave them; in English, the French documents still come first.
    let related =
        get_json("/api/v1/library/related?question=access.public_entrance_search&lang=en&limit=3".into()).await;
    let first = related["results"][0]["snippet"].as_str().unwrap_or_default().to_lowercase();
    assert!(first.contains("chiens") && first.contains("explosifs"), "{related}");
    let garbage = client
        .post(format!("{study_url}/recommendation"))
        .header("cookie", &cookie)
        .json(&json!({"catalogue_csv": "name,price\nx,1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 422);
}

#[test]
fn the_demo_refuses_real_databases_and_public_addresses() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["serve", "--demo", "--bind", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo_refused"));
    sandbox.ok(&["orgs", "add", "--name", "Real City", "--kind", "authority"]);
    let out = sandbox.run(&["serve", "--demo", "--bind", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds real organisations (Real City)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn geojson_files_with_the_same_feature_ids_do_not_replace_each_other() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["orgs", "add", "--name", "City", "--kind", "authority"]);
    for (file, name, lon) in [("markets.geojson", "Market", 24.95), ("squares.geojson", "Square", 24.97)] {
        let mut first = feature(name, "public_square", lon, 60.17);
        first["id"] = json!(1);
        let mut twin = feature(&format!("{name} twin"), "public_square", lon + 0.002, 60.17);
        twin["id"] = json!(1);
        let path = sandbox.path(file);
        write_json(&path, &json!({"type": "FeatureCollection", "features": [first, twin]}));
        let summary = sandbox.json(&["sites", "import-geojson", path.to_str().unwrap(), "--org", "City"]);
        assert_eq!(summary["imported"], 1, "{summary}");
        assert_eq!(summary["rejected"][0]["reason"], "another feature of this file has the same id");
    }
    assert_eq!(sandbox.json(&["sites", "list", "--json"])["total"], 2);
}

// --- The guidance library (issue 5) ---

fn demo_document(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/library").join(name).display().to_string()
}

const PLAN_MD: &str = "com-2017-612-plan-action-espaces-publics.md";
const PLAN_TXT: &str = "com-2017-612-plan-action-espaces-publics.pdf-extraction.txt";

#[test]
fn library_ingest_search_duplicates_and_reindex_from_the_command_line() {
    let sandbox = Sandbox::new();
    sandbox.account("City", "authority", "officer@example.org", "authority");
    sandbox.account("Other", "operator", "other@example.org", "operator");
    let (md, txt) = (demo_document(PLAN_MD), demo_document(PLAN_TXT));
    let first =
        sandbox.json(&["library", "ingest", &md, &txt, "--org", "City", "--lang", "fr", "--tag", "eu", "--json"]);
    let docs = first["documents"].as_array().unwrap();
    assert_eq!(
        docs.iter().map(|d| d["status"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["created", "created"],
        "{first}"
    );
    assert!(
        docs.iter().all(|d| d["duplicates"].as_array().unwrap().len() == 1 && d["pages"].as_f64().unwrap() > 5.0),
        "{first}"
    );
    let again = sandbox.json(&["library", "ingest", &md, "--org", "City", "--lang", "fr", "--tag", "eu", "--json"]);
    assert_eq!(
        (again["documents"][0]["status"].as_str(), again["documents"][0]["version"].as_i64()),
        (Some("unchanged"), Some(1))
    );

    let found = sandbox.json(&["library", "search", "chiens détecteurs d'explosifs", "--limit", "5", "--json"]);
    let results = found["results"].as_array().unwrap();
    assert!(results[0]["snippet"].as_str().unwrap().contains("<mark>chiens</mark>"), "{found}");
    let ids: std::collections::BTreeSet<&str> = results.iter().map(|r| r["document_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "the two extractions give one result: {found}");
    for key in ["document_id", "document_title", "passage_id", "heading", "snippet", "score"] {
        assert!(!results[0][key].is_null(), "{key}");
    }
    let pairs = sandbox.json(&["library", "duplicates", "--json"]);
    assert_eq!(pairs["pairs"].as_array().unwrap().len(), 1, "{pairs}");

    // An AMBER note of the city: the operator sees it, another organisation's user does not.
    let note = sandbox.path("note-interne.md");
    std::fs::write(&note, "# Note\n\n## Gare\n\nLes chiens détecteurs de la gare centrale sont absents le dimanche.")
        .unwrap();
    sandbox.json(&["library", "ingest", note.to_str().unwrap(), "--org", "City", "--marking", "TLP:AMBER", "--json"]);
    let all = sandbox.json(&["library", "search", "gare centrale dimanche", "--json"]);
    assert_eq!(all["results"][0]["marking"], "TLP:AMBER", "{all}");
    let other = sandbox.json(&["library", "search", "gare centrale dimanche", "--as", "other@example.org", "--json"]);
    assert!(other["results"].as_array().unwrap().iter().all(|r| r["marking"] != "TLP:AMBER"), "{other}");
    assert!(other["total"].as_u64().unwrap() < all["total"].as_u64().unwrap());

    // The index is derived: removed, it comes back from the database.
    std::fs::remove_dir_all(sandbox.path("vigie.library-index")).unwrap();
    assert!(sandbox.ok(&["library", "reindex"]).contains("passages"));
    assert_eq!(sandbox.json(&["library", "search", "gare centrale dimanche", "--json"])["total"], all["total"]);

    for (args, code) in [
        (vec!["library", "ingest", "missing.md", "--org", "City", "--json"], "file_unreadable"),
        (
            vec!["library", "ingest", note.to_str().unwrap(), "--org", "City", "--marking", "TLP:WHITE", "--json"],
            "marking_invalid",
        ),
        (
            vec!["library", "ingest", note.to_str().unwrap(), "--org", "City", "--marking", "TLP:RED", "--json"],
            "validation_failed",
        ),
        (
            vec![
                "library",
                "ingest",
                note.to_str().unwrap(),
                "--org",
                "City",
                "--recipient",
                "nobody@example.org",
                "--json",
            ],
            "not_found",
        ),
        (vec!["library", "search", "\"open", "--json"], "query_invalid"),
    ] {
        let out = sandbox.run(&args);
        assert!(!out.status.success(), "{args:?}");
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["error"]["code"], code, "{args:?}");
    }
    let fake_pdf = sandbox.path("scan.pdf");
    std::fs::write(&fake_pdf, b"%PDF-1.4 not really").unwrap();
    let out = sandbox.run(&["library", "ingest", fake_pdf.to_str().unwrap(), "--org", "City", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["error"]["code"], "document_unreadable");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_searches_the_library_and_catches_up_with_command_line_ingests() {
    let sandbox = Sandbox::new();
    let token = sandbox.account("City", "authority", "officer@example.org", "authority");
    sandbox.json(&["library", "ingest", &demo_document(PLAN_MD), "--org", "City", "--json"]);
    let server = sandbox.serve();
    let client = reqwest::Client::new();
    let search = |q: &str| {
        client.get(format!("{}/api/v1/library/search", server.base)).query(&[("q", q)]).bearer_auth(&token).send()
    };
    let found: Value = search("chiens détecteurs d'explosifs").await.unwrap().json().await.unwrap();
    assert!(found["results"][0]["document_id"].as_str().unwrap().starts_with("com-2017-612"), "{found}");
    // The server holds the index; the command line stores the document and the server adds it.
    let out = sandbox.json(&[
        "library",
        "ingest",
        &demo_document("ip-20-2328-rapport-union-securite.md"),
        "--org",
        "City",
        "--json",
    ]);
    assert!(out["index"].as_str().unwrap().contains("running server"), "{out}");
    let found: Value = search("rapport union sécurité dynamique").await.unwrap().json().await.unwrap();
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["document_id"].as_str().unwrap().starts_with("ip-20-2328")),
        "{found}"
    );
    // Regression: the command line searches while the server holds the index, and prints
    // text, not HTML entities.
    let text = sandbox.ok(&["library", "search", "chiens détecteurs d'explosifs"]);
    assert!(text.contains("[chiens]") || text.contains("[détecteurs]"), "{text}");
    assert!(!text.contains("&#39;") && !text.contains("&amp;") && !text.contains("<mark>"), "{text}");
    assert!(!text.starts_with("0 matching"), "{text}");
}

#[test]
fn a_mistyped_sqlite_url_is_an_error_not_an_empty_database() {
    let sandbox = Sandbox::uninitialised();
    for args in [&["sites", "list"][..], &["orgs", "list"], &["audit", "verify"], &["library", "search", "x"]] {
        let out = sandbox.run(args);
        assert_eq!(out.status.code(), Some(66), "vigie {args:?} exits with EX_NOINPUT");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("there is no database at") && stderr.contains("database_missing"), "{stderr}");
    }
    assert!(!sandbox.path("vigie.db").exists(), "no empty database was created");
    assert!(sandbox.ok(&["init"]).starts_with("created the database"));
    assert!(sandbox.ok(&["init"]).contains("is ready"), "init on an existing database only migrates");
    assert!(sandbox.ok(&["sites", "list"]).contains("0 of 0 sites"));
}

#[test]
fn geojson_rings_wound_clockwise_are_imported() {
    let sandbox = Sandbox::new();
    sandbox.city();
    let mut clockwise = feature("Senate Square", "public_square", 24.951, 60.169);
    clockwise["geometry"]["coordinates"][0].as_array_mut().unwrap().reverse();
    let summary = sandbox.imported(&sandbox.geojson("clockwise.geojson", vec![clockwise]));
    assert_eq!(summary["imported"], 1, "{summary}");
    let listed = sandbox.json(&["sites", "list", "--json", "--geometry"]);
    let area = listed["items"][0]["area_m2"].as_f64().unwrap();
    assert!((3_000.0..7_000.0).contains(&area), "the area of the square, not of the rest of the Earth: {area}");
}

#[test]
fn importing_a_site_that_looks_like_an_existing_one_warns() {
    let sandbox = Sandbox::new();
    sandbox.city();
    let first = sandbox.geojson("first.geojson", vec![feature("Senate Square", "public_square", 24.951, 60.169)]);
    let made = sandbox.imported(&first);
    assert_eq!(made["possible_duplicates"], json!([]));
    let id = sandbox.json(&["sites", "list", "--json"])["items"][0]["id"].clone();
    // The same square from another file, its outline nudged, and another name nearby.
    let second = sandbox.geojson(
        "second.geojson",
        vec![
            feature("senate square ", "public_square", 24.9511, 60.1691),
            feature("Market Square", "open_air_market", 24.9511, 60.1691),
        ],
    );
    let out = sandbox.import(&second);
    assert!(out.status.success(), "a warning does not stop the import");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["possible_duplicates"], json!([{"index": 0, "name": "Senate Square", "existing_site_id": id}]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("looks like the existing site"));
    // Re-importing the first file: its own site (same source) is no duplicate; the second
    // file's look-alike is.
    let again = sandbox.imported(&first);
    let flagged: Vec<&str> =
        again["possible_duplicates"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(flagged, ["senate square"], "{again}");
}

#[test]
fn an_import_that_rejects_every_feature_fails() {
    let sandbox = Sandbox::new();
    sandbox.city();
    let out = sandbox.import(&sandbox.geojson("bad.geojson", vec![feature("Castle", "castle", 24.96, 60.17)]));
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("import_rejected_all"));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((summary["imported"].as_u64(), summary["rejected"][0]["index"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn sites_list_prints_a_table_or_json_with_geometry_on_request() {
    let sandbox = Sandbox::new();
    sandbox.city();
    sandbox
        .imported(&sandbox.geojson("sites.geojson", vec![feature("Senate Square", "public_square", 24.951, 60.169)]));
    let table = sandbox.ok(&["sites", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("CATEGORY"), "{table}");
    assert!(lines[1].starts_with("Senate Square") && lines[1].contains("public_square"), "{table}");
    assert_eq!(lines[2], "1 of 1 sites (--limit to see more, --json for JSON)");
    let plain = sandbox.json(&["sites", "list", "--json"]);
    assert!(plain["items"][0].get("geometry").is_none() && plain["items"][0]["name"] == "Senate Square");
    let full = sandbox.json(&["sites", "list", "--json", "--geometry"]);
    assert_eq!(full["items"][0]["geometry"]["type"], "Polygon");
    assert!(!sandbox.run(&["sites", "list", "--geometry"]).status.success(), "--geometry needs --json");
}

#[test]
fn an_unknown_k_rating_is_reported_as_such() {
    let out = Sandbox::uninitialised().run(&["hvm", "rating", "parse", "K99"]);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("K99 is not a K-rating") && !stderr.contains("does not start with V/"), "{stderr}");
}

#[test]
fn bulletins_are_sent_and_read_on_behalf_of_an_account() {
    let sandbox = Sandbox::new();
    sandbox.account("City", "authority", "officer@example.org", "authority");
    sandbox.account("Mall", "operator", "guard@example.org", "operator");
    sandbox.account("Venue", "operator", "other@example.org", "operator");
    let orgs = sandbox.json(&["orgs", "list"]);
    let mall = orgs["items"].as_array().unwrap().iter().find(|o| o["name"] == "Mall").unwrap()["id"].clone();
    let bulletin = |marking: &str| {
        json!({
            "title": {"en": "Suspected reconnaissance"}, "text": {"fr": "Une camionnette grise filme les entrées."},
            "marking": marking, "recipients": {"orgs": [mall]},
            "urgency": "Expected", "severity": "Moderate", "certainty": "Likely", "response_type": "Monitor",
            "status": "Actual", "effective": "2026-12-07T08:00:00+02:00"
        })
    };
    let file = sandbox.path("b.json");
    std::fs::write(&file, bulletin("TLP:AMBER").to_string()).unwrap();
    let sent = sandbox.json(&["bulletins", "send", "--file", file.to_str().unwrap(), "--as", "officer@example.org"]);
    assert_eq!(sent["marking"], "TLP:AMBER");
    let id = sent["id"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.json(&["bulletins", "list", "--as", "guard@example.org"])["items"][0]["id"], id.as_str());
    assert_eq!(sandbox.json(&["bulletins", "list", "--as", "other@example.org"])["items"], json!([]));
    let hidden = sandbox.run(&["bulletins", "show", &id, "--as", "other@example.org"]);
    assert!(!hidden.status.success() && String::from_utf8_lossy(&hidden.stderr).contains("not_found"));
    assert_eq!(
        sandbox.json(&["bulletins", "show", &id, "--as", "guard@example.org"])["text"]["fr"],
        "Une camionnette grise filme les entrées."
    );

    // Only its source changes the marking: the mall reads it but may not; the city lowers it
    // and the venue reads it.
    let mark = |who: &str, marking: &str| sandbox.run(&["bulletins", "mark", &id, "--marking", marking, "--as", who]);
    let refused = mark("guard@example.org", "TLP:CLEAR");
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("forbidden"));
    assert!(mark("officer@example.org", "TLP:CLEAR").status.success());
    assert_eq!(sandbox.json(&["bulletins", "list", "--as", "other@example.org"])["items"][0]["id"], id.as_str());

    // A bad file: a clear error, nothing sent.
    std::fs::write(&file, bulletin("TLP:WHITE").to_string()).unwrap();
    let refused = sandbox.run(&["bulletins", "send", "--file", file.to_str().unwrap(), "--as", "officer@example.org"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("marking_invalid"), "{refused:?}");
    std::fs::write(&file, "{\"title\": ").unwrap();
    let broken = sandbox.run(&["bulletins", "send", "--file", file.to_str().unwrap(), "--as", "officer@example.org"]);
    assert!(String::from_utf8_lossy(&broken.stderr).contains("json_malformed"), "{broken:?}");
    assert_eq!(
        sandbox.json(&["bulletins", "list", "--as", "officer@example.org"])["items"].as_array().unwrap().len(),
        1
    );
    // Field reports: none yet, and an unknown account is a clear error.
    assert_eq!(sandbox.json(&["field-reports", "list", "--as", "officer@example.org"])["items"], json!([]));
    let nobody = sandbox.run(&["field-reports", "list", "--as", "nobody@example.org"]);
    assert!(!nobody.status.success() && String::from_utf8_lossy(&nobody.stderr).contains("not_found"));
}
