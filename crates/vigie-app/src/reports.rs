//! Field reports (operator → authority): filing one, reading and listing under the TLP rule,
//! the authority's triage, and the sightings count the reporter sees ("N other organisations
//! reported something similar nearby"), which says nothing of what or who.
use serde_json::json;
use vigie_domain::access::{Principal, Role};
use vigie_domain::report::{FieldReport, ReportDraft, SightingWindow, TRIAGE_STATES, similar_organisations};
use vigie_domain::sharing::Marking;
use vigie_domain::{CommunityId, DomainError, ReportId};
use vigie_store::{Case, ReportPhoto, ReportWindow};

use crate::{App, Failure, Result};

/// A report as its reader sees it; `similar_nearby` only for its reporter's organisation.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub report: FieldReport,
    pub similar_nearby: Option<usize>,
    pub photos: Vec<ReportPhoto>,
}

impl App {
    /// Files a report; operators, authorities and administrators do.
    pub async fn file_report(&self, caller: &Principal, draft: ReportDraft) -> Result<FieldReport> {
        if !matches!(caller.role, Role::Admin | Role::Authority | Role::Operator) {
            return Err(Failure::forbidden("operators and authorities file reports"));
        }
        draft.check()?;
        if let Some(site) = &draft.site_id {
            self.readable_site(caller, site)
                .await
                .map_err(|_| DomainError::validation("site_id", format!("no site {site} you may read")))?;
        }
        let mut draft = draft;
        self.resolve_recipients(caller, draft.marking, &mut draft.recipients).await?;
        let report = FieldReport {
            id: ReportId::from(crate::secrets::random_id()),
            author: caller.user_id.clone(),
            author_org: caller.org_id.clone(),
            created_at_ms: self.now_ms(),
            status: "new".into(),
            draft,
        };
        self.store.create_report(&self.write_context(caller), &report).await?;
        Ok(report)
    }

    /// The reports the caller may read, newest first; audited.
    pub async fn reports(&self, caller: &Principal) -> Result<Vec<FieldReport>> {
        let communities = self.member_communities(caller).await?;
        let found: Vec<FieldReport> = self
            .store
            .reports_for(&caller.user_id, &caller.org_id, &communities, crate::bulletins::MAX_LISTED)
            .await?
            .into_iter()
            .filter(|r| readable(caller, r, &communities))
            .collect();
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        self.audit_read(caller, "field_report", None, json!({"list": ids})).await?;
        Ok(found)
    }

    /// One report; its reporter's organisation also learns how many other organisations
    /// reported something similar nearby (TLP:RED reports count only for their readers).
    pub async fn report(&self, caller: &Principal, id: &ReportId) -> Result<ReportView> {
        let communities = self.member_communities(caller).await?;
        let report = self.readable_report_among(caller, id, &communities).await?;
        self.audit_read(caller, "field_report", Some(id.as_str()), json!({"marking": report.draft.marking.label()}))
            .await?;
        let similar_nearby = if report.author_org == caller.org_id {
            // Its reporter has now seen its status: the inbox stops counting the change.
            self.store.mark_report_seen(&report.id, self.now_ms()).await?;
            Some(self.similar_nearby(caller, &report, &communities).await?)
        } else {
            None
        };
        let photos = self.store.report_photos(&report.id).await?;
        Ok(ReportView { report, similar_nearby, photos })
    }

    /// The report, if the caller may read it; else the 404 of a missing one.
    pub(crate) async fn readable_report(&self, caller: &Principal, id: &ReportId) -> Result<FieldReport> {
        let communities = self.member_communities(caller).await?;
        self.readable_report_among(caller, id, &communities).await
    }

    async fn readable_report_among(
        &self,
        caller: &Principal,
        id: &ReportId,
        communities: &[CommunityId],
    ) -> Result<FieldReport> {
        let report = self.store.report(id).await?.filter(|r| readable(caller, r, communities));
        report.ok_or_else(|| Failure::not_found("field report"))
    }

    async fn similar_nearby(
        &self,
        caller: &Principal,
        report: &FieldReport,
        communities: &[CommunityId],
    ) -> Result<usize> {
        let window = SightingWindow::default();
        let d = &report.draft;
        // A box a little larger than the window's radius, in degrees at this latitude.
        let dlat = window.max_distance_m / 111_320.0 * 1.1;
        let dlon = dlat / d.lat.to_radians().cos().max(0.01);
        let candidates = self
            .store
            .reports_in(&ReportWindow {
                west: d.lon - dlon,
                south: d.lat - dlat,
                east: d.lon + dlon,
                north: d.lat + dlat,
                from_ms: d.observed_at_ms - window.max_interval_ms,
                to_ms: d.observed_at_ms + window.max_interval_ms,
            })
            .await?;
        let others: Vec<_> = candidates
            .iter()
            .filter(|r| r.id != report.id)
            .map(|r| {
                let counted = r.draft.marking != Marking::Red || readable(caller, r, communities);
                (r.author_org.clone(), r.draft.lon, r.draft.lat, r.draft.observed_at_ms, counted)
            })
            .collect();
        Ok(similar_organisations((d.lon, d.lat, d.observed_at_ms), &report.author_org, &others, &window))
    }

    /// Adds a photo to a report of the caller's organisation, cleaned like an assessment's:
    /// metadata and position removed (the report carries its own place).
    pub async fn add_report_photo(&self, caller: &Principal, id: &ReportId, bytes: Vec<u8>) -> Result<ReportPhoto> {
        let report = self.readable_report(caller, id).await?;
        if report.author_org != caller.org_id || !matches!(caller.role, Role::Admin | Role::Authority | Role::Operator)
        {
            return Err(Failure::forbidden("the reporting organisation adds the photos of its report"));
        }
        if bytes.len() > crate::assessments::MAX_PHOTO_BYTES {
            return Err(DomainError::validation("photo", "a photo may be at most 10 MB").into());
        }
        let clean = crate::blocking(move || vigie_domain::photo::clean(&bytes, false)).await??;
        Ok(self
            .store
            .add_report_photo(&self.write_context(caller), &report.id, clean.content_type, &clean.bytes)
            .await?)
    }

    /// The photos of reports the caller has just been given by [`App::reports`] (what is not
    /// readable is dropped again), by report.
    pub async fn photos_of(
        &self,
        caller: &Principal,
        reports: &[FieldReport],
    ) -> Result<std::collections::HashMap<ReportId, Vec<ReportPhoto>>> {
        let communities = self.member_communities(caller).await?;
        let ids: Vec<ReportId> =
            reports.iter().filter(|r| readable(caller, r, &communities)).map(|r| r.id.clone()).collect();
        let mut by_report: std::collections::HashMap<ReportId, Vec<ReportPhoto>> = std::collections::HashMap::new();
        for photo in self.store.photos_of_reports(&ids).await? {
            by_report.entry(photo.report_id.clone()).or_default().push(photo);
        }
        Ok(by_report)
    }

    /// A photo of a report the caller may read; audited like the report.
    pub async fn report_photo(
        &self,
        caller: &Principal,
        report: &ReportId,
        photo: &str,
    ) -> Result<(ReportPhoto, Vec<u8>)> {
        let communities = self.member_communities(caller).await?;
        let readable_report = self.store.report(report).await?.filter(|r| readable(caller, r, &communities));
        let found = self.store.report_photo(photo).await?.filter(|p| &p.report_id == report);
        let (Some(r), Some(photo)) = (readable_report, found) else { return Err(Failure::not_found("photo")) };
        let bytes = self.store.report_photo_bytes(&photo).await?;
        self.audit_read(
            caller,
            "field_report_photo",
            Some(&photo.id),
            json!({"report_id": r.id, "marking": r.draft.marking.label()}),
        )
        .await?;
        Ok((photo, bytes))
    }

    /// An authority opens a case and links reports it received into it (they become `linked`).
    pub async fn create_case(&self, caller: &Principal, title: &str, reports: &[ReportId]) -> Result<Case> {
        if !matches!(caller.role, Role::Admin | Role::Authority) {
            return Err(Failure::forbidden("authorities keep cases"));
        }
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
            return Err(DomainError::validation("title", "a case needs a title of 1 to 200 characters").into());
        }
        self.check_linkable(caller, reports).await?;
        let mut case = self.store.create_case(&self.write_context(caller), &caller.org_id, title).await?;
        if !reports.is_empty() {
            self.store.link_reports(&self.write_context(caller), &case.id, reports).await?;
            case.report_ids = reports.to_vec();
        }
        Ok(case)
    }

    /// Links more reports into one of the caller's organisation's cases.
    pub async fn link_to_case(&self, caller: &Principal, case_id: &str, reports: &[ReportId]) -> Result<Case> {
        if !matches!(caller.role, Role::Admin | Role::Authority) {
            return Err(Failure::forbidden("authorities keep cases"));
        }
        let cases = self.store.cases_of(&caller.org_id).await?;
        let Some(mut case) = cases.into_iter().find(|c| c.id == case_id) else {
            return Err(Failure::not_found("case"));
        };
        self.check_linkable(caller, reports).await?;
        self.store.link_reports(&self.write_context(caller), case_id, reports).await?;
        for report in reports {
            if !case.report_ids.contains(report) {
                case.report_ids.push(report.clone());
            }
        }
        Ok(case)
    }

    /// The caller's organisation's cases; audited.
    pub async fn cases(&self, caller: &Principal) -> Result<Vec<Case>> {
        if !matches!(caller.role, Role::Admin | Role::Authority) {
            return Ok(Vec::new());
        }
        let cases = self.store.cases_of(&caller.org_id).await?;
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        self.audit_read(caller, "case", None, json!({"list": ids})).await?;
        Ok(cases)
    }

    /// A report goes into a case only if the caller reads it and it was sent to its organisation.
    async fn check_linkable(&self, caller: &Principal, reports: &[ReportId]) -> Result<()> {
        let communities = self.member_communities(caller).await?;
        for id in reports {
            let report = self.store.report(id).await?.filter(|r| readable(caller, r, &communities));
            let received = report.is_some_and(|r| r.draft.recipients.orgs.contains(&caller.org_id));
            if !received {
                return Err(
                    DomainError::validation("report_ids", format!("no report {id} sent to your organisation")).into()
                );
            }
        }
        Ok(())
    }

    /// An authority that received a report moves it through triage.
    pub async fn triage_report(&self, caller: &Principal, id: &ReportId, status: &str) -> Result<()> {
        let report = self.readable_report(caller, id).await?;
        if !TRIAGE_STATES.contains(&status) {
            return Err(DomainError::validation(
                "status",
                format!("'{status}' is not one of {}", TRIAGE_STATES.join(", ")),
            )
            .into());
        }
        let recipient = report.draft.recipients.orgs.contains(&caller.org_id);
        if !(matches!(caller.role, Role::Admin | Role::Authority) && recipient) {
            return Err(Failure::forbidden("the authority the report was sent to triages it"));
        }
        Ok(self.store.set_report_status(&self.write_context(caller), id, status).await?)
    }
}

impl App {
    /// The sightings clusters among the reports the caller may read (two organisations or more,
    /// within the window of one another): the authority's view, in full. Each cluster is
    /// reports the caller already reads, so it reveals nothing more.
    pub fn sightings_clusters(reports: &[FieldReport]) -> Vec<Vec<&FieldReport>> {
        let points: Vec<_> =
            reports.iter().map(|r| (&r.author_org, r.draft.lon, r.draft.lat, r.draft.observed_at_ms)).collect();
        vigie_domain::report::sightings_clusters(&points, &SightingWindow::default())
            .into_iter()
            .map(|members| members.into_iter().filter_map(|i| reports.get(i)).collect())
            .collect()
    }

    /// The organisations the caller may address a report or a bulletin to: those it reads,
    /// the authorities that oversee it, and the members of its communities.
    pub async fn addressable_organisations(&self, caller: &Principal) -> Result<Vec<vigie_domain::access::Org>> {
        let mut wanted: std::collections::BTreeSet<vigie_domain::OrgId> = std::collections::BTreeSet::new();
        for (authority, overseen) in self.store.oversight_links().await? {
            if overseen == caller.org_id {
                wanted.insert(authority);
            }
        }
        for community in self.member_communities(caller).await? {
            let members = self.store.community_members(&community).await?;
            wanted.extend(
                members
                    .into_iter()
                    .filter(|m| m.state == vigie_domain::sharing::MembershipState::Member)
                    .map(|m| m.org_id),
            );
        }
        let all = self.store.list_orgs().await?;
        Ok(all.into_iter().filter(|o| caller.can_read_org(&o.id) || wanted.contains(&o.id)).collect())
    }

    /// The people the caller may name under TLP:RED: the active users of `addressable` (the
    /// organisations it may address, [`App::addressable_organisations`], its own included),
    /// with their organisation's name; not the caller, who reads what they write anyway.
    pub async fn addressable_people(
        &self,
        caller: &Principal,
        addressable: &[vigie_domain::access::Org],
    ) -> Result<Vec<(vigie_domain::access::User, String)>> {
        let orgs: std::collections::HashMap<&vigie_domain::OrgId, &str> =
            addressable.iter().map(|o| (&o.id, o.name.as_str())).collect();
        Ok(self
            .store
            .list_users(None)
            .await?
            .into_iter()
            .filter(|u| u.id != caller.user_id && u.disabled_at_ms.is_none())
            .filter_map(|u| {
                let name = orgs.get(&u.org_id)?.to_string();
                Some((u, name))
            })
            .collect())
    }
}

fn readable(caller: &Principal, report: &FieldReport, communities: &[CommunityId]) -> bool {
    crate::bulletins::reads(caller, communities, &report.shared())
}
