//! Hostile-vehicle studies of a site on the server's street network, and barrier advice.
//! Both say where a site is weak: reads are audited.
use std::sync::Arc;

use serde_json::json;
use vigie_domain::SiteId;
use vigie_domain::access::Principal;
use vigie_store::{HvmStudy, NewHvmStudy, Site};

use crate::{App, Code, Failure, HvmNetwork, Result, blocking};

/// What a study asks for: vehicle classes (keys such as `M1`, `N3C`; default every class) and
/// the side friction factor (default 0.6).
#[derive(Debug, Clone, Default)]
pub struct StudyRequest {
    pub vehicles: Option<Vec<String>>,
    pub friction: Option<f64>,
}

/// Barrier advice: the catalogue (CSV with the header
/// manufacturer,product,standard,rating,foundation,width) and the study's parameters.
#[derive(Debug, Clone, Default)]
pub struct RecommendationRequest {
    pub catalogue_csv: String,
    /// Room behind the line for the barrier's penetration and debris, in metres.
    pub standoff_m: Option<f64>,
    /// How far before an access point a bend or chicane is considered, in metres (default 20).
    pub bend_distance_m: Option<f64>,
    pub study: StudyRequest,
}

/// The vehicle classes and dynamics a request asks for, checked.
fn setup(
    network: &HvmNetwork,
    request: &StudyRequest,
) -> Result<(Vec<vigie_hvm::VehicleClass>, vigie_hvm::DynamicsParams)> {
    let classes = match &request.vehicles {
        Some(keys) => {
            keys.iter().map(|k| network.vehicles.get(k).cloned()).collect::<std::result::Result<Vec<_>, _>>()?
        }
        None => network.vehicles.classes.clone(),
    };
    if classes.is_empty() {
        return Err(Failure::new(Code::HvmParameterInvalid, "name at least one vehicle class"));
    }
    let mut params = vigie_hvm::DynamicsParams::default();
    if let Some(friction) = request.friction {
        if !(0.1..=1.5).contains(&friction) {
            return Err(Failure::new(
                Code::HvmParameterInvalid,
                "friction must lie between 0.1 and 1.5 (0.6 on normal roads, 1.0 as the conservative bound)",
            ));
        }
        params.friction = friction;
    }
    Ok((classes, params))
}

/// The dynamics are CPU work: they run off the async workers.
async fn analyse(
    network: &Arc<HvmNetwork>,
    site: &Site,
    classes: Vec<vigie_hvm::VehicleClass>,
    params: vigie_hvm::DynamicsParams,
) -> Result<vigie_hvm::VdaResult> {
    let geometry = vigie_domain::geometry::SiteGeometry::from_geojson(&site.geometry)?;
    let worker = network.clone();
    blocking(move || vigie_hvm::analyse_site(&worker.graph, &geometry, &classes, &params)).await
}

impl App {
    fn hvm_network(&self) -> Result<Arc<HvmNetwork>> {
        self.hvm.clone().ok_or_else(|| {
            Failure::new(
                Code::HvmNetworkMissing,
                "this server has no street network loaded; start it with --osm FILE.osm.pbf",
            )
        })
    }

    /// Runs a vehicle dynamics assessment of the site on the server's street network and keeps
    /// it with the site.
    pub async fn run_hvm_study(&self, caller: &Principal, site_id: &SiteId, request: StudyRequest) -> Result<HvmStudy> {
        let site = self.readable_site(caller, site_id).await?;
        if !caller.can_write_org(&site.org_id) {
            return Err(Failure::forbidden("you may read this site but not add studies to it"));
        }
        let network = self.hvm_network()?;
        let (classes, params) = setup(&network, &request)?;
        let result = analyse(&network, &site, classes, params).await?;
        let study = NewHvmStudy {
            site_id: site.id.clone(),
            org_id: site.org_id.clone(),
            vehicles_version: network.vehicles.version.clone(),
            network: network.name.clone(),
            result: serde_json::to_value(result).map_err(|_| Failure::internal())?,
        };
        Ok(self.store.create_hvm_study(&self.write_context(caller), &study).await?)
    }

    /// The site's latest study, if it has one.
    pub async fn latest_hvm_study(&self, caller: &Principal, site_id: &SiteId) -> Result<Option<HvmStudy>> {
        let site = self.readable_site(caller, site_id).await?;
        self.latest_study_of(caller, &site).await
    }

    /// A site and its latest vehicle study, both audited as read (the site page), with one
    /// read of the site.
    pub async fn site_with_latest_study(
        &self,
        caller: &Principal,
        site_id: &SiteId,
    ) -> Result<(Site, Option<HvmStudy>)> {
        let site = self.site(caller, site_id).await?;
        let study = self.latest_study_of(caller, &site).await?;
        Ok((site, study))
    }

    /// The latest study of a site the caller was allowed to read.
    async fn latest_study_of(&self, caller: &Principal, site: &Site) -> Result<Option<HvmStudy>> {
        let study = self.store.latest_hvm_study(&site.id).await?;
        if let Some(study) = &study {
            self.audit_read(caller, "hvm_study", Some(&study.id), json!({"site_id": site.id})).await?;
        }
        Ok(study)
    }

    /// For each access point of the site: the minimum rating, the catalogue's products that
    /// cover it, and the bends that would bring the speed down to a lower test speed. Computed
    /// afresh on the street network; a read of the site's weak points, so audited.
    pub async fn hvm_recommendation(
        &self,
        caller: &Principal,
        site_id: &SiteId,
        request: RecommendationRequest,
    ) -> Result<vigie_hvm::Recommendation> {
        let site = self.readable_site(caller, site_id).await?;
        let catalogue = vigie_hvm::Catalogue::from_csv(&request.catalogue_csv)?;
        let mut advice = vigie_hvm::RecommendParams::default();
        for (name, value) in [("standoff_m", request.standoff_m), ("bend_distance_m", request.bend_distance_m)] {
            if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
                return Err(Failure::new(
                    Code::HvmParameterInvalid,
                    format!("{name} must be zero or a positive number of metres"),
                ));
            }
        }
        advice.standoff_m = request.standoff_m;
        advice.bend_distance_m = request.bend_distance_m.unwrap_or(advice.bend_distance_m);
        let network = self.hvm_network()?;
        let (classes, params) = setup(&network, &request.study)?;
        let result = analyse(&network, &site, classes.clone(), params.clone()).await?;
        let recommendation = vigie_hvm::recommend(&result, &catalogue, &classes, &params, &advice);
        self.audit_read(
            caller,
            "hvm_recommendation",
            Some(&site.id),
            json!({"org_id": site.org_id, "products": catalogue.products.len()}),
        )
        .await?;
        Ok(recommendation)
    }
}

/// The barrier catalogue this server answers from on the site page: its products and where
/// it came from (shown beside the advice).
#[derive(Debug, Clone)]
pub struct BarrierCatalogue {
    pub name: String,
    pub catalogue: vigie_hvm::Catalogue,
}

/// What the catalogue offers against one threat of a study.
#[derive(Debug, Clone)]
pub struct BarrierAdvice {
    pub access_point: String,
    pub vehicle_class: String,
    pub requirement: vigie_hvm::Requirement,
}

impl App {
    pub fn with_barrier_catalogue(mut self, catalogue: BarrierCatalogue) -> Self {
        self.barrier_catalogue = Some(Arc::new(catalogue));
        self
    }

    pub fn barrier_catalogue(&self) -> Option<&BarrierCatalogue> {
        self.barrier_catalogue.as_deref()
    }

    /// For each access point and vehicle class of a stored study the caller has read: the
    /// minimum rating and the server catalogue's products that cover it, from the speeds and
    /// the vehicle classes the study kept. `None` when the server has no catalogue.
    pub fn study_barriers(&self, study: &HvmStudy) -> Option<Vec<BarrierAdvice>> {
        let catalogue = &self.barrier_catalogue.as_ref()?.catalogue;
        let model = study.result.get("model")?;
        let classes: Vec<vigie_hvm::VehicleClass> = serde_json::from_value(model.get("vehicles")?.clone()).ok()?;
        // The study's own friction and gravity, for the bends that would slow a vehicle.
        let dynamics: vigie_hvm::DynamicsParams = serde_json::from_value(model.clone()).ok()?;
        let params = vigie_hvm::RecommendParams::default();
        let mut advice = Vec::new();
        for ap in study.result.get("access_points")?.as_array()? {
            let Some(id) = ap.get("id").and_then(serde_json::Value::as_str) else { continue };
            let Some(vehicles) = ap.get("vehicles").and_then(serde_json::Value::as_object) else { continue };
            for (key, impact) in vehicles {
                let number = |field: &str| impact.get(field).and_then(serde_json::Value::as_f64);
                let (Some(class), Some(speed), Some(angle)) =
                    (classes.iter().find(|c| &c.key == key), number("speed_kmh"), number("angle_deg"))
                else {
                    continue;
                };
                advice.push(BarrierAdvice {
                    access_point: id.to_owned(),
                    vehicle_class: key.clone(),
                    requirement: vigie_hvm::requirement(class, speed, angle, catalogue, &dynamics, &params),
                });
            }
        }
        Some(advice)
    }
}
