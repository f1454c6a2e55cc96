//! `vigie hvm`: vehicle dynamics assessment of a site, crash-rating strings, coverage checks
//! and barrier recommendations. Thin: the work is in the `vigie-hvm` crate.
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::Value;
use vigie_domain::geometry::SiteGeometry;
use vigie_hvm::{
    Catalogue, DynamicsParams, GraphOptions, HvmError, Rating, RecommendParams, StreetGraph, VdaResult, VehicleClass,
    VehicleSet,
};

use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Impact speeds of each vehicle class at each access point of a site.
    Vda {
        #[command(flatten)]
        site: SiteArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Write the result as a GeoJSON FeatureCollection to this file.
        #[arg(long, value_name = "FILE")]
        geojson: Option<PathBuf>,
        /// Draw an SVG map to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Vehicle class drawn on the SVG map (default: the heaviest analysed).
        #[arg(long, value_name = "CLASS")]
        svg_vehicle: Option<String>,
        /// Title of the SVG map.
        #[arg(long)]
        title: Option<String>,
    },
    /// Crash-test rating strings.
    Rating {
        #[command(subcommand)]
        command: RatingCommand,
    },
    /// Does a rated barrier stop a vehicle class at a given speed?
    Check {
        /// Rating string, e.g. V/7200[N3C]/64/90:1.1
        #[arg(long)]
        rating: String,
        /// Threat vehicle class, e.g. N3C.
        #[arg(long)]
        vehicle: String,
        /// Impact speed (km/h).
        #[arg(long)]
        speed_kmh: f64,
        /// Impact angle (degrees; 90 is head-on).
        #[arg(long, default_value_t = 90.0)]
        angle_deg: f64,
        /// Stand-off available behind the barrier line (m).
        #[arg(long)]
        standoff_m: Option<f64>,
        /// Vehicle classes file (default: the shipped methodology/vehicles.toml).
        #[arg(long, value_name = "FILE")]
        vehicles_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// For each access point of a site: minimum rating, covering products, speed-reducing bends.
    Recommend {
        #[command(flatten)]
        site: SiteArgs,
        /// Barrier catalogue CSV: manufacturer,product,standard,rating,foundation,width
        #[arg(long, value_name = "FILE")]
        catalogue: PathBuf,
        /// Stand-off available behind the barrier line (m).
        #[arg(long)]
        standoff_m: Option<f64>,
        /// Distance before the access point where a bend or chicane is considered (m).
        #[arg(long, default_value_t = 20.0)]
        bend_distance_m: f64,
        #[arg(long)]
        json: bool,
    },
    /// List the vehicle classes and their parameters.
    Vehicles {
        #[arg(long, value_name = "FILE")]
        vehicles_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RatingCommand {
    /// Read a rating string: PAS 68, IWA 14-1, ISO 22343-1, ASTM F2656 or DoS K-rating.
    Parse {
        string: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// OpenStreetMap extract (.osm.pbf).
    #[arg(long, value_name = "FILE")]
    osm: PathBuf,
    /// Site outline: GeoJSON Polygon/MultiPolygon, a Feature, or a FeatureCollection of one.
    #[arg(long, value_name = "FILE")]
    site: PathBuf,
    /// Vehicle classes, comma-separated (default: all), e.g. M1,N1,N3C.
    #[arg(long, value_name = "LIST")]
    vehicles: Option<String>,
    /// Vehicle classes file (default: the shipped methodology/vehicles.toml).
    #[arg(long, value_name = "FILE")]
    vehicles_file: Option<PathBuf>,
    /// Side friction factor f in v = sqrt(f·g·r).
    #[arg(long, default_value_t = 0.6)]
    friction: f64,
    /// Radius (m) around the site where speeds are recomputed without crossing the site.
    #[arg(long, default_value_t = 300.0)]
    local_radius_m: f64,
}

pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Vda { site, json, geojson, svg, svg_vehicle, title } => {
            let loaded = load(&site)?;
            let result = vigie_hvm::analyse_site(&loaded.graph, &loaded.site, &loaded.classes, &loaded.params);
            if let Some(path) = geojson {
                write(&path, &pretty(&vigie_hvm::render::to_geojson(&loaded.site, &result)))?;
            }
            if let Some(path) = svg {
                let class = match svg_vehicle {
                    Some(key) => loaded.set.get(&key).map_err(hvm)?.clone(),
                    None => loaded.classes.iter().max_by(|a, b| a.mass_kg.total_cmp(&b.mass_kg)).cloned().ok_or_else(
                        || CliError::new(vigie_domain::Code::HvmVehicleUnknown, "no vehicle class selected"),
                    )?,
                };
                let title = title.unwrap_or_else(|| {
                    format!(
                        "Vehicle dynamics / dynamique des véhicules: {}",
                        site.site.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                    )
                });
                write(
                    &path,
                    &vigie_hvm::render::to_svg(&loaded.graph, &loaded.site, &result, &class, &loaded.params, &title),
                )?;
            }
            if json {
                println!("{}", pretty(&result));
            } else {
                print_vda(&result, &loaded.classes);
            }
            Ok(())
        }
        Command::Rating { command: RatingCommand::Parse { string, json } } => {
            let rating = Rating::parse(&string).map_err(hvm)?;
            if json {
                println!("{}", pretty(&rating_json(&rating)));
            } else {
                print_rating(&rating);
            }
            Ok(())
        }
        Command::Check { rating, vehicle, speed_kmh, angle_deg, standoff_m, vehicles_file, json } => {
            positive("--speed-kmh", speed_kmh)?;
            if !(0.0..=90.0).contains(&angle_deg) {
                return Err(CliError::new(
                    vigie_domain::Code::HvmParameterInvalid,
                    format!("--angle-deg must lie between 0 and 90, got {angle_deg}"),
                ));
            }
            if let Some(s) = standoff_m {
                positive("--standoff-m", s)?;
            }
            let rating = Rating::parse(&rating).map_err(hvm)?;
            let set = vehicle_set(vehicles_file.as_deref())?;
            let coverage = vigie_hvm::check(&rating, set.get(&vehicle).map_err(hvm)?, speed_kmh, angle_deg, standoff_m);
            if json {
                let mut v = serde_json::to_value(&coverage).unwrap_or(Value::Null);
                v["rating"] = rating_json(&rating);
                println!("{}", pretty(&v));
            } else {
                println!("{}", if coverage.covers { "COVERED / couvert" } else { "NOT COVERED / non couvert" });
                for r in &coverage.reasons {
                    let mark = match r.passed {
                        Some(true) => "ok ",
                        Some(false) => "NO ",
                        None => " i ",
                    };
                    println!("  {mark} {} / {}", r.en, r.fr);
                }
                print_warnings(&rating);
            }
            Ok(())
        }
        Command::Recommend { site, catalogue, standoff_m, bend_distance_m, json } => {
            if let Some(s) = standoff_m {
                positive("--standoff-m", s)?;
            }
            if !(bend_distance_m >= 0.0 && bend_distance_m.is_finite()) {
                return Err(CliError::new(
                    vigie_domain::Code::HvmParameterInvalid,
                    "--bend-distance-m must be zero or a positive number",
                ));
            }
            let text = std::fs::read_to_string(&catalogue).map_err(|e| unreadable(&catalogue, e))?;
            let catalogue = Catalogue::from_csv(&text).map_err(hvm)?;
            let loaded = load(&site)?;
            let result = vigie_hvm::analyse_site(&loaded.graph, &loaded.site, &loaded.classes, &loaded.params);
            let advice = vigie_hvm::recommend(
                &result,
                &catalogue,
                &loaded.classes,
                &loaded.params,
                &RecommendParams { standoff_m, bend_distance_m },
            );
            if json {
                println!("{}", pretty(&advice));
            } else {
                for ap in &advice.access_points {
                    println!("{} ({:.6}, {:.6})", ap.id, ap.lon, ap.lat);
                    for r in &ap.requirements {
                        let minimum = r
                            .minimum_rating
                            .clone()
                            .unwrap_or_else(|| "above every test speed / au-delà de toute vitesse d'essai".into());
                        println!("  {:4} {:5.1} km/h  minimum: {minimum}", r.vehicle_class, r.impact_speed_kmh);
                        let products: Vec<String> = r
                            .products
                            .iter()
                            .map(|p| format!("{} {} ({})", p.manufacturer, p.product, p.rating))
                            .collect();
                        println!(
                            "       products / produits: {}",
                            if products.is_empty() { "none / aucun".to_owned() } else { products.join("; ") }
                        );
                        if let Some(b) = r.speed_reduction.last() {
                            println!("       {}", b.en);
                            println!("       {}", b.fr);
                        }
                    }
                }
                if advice.access_points.is_empty() {
                    println!(
                        "No access point: no drivable way enters the site. / Aucun point d'accès : aucune voie carrossable n'entre sur le site."
                    );
                }
            }
            Ok(())
        }
        Command::Vehicles { vehicles_file, json } => {
            let set = vehicle_set(vehicles_file.as_deref())?;
            if json {
                println!("{}", pretty(&set));
            } else {
                println!("vehicle classes / classes de véhicules, version {}", set.version);
                for c in &set.classes {
                    println!(
                        "  {:4} {:>6} kg  a0 {:.1} m/s²  vmax {:>3} km/h  {} / {}",
                        c.key, c.mass_kg, c.a0_ms2, c.vmax_kmh, c.name_en, c.name_fr
                    );
                }
            }
            Ok(())
        }
    }
}

struct Loaded {
    graph: StreetGraph,
    site: SiteGeometry,
    set: VehicleSet,
    classes: Vec<VehicleClass>,
    params: DynamicsParams,
}

/// Checks the arguments before reading the (large) OSM file.
fn load(args: &SiteArgs) -> Result<Loaded, CliError> {
    let params =
        DynamicsParams { friction: args.friction, local_radius_m: args.local_radius_m, ..DynamicsParams::default() };
    params.check().map_err(hvm)?;
    let set = vehicle_set(args.vehicles_file.as_deref())?;
    let classes = match &args.vehicles {
        Some(list) => set.select(list).map_err(hvm)?,
        None => set.classes.clone(),
    };
    if classes.is_empty() {
        return Err(CliError::new(vigie_domain::Code::HvmVehicleUnknown, "--vehicles names no class"));
    }
    let text = std::fs::read_to_string(&args.site).map_err(|e| unreadable(&args.site, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::new(vigie_domain::Code::SiteGeometryInvalid, format!("{} is not JSON: {e}", args.site.display()))
    })?;
    let site = vigie_hvm::site_from_geojson(&value)?;
    let graph = vigie_hvm::osm::load_graph(&args.osm, &GraphOptions::default(), &vigie_osm::NoProgress)
        .map_err(CliError::from)?;
    Ok(Loaded { graph, site, set, classes, params })
}

fn vehicle_set(file: Option<&Path>) -> Result<VehicleSet, CliError> {
    match file {
        Some(path) => {
            VehicleSet::from_toml(&std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?).map_err(hvm)
        }
        None => VehicleSet::default_set().map_err(hvm),
    }
}

fn hvm(e: HvmError) -> CliError {
    CliError::new(e.code(), e.to_string()).with_details(e.details())
}

fn unreadable(path: &Path, e: std::io::Error) -> CliError {
    CliError::new(vigie_domain::Code::FileUnreadable, format!("cannot read {}: {e}", path.display()))
        .with_details(serde_json::json!({ "path": path.display().to_string() }))
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::new(vigie_domain::Code::FileUnwritable, format!("cannot write {}: {e}", path.display())))
}

fn positive(name: &str, v: f64) -> Result<(), CliError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(CliError::new(
            vigie_domain::Code::HvmParameterInvalid,
            format!("{name} must be a positive number, got {v}"),
        ))
    }
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The rating as the JSON shape, plus the normalised string and the penetration class.
fn rating_json(r: &Rating) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn print_rating(r: &Rating) {
    println!("standard / norme:        {}", vigie_hvm::rating::standard_name(r.standard));
    println!("normalised / normalisé:  {}", r.normalised);
    println!("vehicle / véhicule:      {} ({} kg)", r.vehicle_class, r.mass_kg);
    match r.speed_mph {
        Some(mph) => println!("speed / vitesse:         {:.1} km/h ({mph} mph)", r.speed_kmh),
        None => println!("speed / vitesse:         {} km/h", r.speed_kmh),
    }
    println!("angle:                   {}°", r.angle_deg);
    let penetration = match (r.penetration_m, &r.penetration_class) {
        (Some(p), Some(c)) => format!("{c}: ≤ {p:.2} m"),
        (Some(p), None) => format!("{p} m"),
        (None, _) => "unknown / inconnue".into(),
    };
    println!("penetration / pénétration: {penetration}");
    if let Some(d) = r.debris_m {
        println!("debris / dispersion:     {d} m");
    }
    if let Some(f) = &r.foundation {
        println!("foundation / fondation:  {f}");
    }
    print_warnings(r);
}

fn print_warnings(r: &Rating) {
    for w in &r.warnings {
        println!("warning / avertissement [{}]: {} / {}", w.code, w.en, w.fr);
    }
}

fn print_vda(result: &VdaResult, classes: &[VehicleClass]) {
    if result.access_points.is_empty() {
        println!(
            "No access point: no drivable way enters the site. / Aucun point d'accès : aucune voie carrossable n'entre sur le site."
        );
    }
    let header: Vec<String> = classes.iter().map(|c| format!("{:>7}", c.key)).collect();
    println!(
        "{:5} {:>11} {:>10} {:12} {}   (impact speed km/h / vitesse d'impact)",
        "AP",
        "lon",
        "lat",
        "highway",
        header.join("")
    );
    for ap in &result.access_points {
        let speeds: Vec<String> = classes
            .iter()
            .map(|c| {
                ap.vehicles.get(&c.key).map(|i| format!("{:7.1}", i.speed_kmh)).unwrap_or_else(|| format!("{:>7}", "-"))
            })
            .collect();
        println!("{:5} {:11.6} {:10.6} {:12} {}", ap.id, ap.lon, ap.lat, ap.highway, speeds.join(""));
    }
    if !result.assumed_barriers.is_empty() {
        println!("Barriers relied on (OSM, no crash rating) / barrières supposées (OSM, sans classement) :");
        for b in &result.assumed_barriers {
            println!(
                "  node {} {} {} ({:.6}, {:.6})",
                b.osm_node,
                b.barrier,
                b.bollard.as_deref().unwrap_or(""),
                b.lon,
                b.lat
            );
        }
    }
}
