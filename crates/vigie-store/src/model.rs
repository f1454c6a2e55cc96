//! Rows as the rest of Vigie sees them.
use serde::Serialize;
use vigie_domain::access::Role;
pub use vigie_domain::access::{ApiToken, Org, User};
use vigie_domain::geometry::BoundingBox;
pub use vigie_domain::hvm::HvmStudy;
pub use vigie_domain::site::Site;
use vigie_domain::site::{SiteCategory, ValidSite};
use vigie_domain::{OrgId, SiteId};

/// Who writes, and when: every write is audited with it.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub at_ms: i64,
    /// A user id, or `cli` / `system`.
    pub actor: String,
    pub actor_org: Option<OrgId>,
}

pub struct NewUser {
    pub email: String,
    pub org_id: OrgId,
    pub role: Role,
    pub password_hash: String,
}

/// A user with the password hash and second-factor secret, for signing in only. `Debug`
/// hides both.
pub struct UserWithSecret {
    pub user: User,
    pub password_hash: String,
    /// The TOTP secret (base32), when the user has set up a second factor.
    pub totp_secret: Option<String>,
}

impl std::fmt::Debug for UserWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithSecret").field("user", &self.user).field("password_hash", &"***").finish()
    }
}

/// What an administrator changes on an account.
#[derive(Debug, Clone, Copy)]
pub struct UserChange {
    pub role: Role,
    pub disabled: bool,
    pub manages_org: bool,
}

/// A validated site and where it came from (`osm:way/123`, for re-imports).
#[derive(Debug, Clone)]
pub struct NewSite {
    pub site: ValidSite,
    pub source_ref: Option<String>,
}

pub const MAX_PAGE: u32 = 500;

#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// `None`: every organisation (admins); `Some`: only these.
    pub orgs: Option<Vec<OrgId>>,
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
    pub created: Vec<SiteId>,
    pub changed: Vec<SiteId>,
}

pub struct NewHvmStudy {
    pub site_id: SiteId,
    pub org_id: OrgId,
    /// Version of the vehicle classes the study used.
    pub vehicles_version: String,
    /// Which street network it ran on (file name of the extract).
    pub network: String,
    pub result: serde_json::Value,
}
