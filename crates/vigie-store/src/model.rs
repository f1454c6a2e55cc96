//! Rows as the rest of Vigie sees them.
use std::collections::BTreeMap;

use serde::Serialize;
use vigie_domain::access::{OrgKind, Role};
use vigie_domain::geometry::BoundingBox;
use vigie_domain::site::{SiteCategory, ValidSite};

/// Who writes, and when: every write is audited with it.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub at_ms: i64,
    /// A user id, or `cli` / `system`.
    pub actor: String,
    pub actor_org: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub created_at_ms: i64,
}

pub struct NewUser {
    pub email: String,
    pub org_id: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub org_id: String,
    pub role: Role,
    pub created_at_ms: i64,
}

/// A user with the password hash, for login only. `Debug` hides the hash.
pub struct UserWithSecret {
    pub user: User,
    pub password_hash: String,
}

impl std::fmt::Debug for UserWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithSecret").field("user", &self.user).field("password_hash", &"***").finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// A validated site and where it came from (`osm:way/123`, for re-imports).
#[derive(Debug, Clone)]
pub struct NewSite {
    pub site: ValidSite,
    pub source_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub category: SiteCategory,
    pub geometry: serde_json::Value,
    pub area_m2: f64,
    pub address: Option<String>,
    pub peak_occupancy: Option<u32>,
    pub tags: BTreeMap<String, String>,
    pub source_ref: Option<String>,
    /// Increases with every change; clients send it back to detect concurrent edits.
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// `None`: every organisation (admins); `Some`: only these.
    pub orgs: Option<Vec<String>>,
    pub category: Option<SiteCategory>,
    pub bbox: Option<BoundingBox>,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SitePage {
    pub items: Vec<Site>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportOutcome {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Sites edited by a person since they were imported: left as they are.
    pub locally_edited: u64,
    /// Ids of the sites created and changed, for the audit log.
    pub created: Vec<String>,
    pub changed: Vec<String>,
}

pub struct NewHvmStudy {
    pub site_id: String,
    pub org_id: String,
    /// Version of the vehicle classes the study used.
    pub vehicles_version: String,
    /// Which street network it ran on (file name of the extract).
    pub network: String,
    pub result: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
