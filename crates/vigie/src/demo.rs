//! `vigie serve --demo`: organisations, accounts and a registry of real public spaces of
//! central Helsinki, from the OpenStreetMap extract shipped in `data/demo/`
//! (© OpenStreetMap contributors, ODbL 1.0). Loading twice changes nothing.
use std::io::Write;

use vigie_app::App;
use vigie_domain::access::{OrgKind, Role};

use crate::error::CliError;

const HELSINKI_PBF: &[u8] = include_bytes!("../../../data/demo/helsinki-centre.osm.pbf");

pub const DEMO_PASSWORD: &str = "vigie-demo-2026";
pub const CITY: &str = "City of Helsinki (demo)";
pub const OPERATOR: &str = "Helsinki Markets and Malls (demo)";

/// (email, organisation, role)
pub const ACCOUNTS: &[(&str, &str, Role)] = &[
    ("admin@vigie.demo", CITY, Role::Admin),
    ("officer@vigie.demo", CITY, Role::Authority),
    ("assessor@vigie.demo", CITY, Role::Assessor),
    ("viewer@vigie.demo", CITY, Role::Viewer),
    ("operator@vigie.demo", OPERATOR, Role::Operator),
];

/// Refuses to put demo accounts, whose password is public, into a database that holds real
/// organisations or on a server reachable from other machines.
pub async fn check_safe(app: &App, bind: std::net::SocketAddr) -> Result<(), CliError> {
    if !bind.ip().is_loopback() {
        return Err(CliError::new(
            vigie_domain::Code::DemoRefused,
            format!(
                "--demo creates accounts whose password is public; it only listens on this machine (use --bind 127.0.0.1:PORT, not {bind})"
            ),
        ));
    }
    let others: Vec<String> = app
        .console()
        .organisations()
        .await?
        .into_iter()
        .map(|o| o.name)
        .filter(|n| n != CITY && n != OPERATOR)
        .collect();
    if !others.is_empty() {
        return Err(CliError::new(
            vigie_domain::Code::DemoRefused,
            format!(
                "this database holds real organisations ({}); --demo only runs on an empty database or its own",
                others.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The shipped Helsinki extract in a temporary file (removed when dropped).
pub fn extract_file() -> Result<tempfile::NamedTempFile, CliError> {
    let failed = |e: std::io::Error| {
        CliError::new(vigie_domain::Code::DemoFailed, format!("cannot write the demo extract to a temporary file: {e}"))
    };
    let mut pbf = tempfile::Builder::new().prefix("helsinki-centre").suffix(".osm.pbf").tempfile().map_err(failed)?;
    pbf.write_all(HELSINKI_PBF).map_err(failed)?;
    Ok(pbf)
}

pub async fn load(app: &App) -> Result<(), CliError> {
    let console = app.console();
    let city = console.ensure_organisation(CITY, OrgKind::Authority).await?.id;
    console.ensure_organisation(OPERATOR, OrgKind::Operator).await?;
    // Only on the first load: the audit log needs no row for a link that already exists.
    if !console.user_exists(ACCOUNTS[0].0).await? {
        console.oversee(CITY, OPERATOR).await?;
    }
    for (email, org, role) in ACCOUNTS {
        if !console.user_exists(email).await? {
            console.add_user((*email).to_owned(), org, *role, DEMO_PASSWORD).await?;
        }
    }
    let pbf = extract_file()?;
    let summary = crate::cmd::sites::import_osm(&console, &city, pbf.path()).await?;
    println!(
        "Demo loaded: {} public spaces of central Helsinki from OpenStreetMap (© OpenStreetMap contributors, ODbL).",
        summary["candidates"]
    );
    let passages = crate::cmd::library::ingest_demo(&console, &city).await?;
    println!(
        "Demo library: {} EU and UN documents, {passages} passages (sources: data/demo/library/SOURCES.md).",
        vigie_search::demo::DEMO_LIBRARY.len()
    );
    println!("Demo accounts (password for all: {DEMO_PASSWORD}):");
    for (email, org, role) in ACCOUNTS {
        println!("  {email:<22} {:<10} {org}", role.key());
    }
    let _ = std::io::stdout().flush();
    Ok(())
}
