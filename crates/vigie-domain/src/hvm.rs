//! Hostile-vehicle studies as stored and shown.

/// A vehicle dynamics study of a site, kept with it. `result` is the study as
/// `vigie_hvm::analyse_site` computed it (access points, impact speeds, critical paths): a
/// document the API hands on as it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HvmStudy {
    pub id: String,
    pub site_id: String,
    pub org_id: String,
    pub created_at_ms: i64,
    pub created_by: String,
    pub vehicles_version: String,
    pub network: String,
    pub result: serde_json::Value,
}
