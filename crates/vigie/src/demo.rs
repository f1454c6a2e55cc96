//! `vigie serve --demo`: organisations, accounts and a registry of real public spaces of
//! central Helsinki, from the OpenStreetMap extract shipped in `data/demo/`
//! (© OpenStreetMap contributors, ODbL 1.0), and three assessments made by the demo accounts
//! through the same use cases as the pages. Loading twice changes nothing.
use std::io::Write;

use vigie_app::App;
use vigie_app::assessments::{ActionDraft, AnswerDraft, NewAssessmentRequest};
use vigie_assessment::Methodology;
use vigie_domain::access::{OrgKind, Principal, Role};

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

/// The demo's barrier catalogue: fictional products (data/demo/ATTRIBUTION.md).
const DEMO_CATALOGUE: &str = include_str!("../../../data/demo/barrier-catalogue.csv");

pub fn barrier_catalogue() -> Result<vigie_app::hvm::BarrierCatalogue, CliError> {
    Ok(vigie_app::hvm::BarrierCatalogue {
        name: "barrier-catalogue.csv (demo: fictional products)".into(),
        catalogue: vigie_hvm::Catalogue::from_csv(DEMO_CATALOGUE).map_err(CliError::from)?,
    })
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
    if load_assessments(app).await? > 0 {
        println!("Demo assessments: two validated (Senaatintori, the central station), one in progress (Stockmann).");
    }
    if load_cooperation(app).await? {
        println!(
            "Demo cooperation: the city-centre operators forum, two bulletins (one an exercise), three field reports, threat level 4 around the central station."
        );
    }
    let passages = crate::cmd::library::ingest_demo(&console, &city).await?;
    println!(
        "Demo library: {} EU and UN documents, {passages} passages (sources: data/demo/library/SOURCES.md).",
        vigie_search::demo::demo_documents().count()
    );
    println!("Demo accounts (password for all: {DEMO_PASSWORD}):");
    for (email, org, role) in ACCOUNTS {
        println!("  {email:<22} {:<10} {org}", role.key());
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

/// A demo assessment: the site (by its OpenStreetMap name), the people at peak, the grade each
/// domain's answers are given (the closest the question offers; domains not listed: 1), and
/// whether it goes all the way to validation or stops in the first three domains.
struct DemoAssessment {
    site: &'static str,
    occupancy: u32,
    threat_level: u8,
    grades: &'static [(&'static str, u8)],
    validated: bool,
}

const DEMO_ASSESSMENTS: &[DemoAssessment] = &[
    // The square in front of the cathedral: events and markets, open on every side, its vehicle
    // approaches not protected.
    DemoAssessment {
        site: "Senaatintori",
        occupancy: 8000,
        threat_level: 3,
        grades: &[("perimeter", 4), ("access", 3), ("surveillance", 2), ("crowd", 2), ("cooperation", 0)],
        validated: true,
    },
    // The central station: staffed, watched and rehearsed, but its forecourt is open to traffic.
    DemoAssessment {
        site: "Helsingin päärautatieasema",
        occupancy: 20000,
        threat_level: 3,
        grades: &[("perimeter", 2), ("surveillance", 0), ("security_staff", 0), ("training", 1), ("response", 0)],
        validated: true,
    },
    // A department store, assessed this week: three domains answered so far.
    DemoAssessment {
        site: "Stockmann",
        occupancy: 3000,
        threat_level: 3,
        grades: &[("management", 1), ("perimeter", 3), ("access", 2)],
        validated: false,
    },
];

/// Assesses the demo sites that have no assessment yet, as the demo's assessor (answers,
/// submission, two actions) and officer (validation); returns how many it made.
async fn load_assessments(app: &App) -> Result<usize, CliError> {
    let assessor = demo_principal(app, "assessor@vigie.demo").await?;
    let officer = demo_principal(app, "officer@vigie.demo").await?;
    let methodology = Methodology::embedded()?;
    let sites = app.console().list_sites(Some(CITY), None, 500).await?.items;
    let mut made = 0;
    for demo in DEMO_ASSESSMENTS {
        let Some(site) = sites.iter().find(|s| s.name == demo.site) else { continue };
        if !app.site_assessments(&assessor, &site.id).await?.is_empty() {
            continue;
        }
        let request =
            NewAssessmentRequest { threat_level: demo.threat_level, occupancy: Some(demo.occupancy), visibility: None };
        let assessment = app.start_assessment(&assessor, &site.id, request).await?;
        let answered_domains: Vec<&str> = if demo.validated {
            methodology.domains.iter().map(|d| d.id.as_str()).collect()
        } else {
            demo.grades.iter().map(|(domain, _)| *domain).collect()
        };
        let answers = methodology
            .questions
            .iter()
            .filter(|q| q.applies_to.contains(&site.category) && answered_domains.contains(&q.domain.as_str()))
            .filter_map(|q| {
                let wanted = demo.grades.iter().find(|(d, _)| *d == q.domain).map_or(1, |(_, g)| *g);
                let answer = q.answers.iter().min_by_key(|a| (a.grade.abs_diff(wanted), a.grade))?;
                Some(AnswerDraft {
                    question_id: q.id.clone(),
                    answer: answer.id.clone(),
                    note: None,
                    observed_at_ms: None,
                    gps: None,
                    base_version: Some(0),
                })
            })
            .collect();
        app.write_answers(&assessor, &assessment.id, answers).await?;
        made += 1;
        if !demo.validated {
            continue;
        }
        // The two most useful proposed measures become the site's first actions.
        let score = app.score(&assessor, &assessment.id, vigie_domain::site::Lang::En).await?;
        let proposed = score["report"]["actions"].as_array().cloned().unwrap_or_default();
        for (n, action) in proposed.iter().take(2).enumerate() {
            let draft = ActionDraft {
                title: action["label"].as_str().unwrap_or("Proposed measure").to_owned(),
                owner: Some(if n == 0 { "Head of security" } else { "Facilities manager" }.to_owned()),
                // The first action is the demo assessor's own: it is on their dashboard.
                owner_user_id: (n == 0).then(|| assessor.user_id.to_string()),
                due_date: Some(if n == 0 { "2027-03-31" } else { "2027-06-30" }.to_owned()),
                status: Some("open".to_owned()),
                evidence: None,
                question_id: action["question"].as_str().map(str::to_owned),
                scenario_id: None,
                measure_id: action["measure"].as_str().map(str::to_owned),
                version: None,
            };
            app.create_action(&assessor, &assessment.id, draft).await?;
        }
        app.transition_assessment(&assessor, &assessment.id, "submitted", None).await?;
        app.transition_assessment(&officer, &assessment.id, "validated", None).await?;
    }
    Ok(made)
}

/// A demo account as it signs in (its password is public), to act through the use cases.
/// The city's forum of city-centre operators, with the demo's operator as a member, two
/// bulletins to it (an exercise announcement, GREEN, and a warning, AMBER) and three field
/// reports to the city, two of which form a sightings cluster, and threat level 4 around the
/// central station. Only on the first load;
/// returns whether it made them.
async fn load_cooperation(app: &App) -> Result<bool, CliError> {
    use vigie_domain::bulletin::{BulletinDraft, Texts};
    use vigie_domain::sharing::{Marking, Recipients};
    let officer = demo_principal(app, "officer@vigie.demo").await?;
    if !app.my_communities(&officer).await?.is_empty() {
        return Ok(false);
    }
    let operator = demo_principal(app, "operator@vigie.demo").await?;
    let forum = app.create_community(&officer, "Helsinki city-centre operators forum").await?;
    app.invite_to_community(&officer, &forum.id, &operator.org_id).await?;
    app.join_community(&operator, &forum.id).await?;
    let day = 86_400_000;
    let now = app.now_ms();
    let texts = |fr: &str, en: &str| Texts { fr: Some(fr.to_owned()), en: Some(en.to_owned()) };
    let to_forum = Recipients { communities: vec![forum.id.clone()], ..Recipients::default() };
    let exercise = BulletinDraft {
        title: texts(
            "Exercice : attaque au véhicule-bélier, Senaatintori",
            "Exercise: vehicle-ramming drill, Senaatintori",
        ),
        text: texts(
            "Exercice de la police et des exploitants le samedi matin : fermeture de l’accès nord de la place pendant une heure.",
            "Police and operators' drill on Saturday morning: the square's northern approach is closed for an hour.",
        ),
        instruction: texts("Prévenez vos équipes d’accueil.", "Tell your front-of-house teams."),
        marking: Marking::Green,
        recipients: to_forum.clone(),
        area: None,
        sites: Vec::new(),
        scenario: Some("vehicle_as_weapon".into()),
        urgency: "Future".into(),
        severity: "Minor".into(),
        certainty: "Observed".into(),
        response_type: "Prepare".into(),
        status: "Exercise".into(),
        msg_type: "Alert".into(),
        references: None,
        effective_ms: now,
        expires_ms: Some(now + 7 * day),
    };
    app.send_bulletin(&officer, exercise.clone()).await?;
    let warning = BulletinDraft {
        title: texts("Repérages suspects aux entrées de service", "Suspected reconnaissance of service entrances"),
        text: texts(
            "Trois signalements cette semaine : une camionnette grise filme les entrées de service des centres commerciaux du centre.",
            "Three reports this week: a grey van films the service entrances of the centre's shopping centres.",
        ),
        instruction: texts(
            "Signalez toute présence répétée ; ne l’interpellez pas.",
            "Report any repeated presence; do not confront it.",
        ),
        marking: Marking::Amber,
        scenario: Some("hostile_reconnaissance".into()),
        urgency: "Expected".into(),
        severity: "Moderate".into(),
        certainty: "Likely".into(),
        response_type: "Monitor".into(),
        status: "Actual".into(),
        ..exercise
    };
    app.send_bulletin(&officer, warning).await?;
    // Three field reports to the city: the mall's report at Stockmann's goods entrance and a
    // patrol's sighting 45 m away the next day form a sightings cluster (two organisations);
    // the mall's other report is 500 m away.
    let report = |text: &str, lon: f64, lat: f64, days_ago: i64| vigie_domain::report::ReportDraft {
        kind: "hostile_reconnaissance".into(),
        observed_at_ms: now - days_ago * day,
        lon,
        lat,
        site_id: None,
        text: text.to_owned(),
        marking: Marking::Amber,
        recipients: Recipients { orgs: vec![officer.org_id.clone()], ..Recipients::default() },
    };
    app.file_report(
        &operator,
        report("A grey van parked at the goods entrance, the passenger filming.", 24.9410, 60.1685, 3),
    )
    .await?;
    app.file_report(
        &operator,
        report("The man from the grey van walked the loading bay, taking photos.", 24.9505, 60.1699, 1),
    )
    .await?;
    app.file_report(
        &officer,
        report("Patrol: a grey van, engine running, near the department store's goods entrance.", 24.9418, 60.1687, 2),
    )
    .await?;
    // The city raises the level to 4 over the shopping streets around the station, where the
    // reports came from (Senaatintori, further east, stays as it was): the station's and
    // Stockmann's plans get the level's checklist.
    let around_the_station = serde_json::json!({"type": "Polygon", "coordinates": [[
        [24.9370, 60.1660], [24.9480, 60.1660], [24.9480, 60.1735], [24.9370, 60.1735], [24.9370, 60.1660]
    ]]});
    let level = vigie_domain::threat_level::ThreatLevelDraft {
        level: 4,
        area: Some(around_the_station),
        reason: "Repeated hostile reconnaissance of the shopping centres around the central station.".into(),
        effective_ms: now,
        bulletin: None,
    };
    app.set_threat_level(&officer, level, vigie_domain::site::Lang::En).await?;
    Ok(true)
}

async fn demo_principal(app: &App, email: &str) -> Result<Principal, CliError> {
    let session = app.sign_in(email, DEMO_PASSWORD, None, None).await?;
    let principal = session.principal.clone();
    app.sign_out(&principal, Some(&session.secret)).await?;
    Ok(principal)
}
