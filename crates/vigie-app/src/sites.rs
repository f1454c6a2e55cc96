//! The registry of public spaces: listing, reading, creating, editing and deleting sites.
//! Reads are audited (a site's existence and outline are protected data); a site the caller
//! may not read is "not found", whether or not it exists.
use serde_json::json;
use vigie_domain::access::{Principal, Role};
use vigie_domain::geometry::{BoundingBox, SiteGeometry};
use vigie_domain::site::{SiteCategory, SiteInput, ValidSite};
use vigie_domain::{DomainError, OrgId, SiteId};
use vigie_store::{MAX_PAGE, NewSite, Site, SiteFilter, SitePage, StoreError};

use crate::{App, Code, Failure, Result};

/// Which sites to list, as a caller asks.
#[derive(Debug, Clone, Default)]
pub struct SiteQuery {
    pub category: Option<String>,
    pub org_id: Option<OrgId>,
    /// `west,south,east,north` in degrees.
    pub bbox: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// A site as a caller sends it to create or edit one. `version`: the one last read (edits).
#[derive(Debug, Clone)]
pub struct SiteDraft {
    pub input: SiteInput,
    pub org_id: Option<OrgId>,
    pub version: Option<i64>,
}

impl App {
    /// Loads a site the caller may read; otherwise "not found", whether or not it exists.
    /// Not audited: callers audit what they show.
    pub(crate) async fn readable_site(&self, caller: &Principal, id: &SiteId) -> Result<Site> {
        match self.store.get_site(id).await? {
            Some(site) if caller.can_read_org(&site.org_id) => Ok(site),
            _ => Err(Failure::not_found("site")),
        }
    }

    /// A page of the sites the caller may read. Asking for an organisation one may not read
    /// yields an empty page, as for one that does not exist.
    pub async fn list_sites(&self, caller: &Principal, query: SiteQuery) -> Result<SitePage> {
        let orgs = match (query.org_id, caller.readable_orgs()) {
            (Some(org), None) => Some(vec![org]),
            (Some(org), Some(readable)) => Some(readable.into_iter().filter(|o| *o == org).collect()),
            (None, readable) => readable,
        };
        let filter = SiteFilter {
            orgs,
            category: query.category.as_deref().map(SiteCategory::from_key).transpose()?,
            bbox: query.bbox.as_deref().map(BoundingBox::parse).transpose()?,
            limit: query.limit.unwrap_or(50),
            offset: query.offset.unwrap_or(0),
        };
        if filter.limit == 0 || filter.limit > MAX_PAGE {
            return Err(DomainError::validation("limit", format!("between 1 and {MAX_PAGE}")).into());
        }
        let page = self.store.list_sites(&filter).await?;
        let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
        self.audit_read(caller, "site", None, json!({"list": ids})).await?;
        Ok(page)
    }

    /// The registry page: sites of `query` whose name, address or nearest streets contain
    /// `text` (any case),
    /// at most `max_shown` of them, and how many matched. Only those shown are audited as read.
    pub async fn find_sites(
        &self,
        caller: &Principal,
        query: SiteQuery,
        text: &str,
        max_shown: usize,
    ) -> Result<(Vec<Site>, usize)> {
        let filter = SiteFilter {
            orgs: caller.readable_orgs(),
            category: query.category.as_deref().filter(|c| !c.is_empty()).map(SiteCategory::from_key).transpose()?,
            bbox: query.bbox.as_deref().filter(|b| !b.is_empty()).map(BoundingBox::parse).transpose()?,
            limit: MAX_PAGE,
            offset: 0,
        };
        let needle = text.trim().to_lowercase();
        let matches = |site: &Site| {
            needle.is_empty()
                || site.name.to_lowercase().contains(&needle)
                || site.address.as_deref().is_some_and(|a| a.to_lowercase().contains(&needle))
                || site.near_streets().iter().any(|street| street.to_lowercase().contains(&needle))
        };
        let mut found: Vec<Site> = self.store.list_sites(&filter).await?.items.into_iter().filter(matches).collect();
        let total = found.len();
        found.truncate(max_shown);
        let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
        self.audit_read(caller, "site", None, json!({"list": ids})).await?;
        Ok((found, total))
    }

    pub async fn site(&self, caller: &Principal, id: &SiteId) -> Result<Site> {
        let site = self.readable_site(caller, id).await?;
        self.audit_read(caller, "site", Some(&site.id), json!({"org_id": site.org_id})).await?;
        Ok(site)
    }

    /// Whether the caller may change the site (edit it, assess it, study it).
    pub fn can_write_site(&self, caller: &Principal, site: &Site) -> bool {
        caller.can_write_org(&site.org_id)
    }

    pub async fn create_site(&self, caller: &Principal, draft: SiteDraft) -> Result<Site> {
        let org_id = draft.org_id.clone().unwrap_or_else(|| caller.org_id.clone());
        // Permission first: geometry checks cost CPU that a caller without rights must not spend.
        if !caller.can_write_org(&org_id) {
            return Err(Failure::forbidden("you may not create sites for this organisation"));
        }
        if self.store.org_by_id(&org_id).await?.is_none() {
            return Err(DomainError::validation("org_id", "no such organisation").into());
        }
        let new = NewSite { site: draft.input.validate()?, source_ref: None };
        Ok(self.store.create_site(&self.write_context(caller), &org_id, &new).await?)
    }

    /// Sites of `org_id` that `sites` look like: the same name, any case, and outlines whose
    /// boxes mostly overlap, from another source (or drawn by hand). `(index in sites, the
    /// existing site)`. Not a use case of its own: imports and site creation warn with it.
    pub(crate) async fn look_alikes(&self, org_id: &OrgId, sites: &[NewSite]) -> Result<Vec<(usize, Site)>> {
        let mut existing = Vec::new();
        loop {
            let filter = SiteFilter {
                orgs: Some(vec![org_id.clone()]),
                limit: vigie_store::MAX_PAGE,
                offset: existing.len() as u64,
                ..Default::default()
            };
            let page = self.store.list_sites(&filter).await?;
            let done = page.items.is_empty() || existing.len() as u64 + page.items.len() as u64 >= page.total;
            existing.extend(page.items);
            if done {
                break;
            }
        }
        let key = |name: &str| name.trim().to_lowercase();
        let mut by_name: std::collections::HashMap<String, Vec<&Site>> = std::collections::HashMap::new();
        for site in &existing {
            by_name.entry(key(&site.name)).or_default().push(site);
        }
        let mut found = Vec::new();
        for (index, new) in sites.iter().enumerate() {
            let Some(same_name) = by_name.get(&key(&new.site.name)) else { continue };
            let Some(new_box) = new.site.geometry.bounding_box() else { continue };
            for old in same_name.iter().filter(|old| old.source_ref.is_none() || old.source_ref != new.source_ref) {
                let old_box = SiteGeometry::from_geojson(&old.geometry).ok().and_then(|g| g.bounding_box());
                if old_box.is_some_and(|b| b.overlap_share(&new_box) > 0.5) {
                    found.push((index, (*old).clone()));
                }
            }
        }
        Ok(found)
    }

    /// Sites of its organisation that a site just made looks like (same name, outlines mostly
    /// overlapping): the page that shows it after creation warns. Audited as a read of them.
    pub async fn look_alikes_of(&self, caller: &Principal, id: &SiteId) -> Result<Vec<Site>> {
        let site = self.readable_site(caller, id).await?;
        let geometry = SiteGeometry::from_geojson(&site.geometry)?;
        let input = ValidSite {
            name: site.name.clone(),
            category: site.category,
            geometry,
            address: None,
            peak_occupancy: None,
            tags: Default::default(),
        };
        let probe = NewSite { site: input, source_ref: site.source_ref.clone() };
        let found: Vec<Site> = self
            .look_alikes(&site.org_id, std::slice::from_ref(&probe))
            .await?
            .into_iter()
            .map(|(_, other)| other)
            .filter(|other| other.id != site.id && caller.can_read_org(&other.org_id))
            .collect();
        if !found.is_empty() {
            let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
            self.audit_read(caller, "site", None, json!({"list": ids, "look_alikes_of": site.id})).await?;
        }
        Ok(found)
    }

    /// Replaces a site's fields. The version the caller edited is required, so that an edit
    /// made from a stale copy is refused (`version_conflict`) instead of overwriting.
    pub async fn update_site(&self, caller: &Principal, id: &SiteId, draft: SiteDraft) -> Result<Site> {
        let current = self.readable_site(caller, id).await?;
        if !caller.can_write_org(&current.org_id) {
            return Err(Failure::forbidden("you may read this site but not change it"));
        }
        let new = NewSite { site: draft.input.validate()?, source_ref: None };
        if draft.org_id.is_some_and(|o| o != current.org_id) {
            return Err(DomainError::validation("org_id", "a site cannot move to another organisation").into());
        }
        let Some(version) = draft.version else {
            return Err(DomainError::validation(
                "version",
                "send the version of the site you edited (field \"version\")",
            )
            .into());
        };
        match self.store.update_site(&self.write_context(caller), id, &new, Some(version)).await {
            Err(StoreError::Conflict(message)) => Err(Failure::new(Code::VersionConflict, message)),
            other => Ok(other?),
        }
    }

    pub async fn delete_site(&self, caller: &Principal, id: &SiteId) -> Result<()> {
        let current = self.readable_site(caller, id).await?;
        if !caller.can_write_org(&current.org_id) || caller.role == Role::Assessor {
            return Err(Failure::forbidden("you may read this site but not delete it"));
        }
        Ok(self.store.delete_site(&self.write_context(caller), id).await?)
    }
}
