//! `vigie sites`: import from GeoJSON and OpenStreetMap, list.
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use vigie_app::console::Console;
use vigie_domain::OrgId;
use vigie_domain::site::{
    MAX_PEAK_OCCUPANCY, MAX_TAGS, NEAR_STREETS_SEPARATOR, NEAR_STREETS_TAG, SiteCategory, SiteInput, ValidSite,
};
use vigie_store::NewSite;

use super::{open_app, print_json};
use crate::config::GlobalArgs;
use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a GeoJSON FeatureCollection. Each feature needs `properties.name` and
    /// `properties.category`; optional: address, peak_occupancy, tags, id (for re-imports).
    ImportGeojson {
        file: PathBuf,
        /// The owning organisation's name.
        #[arg(long)]
        org: String,
    },
    /// Find public spaces in an OpenStreetMap extract (.osm.pbf) and import them.
    ImportOsm {
        file: PathBuf,
        /// The owning organisation's name.
        #[arg(long)]
        org: String,
    },
    /// List sites: a table, or JSON with --json.
    List {
        /// Only this organisation's sites.
        #[arg(long)]
        org: Option<String>,
        /// Only this category (e.g. public_square).
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the page as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// With --json, keep each site's GeoJSON outline (left out otherwise: it is long).
        #[arg(long, requires = "json")]
        geometry: bool,
    },
}

/// GeoJSON files larger than this are refused before parsing.
const MAX_GEOJSON_BYTES: u64 = 200 * 1024 * 1024;

pub async fn run(global: &GlobalArgs, command: Command) -> Result<(), CliError> {
    match command {
        Command::ImportGeojson { file, org } => {
            let features = read_feature_collection(&file)?;
            let (app, _, _) = open_app(global).await?;
            let org = app.console().organisation_named(&org).await?.id;
            let source = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let (good, rejected) = sites_from_features(&source, &features);
            for r in &rejected {
                eprintln!("feature {}: {} [{}]", r["index"], r["reason"], r["code"]);
            }
            if good.is_empty() && !rejected.is_empty() {
                print_json(
                    &json!({"imported": 0, "updated": 0, "unchanged": 0, "locally_edited": 0, "rejected": rejected}),
                );
                return Err(CliError::new(
                    vigie_domain::Code::ImportRejectedAll,
                    format!(
                        "none of the {} features of {} could be imported (the reasons are above)",
                        rejected.len(),
                        file.display()
                    ),
                ));
            }
            let duplicates = possible_duplicates(&app.console(), &org, &good).await?;
            let outcome = app.console().import_sites(&org, &good).await?;
            print_json(
                &json!({"imported": outcome.imported, "updated": outcome.updated, "unchanged": outcome.unchanged, "locally_edited": outcome.locally_edited, "rejected": rejected, "possible_duplicates": duplicates}),
            );
            Ok(())
        }
        Command::ImportOsm { file, org } => {
            let (app, _, _) = open_app(global).await?;
            let org = app.console().organisation_named(&org).await?.id;
            let summary = import_osm(&app.console(), &org, &file).await?;
            print_json(&summary);
            Ok(())
        }
        Command::List { org, category, limit, json, geometry } => {
            let (app, _, _) = open_app(global).await?;
            let page = app.console().list_sites(org.as_deref(), category.as_deref(), limit).await?;
            if json {
                let mut value = json!(page);
                if !geometry && let Some(items) = value["items"].as_array_mut() {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        item.remove("geometry");
                    }
                }
                print_json(&value);
            } else {
                print!("{}", site_table(&page));
            }
            Ok(())
        }
    }
}

/// The page as a table a person reads: name, category, area, address (else the nearest
/// streets, which tell apart two sites of one name), id; then the count.
fn site_table(page: &vigie_store::SitePage) -> String {
    let rows: Vec<[String; 5]> = page
        .items
        .iter()
        .map(|site| {
            [
                site.name.clone(),
                site.category.key().to_owned(),
                format!("{:.0}", site.area_m2),
                match &site.address {
                    Some(address) => address.clone(),
                    None if site.near_streets().is_empty() => String::new(),
                    None => format!("near {}", site.near_streets().join(", ")),
                },
                site.id.to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "CATEGORY", "AREA_M2", "ADDRESS OR NEAREST STREETS", "ID"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("{} of {} sites (--limit to see more, --json for JSON)\n", rows.len(), page.total));
    out
}

/// Warns (on stderr, and in the summary) of sites that look like ones the organisation
/// already has under another source: the import goes on, a person decides.
async fn possible_duplicates(console: &Console<'_>, org: &OrgId, sites: &[NewSite]) -> Result<Vec<Value>, CliError> {
    let found = console.possible_duplicates(org, sites).await?;
    Ok(found
        .into_iter()
        .map(|(index, existing)| {
            eprintln!(
                "warning: feature {index} ({}) looks like the existing site {} (same name, overlapping outline)",
                existing.name, existing.id
            );
            json!({"index": index, "name": existing.name, "existing_site_id": existing.id})
        })
        .collect())
}

fn read_feature_collection(path: &Path) -> Result<Vec<Value>, CliError> {
    let unreadable = |e: std::io::Error| {
        CliError::new(vigie_domain::Code::FileUnreadable, format!("cannot read {}: {e}", path.display()))
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_GEOJSON_BYTES {
        return Err(CliError::new(
            vigie_domain::Code::FileTooLarge,
            format!("{} is {} MB; the limit is {} MB", path.display(), size / 1_000_000, MAX_GEOJSON_BYTES / 1_000_000),
        ));
    }
    let text = std::fs::read(path).map_err(unreadable)?;
    let value: Value = serde_json::from_slice(&text).map_err(|e| {
        CliError::new(vigie_domain::Code::GeojsonInvalid, format!("{} is not valid JSON: {e}", path.display()))
    })?;
    if value.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(CliError::new(
            vigie_domain::Code::GeojsonInvalid,
            format!("{} is not a GeoJSON FeatureCollection", path.display()),
        ));
    }
    value.get("features").and_then(Value::as_array).cloned().ok_or_else(|| {
        CliError::new(vigie_domain::Code::GeojsonInvalid, format!("{} has no \"features\" array", path.display()))
    })
}

/// Validates every feature; returns the good sites and, for each bad one, its index, code
/// and reason. Nothing is written here: the caller imports the good ones in one transaction.
/// Feature ids become `geojson:SOURCE:ID`, so files that both number features from 1 do not
/// replace each other's sites on import.
pub fn sites_from_features(source: &str, features: &[Value]) -> (Vec<NewSite>, Vec<Value>) {
    let mut good: Vec<NewSite> = Vec::new();
    let mut rejected = Vec::new();
    for (index, feature) in features.iter().enumerate() {
        match site_from_feature(source, feature) {
            Ok(site) if site.source_ref.is_some() && good.iter().any(|g| g.source_ref == site.source_ref) => {
                rejected.push(json!({"index": index, "code": "validation_failed", "reason": "another feature of this file has the same id"}))
            }
            Ok(site) => good.push(site),
            Err(err) => rejected.push(json!({"index": index, "code": err.code, "reason": err.message})),
        }
    }
    (good, rejected)
}

fn site_from_feature(source: &str, feature: &Value) -> Result<NewSite, CliError> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(CliError::new(vigie_domain::Code::GeojsonInvalid, "not a GeoJSON Feature"));
    }
    let properties = feature
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| CliError::new(vigie_domain::Code::ValidationFailed, "the feature has no properties"))?;
    let text = |key: &str| properties.get(key).and_then(Value::as_str).map(str::to_owned);
    let name = text("name")
        .ok_or_else(|| CliError::new(vigie_domain::Code::ValidationFailed, "properties.name is missing"))?;
    let category = text("category")
        .ok_or_else(|| CliError::new(vigie_domain::Code::ValidationFailed, "properties.category is missing"))?;
    let peak_occupancy = match properties.get("peak_occupancy") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
            CliError::new(
                vigie_domain::Code::ValidationFailed,
                "properties.peak_occupancy must be a whole number of people",
            )
        })?),
    };
    let tags: BTreeMap<String, String> = match properties.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            CliError::new(vigie_domain::Code::ValidationFailed, "properties.tags must map names to text")
        })?,
    };
    let geometry = feature
        .get("geometry")
        .cloned()
        .ok_or_else(|| CliError::new(vigie_domain::Code::SiteGeometryInvalid, "the feature has no geometry"))?;
    let input = SiteInput {
        name,
        category: SiteCategory::from_key(&category)?,
        geometry,
        address: text("address"),
        peak_occupancy,
        tags,
    };
    let source_ref = feature.get("id").or_else(|| properties.get("id")).and_then(|id| match id {
        Value::String(s) => Some(format!("geojson:{source}:{s}")),
        Value::Number(n) => Some(format!("geojson:{source}:{n}")),
        _ => None,
    });
    Ok(NewSite { site: input.validate()?, source_ref })
}

struct Bar(Option<ProgressBar>);

impl vigie_osm::Progress for Bar {
    fn advance(&self, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}

/// OSM tags worth keeping on a site; the rest stay in OpenStreetMap.
const KEPT_TAG_PREFIXES: &[&str] = &[
    "name",
    "amenity",
    "shop",
    "leisure",
    "tourism",
    "railway",
    "public_transport",
    "place",
    "highway",
    "religion",
    "denomination",
    "building",
    "operator",
    "website",
    "wheelchair",
    "opening_hours",
    "capacity",
    "addr:",
    "area",
];

fn site_from_candidate(candidate: vigie_osm::SiteCandidate) -> NewSite {
    let tag = |key: &str| candidate.tags.get(key).map(String::as_str);
    let street = match (tag("addr:street"), tag("addr:housenumber")) {
        (Some(street), Some(number)) => Some(format!("{street} {number}")),
        (Some(street), None) => Some(street.to_owned()),
        _ => None,
    };
    // The district or town after the street, as addresses are written: "Kaivokatu 1, 00100
    // Helsinki".
    let place = [tag("addr:postcode"), tag("addr:suburb").or(tag("addr:city"))]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let address = match street {
        Some(street) if !place.is_empty() => Some(format!("{street}, {place}")),
        other => other,
    };
    let peak_occupancy =
        tag("capacity").and_then(|c| c.trim().parse::<u32>().ok()).filter(|c| *c <= MAX_PEAK_OCCUPANCY);
    let mut tags: BTreeMap<String, String> = candidate
        .tags
        .iter()
        .filter(|(k, _)| KEPT_TAG_PREFIXES.iter().any(|p| k.starts_with(p)))
        .take(MAX_TAGS - 2)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert("osm".into(), candidate.osm_ref.clone());
    if !candidate.nearest_streets.is_empty() {
        tags.insert(NEAR_STREETS_TAG.into(), candidate.nearest_streets.join(NEAR_STREETS_SEPARATOR));
    }
    NewSite {
        site: ValidSite {
            name: candidate.name,
            category: candidate.category,
            geometry: candidate.geometry,
            address,
            peak_occupancy,
            tags,
        },
        source_ref: Some(format!("osm:{}", candidate.osm_ref)),
    }
}

/// Finds the public spaces in `file`, imports them for `org` in one transaction, and returns
/// the summary printed by `vigie sites import-osm`.
pub async fn import_osm(console: &Console<'_>, org: &OrgId, file: &Path) -> Result<Value, CliError> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("reading {msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(file.display().to_string());
        bar
    });
    let progress = Bar(bar);
    let path = file.to_path_buf();
    // Reading the PBF is CPU work: keep it off the async workers.
    let report = tokio::task::spawn_blocking(move || {
        let report = vigie_osm::find_public_spaces(&path, &progress);
        if let Some(bar) = &progress.0 {
            bar.finish_and_clear();
        }
        report
    })
    .await
    .map_err(|e| CliError::new(vigie_domain::Code::Internal, format!("the OSM reader stopped: {e}")))?
    .map_err(CliError::from)?;
    let by_category: BTreeMap<&str, u64> = report.count_by_category().into_iter().map(|(c, n)| (c.key(), n)).collect();
    let found = report.candidates.len();
    let skipped = report.skipped.clone();
    let sites: Vec<NewSite> = report.candidates.into_iter().map(site_from_candidate).collect();
    let duplicates = possible_duplicates(console, org, &sites).await?;
    let outcome = console.import_sites(org, &sites).await?;
    let mut skipped_json: BTreeMap<String, u64> = skipped;
    skipped_json.insert("unchanged".into(), outcome.unchanged);
    skipped_json.insert("locally_edited".into(), outcome.locally_edited);
    Ok(json!({
        "file": file.display().to_string(),
        "candidates": found,
        "imported": outcome.imported,
        "updated": outcome.updated,
        "skipped": skipped_json,
        "by_category": by_category,
        "nodes_read": report.nodes_read,
        "possible_duplicates": duplicates,
    }))
}
