//! Threat levels and what follows: an authority sets the level for its jurisdiction (its own
//! organisation and those it oversees) or a polygon of it; every site there is scored with the
//! level in force, and the methodology's measures for that level become a checklist in the
//! site's action plan. Lowering the level closes what no longer applies.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use vigie_domain::access::{Principal, Role};
use vigie_domain::assessment::{ActionStatus, AssessmentStatus};
use vigie_domain::geometry::SiteGeometry;
use vigie_domain::site::Lang;
use vigie_domain::threat_level::{ThreatLevel, ThreatLevelDraft, level_in_force};
use vigie_domain::{OrgId, SiteId, ThreatLevelId};
use vigie_store::{Action, ActionFields, Assessment, Checklist, ChecklistItem, Site, SiteFilter};

use crate::{App, Failure, Result};

/// Sites read per query when walking a jurisdiction.
const SITE_PAGE: u32 = 1_000;

/// Every decision with its area read once, and who oversees whom: enough to say which
/// decisions cover a site.
pub(crate) struct Decisions {
    levels: Vec<(ThreatLevel, Option<SiteGeometry>)>,
    jurisdictions: BTreeMap<OrgId, BTreeSet<OrgId>>,
}

impl Decisions {
    fn covering<'a>(&'a self, site_org: &OrgId, point: Option<(f64, f64)>) -> impl Iterator<Item = &'a ThreatLevel> {
        let site_org = site_org.clone();
        self.levels
            .iter()
            .filter(move |(level, shape)| {
                let in_jurisdiction = level.org_id == site_org
                    || self.jurisdictions.get(&level.org_id).is_some_and(|orgs| orgs.contains(&site_org));
                let in_area = match (shape, point) {
                    (None, _) => true,
                    (Some(shape), Some((lon, lat))) => shape.contains_point(lon, lat),
                    (Some(_), None) => false,
                };
                in_jurisdiction && in_area
            })
            .map(|(level, _)| level)
    }

    /// The level in force at a site at `at_ms`.
    pub(crate) fn in_force(&self, site: &Site, at_ms: i64) -> Option<&ThreatLevel> {
        level_in_force(self.covering(&site.org_id, site_point(site)), at_ms)
    }

    fn push(&mut self, level: ThreatLevel, shape: Option<SiteGeometry>) {
        self.levels.push((level, shape));
    }
}

fn site_point(site: &Site) -> Option<(f64, f64)> {
    SiteGeometry::from_geojson(&site.geometry).ok().and_then(|g| g.inner_point())
}

/// What a level change did.
#[derive(Debug, Clone)]
pub struct LevelChange {
    pub level: ThreatLevel,
    /// Sites of the jurisdiction in the area.
    pub sites: usize,
    pub actions_created: usize,
    pub actions_closed: usize,
    /// Sites in the area with no assessment, hence no action plan to hold the checklist.
    pub sites_without_plan: Vec<SiteId>,
}

impl LevelChange {
    pub fn to_json(&self) -> Value {
        let mut value = self.level.to_json();
        value["sites"] = json!(self.sites);
        value["actions_created"] = json!(self.actions_created);
        value["actions_closed"] = json!(self.actions_closed);
        value["sites_without_plan"] = json!(self.sites_without_plan);
        value
    }
}

/// A site's checklist: the level in force there and how far its actions have got.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteChecklist {
    pub site_id: SiteId,
    pub site_name: String,
    pub org_id: OrgId,
    pub level: u8,
    pub threat_level_id: ThreatLevelId,
    pub total: usize,
    pub done: usize,
    pub in_progress: usize,
    pub open: usize,
    pub percent_done: Option<usize>,
}

/// The decisions the caller may read and, site by site, the checklist progress of the sites
/// it may read where a level is in force.
#[derive(Debug, Clone)]
pub struct ThreatLevelsView {
    pub levels: Vec<ThreatLevel>,
    pub sites: Vec<SiteChecklist>,
}

impl App {
    pub(crate) async fn decisions(&self) -> Result<Decisions> {
        let mut jurisdictions: BTreeMap<OrgId, BTreeSet<OrgId>> = BTreeMap::new();
        for (authority, overseen) in self.store.oversight_links().await? {
            jurisdictions.entry(authority).or_default().insert(overseen);
        }
        let levels = self
            .store
            .threat_levels()
            .await?
            .into_iter()
            .map(|level| {
                // Stored areas were checked when they were set.
                let shape = level.draft.area.as_ref().and_then(|a| SiteGeometry::warning_area(a).ok());
                (level, shape)
            })
            .collect();
        Ok(Decisions { levels, jurisdictions })
    }

    /// The level in force at a site now, if an authority set one.
    pub(crate) async fn level_in_force_at(&self, site_id: &SiteId) -> Result<Option<ThreatLevel>> {
        let Some(site) = self.store.get_site(site_id).await? else { return Ok(None) };
        Ok(self.decisions().await?.in_force(&site, self.now_ms()).cloned())
    }

    /// An authority sets the level for its jurisdiction or a polygon of it. The sites there get
    /// the checklist of the level in force once it takes effect (created now, due on that day),
    /// their validated risk summaries move with it, and pending checklist actions that no
    /// longer apply are closed. `lang` is the language of the actions' titles.
    pub async fn set_threat_level(
        &self,
        caller: &Principal,
        draft: ThreatLevelDraft,
        lang: Lang,
    ) -> Result<LevelChange> {
        if caller.role != Role::Authority {
            return Err(Failure::forbidden("authorities set threat levels"));
        }
        let shape = draft.check()?;
        let level = ThreatLevel {
            id: ThreatLevelId::from(crate::secrets::random_id()),
            org_id: caller.org_id.clone(),
            set_by: caller.user_id.clone(),
            created_at_ms: self.now_ms(),
            draft,
        };
        let mut decisions = self.decisions().await?;
        decisions.push(level.clone(), shape.clone());
        let at = level.draft.effective_ms.max(self.now_ms());
        let jurisdiction: Vec<OrgId> =
            std::iter::once(caller.org_id.clone()).chain(caller.overseen_orgs.iter().cloned()).collect();
        let sites = self.sites_of(Some(jurisdiction.clone()), shape.as_ref()).await?;
        let sites: Vec<Site> = sites
            .into_iter()
            .filter(|s| match (&shape, site_point(s)) {
                (None, _) => true,
                (Some(shape), Some((lon, lat))) => shape.contains_point(lon, lat),
                (Some(_), None) => false,
            })
            .collect();
        let existing = self.store.checklist_actions(Some(&jurisdiction)).await?;
        let mut checklist = Checklist::default();
        let mut without_plan = Vec::new();
        let effective = vigie_domain::bulletin::rfc3339(level.draft.effective_ms);
        let due_date = effective.get(..10).unwrap_or_default().to_owned();
        for site in &sites {
            let Some(in_force) = decisions.in_force(site, at) else { continue };
            let plan = self.plan_holder(&site.id).await?;
            let Some(plan) = plan else {
                without_plan.push(site.id.clone());
                continue;
            };
            let m = crate::assessments::pinned_methodology(&plan)?;
            let wanted: Vec<_> = m.posture(in_force.draft.level, site.category);
            let plan_actions = self.store.assessment_actions(&plan.id).await?;
            let present: BTreeSet<&str> = plan_actions
                .iter()
                .filter(|a| a.fields.status != ActionStatus::Cancelled)
                .filter_map(|a| a.fields.measure_id.as_deref())
                .collect();
            for (question, measure) in &wanted {
                if present.contains(measure.id.as_str()) {
                    continue;
                }
                checklist.create.push(ChecklistItem {
                    assessment_id: plan.id.clone(),
                    site_id: site.id.clone(),
                    org_id: site.org_id.clone(),
                    fields: ActionFields {
                        title: match lang {
                            Lang::Fr => measure.fr.clone(),
                            Lang::En => measure.en.clone(),
                        },
                        owner: None,
                        owner_user_id: None,
                        due_date: Some(due_date.clone()),
                        status: ActionStatus::Open,
                        evidence: None,
                        question_id: Some(question.id.clone()),
                        scenario_id: None,
                        measure_id: Some(measure.id.clone()),
                    },
                });
            }
            let wanted_ids: BTreeSet<&str> = wanted.iter().map(|(_, m)| m.id.as_str()).collect();
            let closing = match lang {
                Lang::Fr => {
                    format!("Niveau de menace abaissé à {} : la mesure ne s'applique plus.", in_force.draft.level)
                }
                Lang::En => format!("Threat level lowered to {}: the measure no longer applies.", in_force.draft.level),
            };
            for action in existing.iter().filter(|a| a.site_id == site.id && a.fields.status.is_pending()) {
                let applies = action.fields.measure_id.as_deref().is_some_and(|m| wanted_ids.contains(m));
                if !applies {
                    checklist.close.push((action.id.clone(), closing.clone()));
                }
            }
            if level.draft.effective_ms <= self.now_ms()
                && let Some(validated) = self.latest_validated(&site.id).await?
            {
                let summary = self.rescored_summary(&validated, in_force.draft.level).await?;
                checklist.rescored.push((validated.id.clone(), summary));
            }
        }
        self.store.set_threat_level(&self.write_context(caller), &level, &checklist).await?;
        Ok(LevelChange {
            sites: sites.len(),
            actions_created: checklist.create.len(),
            actions_closed: checklist.close.len(),
            sites_without_plan: without_plan,
            level,
        })
    }

    /// The decisions the caller may read (its organisation's, and those of the authorities
    /// overseeing it) and the checklist progress of the readable sites where a level is in
    /// force; audited.
    pub async fn threat_levels(&self, caller: &Principal) -> Result<ThreatLevelsView> {
        let decisions = self.decisions().await?;
        let overseers: BTreeSet<&OrgId> = decisions
            .jurisdictions
            .iter()
            .filter(|(_, overseen)| overseen.contains(&caller.org_id))
            .map(|(authority, _)| authority)
            .collect();
        let levels: Vec<ThreatLevel> = decisions
            .levels
            .iter()
            .map(|(level, _)| level)
            .filter(|l| caller.is_admin() || l.org_id == caller.org_id || overseers.contains(&l.org_id))
            .rev()
            .cloned()
            .collect();
        let readable = caller.readable_orgs();
        // Every page of the dashboard asks: with no decision anywhere, no site needs walking.
        if decisions.levels.is_empty() {
            self.audit_read(caller, "threat_level", None, json!({"list": [], "sites": 0})).await?;
            return Ok(ThreatLevelsView { levels, sites: Vec::new() });
        }
        let actions = self.store.checklist_actions(readable.as_deref()).await?;
        let mut by_site: BTreeMap<&SiteId, Vec<&Action>> = BTreeMap::new();
        for action in &actions {
            by_site.entry(&action.site_id).or_default().push(action);
        }
        let now = self.now_ms();
        let mut sites = Vec::new();
        for site in self.sites_of(readable, None).await? {
            let Some(in_force) = decisions.in_force(&site, now) else { continue };
            let mine = by_site.get(&site.id).map(Vec::as_slice).unwrap_or_default();
            let count = |status: ActionStatus| mine.iter().filter(|a| a.fields.status == status).count();
            let total = mine.len() - count(ActionStatus::Cancelled);
            let done = count(ActionStatus::Done);
            sites.push(SiteChecklist {
                site_id: site.id.clone(),
                site_name: site.name.clone(),
                org_id: site.org_id.clone(),
                level: in_force.draft.level,
                threat_level_id: in_force.id.clone(),
                total,
                done,
                in_progress: count(ActionStatus::InProgress),
                open: count(ActionStatus::Open),
                percent_done: (done * 100 + total / 2).checked_div(total),
            });
        }
        let ids: Vec<&str> = levels.iter().map(|l| l.id.as_str()).collect();
        self.audit_read(caller, "threat_level", None, json!({"list": ids, "sites": sites.len()})).await?;
        Ok(ThreatLevelsView { levels, sites })
    }

    /// Every site of these organisations (all for `None`), within the area's box if any.
    async fn sites_of(&self, orgs: Option<Vec<OrgId>>, area: Option<&SiteGeometry>) -> Result<Vec<Site>> {
        let mut filter = SiteFilter {
            orgs,
            category: None,
            bbox: area.and_then(SiteGeometry::bounding_box),
            limit: SITE_PAGE,
            offset: 0,
        };
        let mut all = Vec::new();
        loop {
            let page = self.store.list_sites(&filter).await?;
            let got = page.items.len();
            all.extend(page.items);
            if got < SITE_PAGE as usize {
                return Ok(all);
            }
            filter.offset += u64::from(SITE_PAGE);
        }
    }

    /// The assessment whose action plan holds a site's checklist: its latest one not archived.
    async fn plan_holder(&self, site: &SiteId) -> Result<Option<Assessment>> {
        let all = self.store.site_assessments(site).await?;
        Ok(all.into_iter().filter(|a| a.status != AssessmentStatus::Archived).max_by_key(|a| a.created_at_ms))
    }

    async fn latest_validated(&self, site: &SiteId) -> Result<Option<Assessment>> {
        let all = self.store.site_assessments(site).await?;
        Ok(all.into_iter().filter(|a| a.status == AssessmentStatus::Validated).max_by_key(|a| a.validated_at_ms))
    }
}
