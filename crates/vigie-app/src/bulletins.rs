//! Threat bulletins: sending (authority → operators, operator → peers), reading, acknowledging,
//! and the author's view of who read and acknowledged. Every read goes through the domain's
//! TLP rule ([`vigie_domain::sharing::may_read`]); a bulletin the caller may not read answers
//! exactly as one that does not exist.
use std::collections::BTreeSet;

use serde_json::json;
use vigie_domain::access::{Principal, Role};
use vigie_domain::bulletin::{Bulletin, BulletinDraft, Receipt};
use vigie_domain::geometry::SiteGeometry;
use vigie_domain::sharing::{Community, Marking, MembershipState, Reader, Recipients, Shared, may_read};
use vigie_domain::site::Lang;
use vigie_domain::threat_level::ThreatLevelDraft;
use vigie_domain::{BulletinId, CommunityId, DomainError, OrgId};
use vigie_store::StoreError;

use crate::{App, Failure, Result};

/// What awaits a user: bulletins to acknowledge (with their organisation's receipt) and
/// community invitations.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub bulletins: Vec<(Bulletin, Receipt)>,
    pub invitations: Vec<Community>,
    /// The organisation's field reports whose status changed: (report, when, seen since).
    pub report_updates: Vec<(vigie_domain::report::FieldReport, i64, bool)>,
    pub unread: usize,
}

/// How many bulletins a list shows at most, newest first.
pub const MAX_LISTED: u32 = 500;
/// How many report status changes the inbox shows.
const REPORT_UPDATES: u32 = 50;

impl App {
    /// Sends a bulletin that announces a threat level, then sets the level with the bulletin's
    /// area, start and title as its reason. Checked first, so that a level an authority may not
    /// set stops the bulletin too; a drill never changes a real level.
    pub async fn send_bulletin_setting_level(
        &self,
        caller: &Principal,
        draft: BulletinDraft,
        level: u8,
        lang: Lang,
    ) -> Result<(Bulletin, crate::threat_levels::LevelChange)> {
        if caller.role != Role::Authority {
            return Err(Failure::forbidden("authorities set threat levels"));
        }
        if draft.status != "Actual" {
            return Err(DomainError::validation(
                "threat_level",
                "an Exercise or Test bulletin cannot change the real threat level",
            )
            .into());
        }
        let title = match lang {
            Lang::Fr => draft.title.fr.clone().or_else(|| draft.title.en.clone()),
            Lang::En => draft.title.en.clone().or_else(|| draft.title.fr.clone()),
        };
        let mut level_draft = ThreatLevelDraft {
            level,
            area: draft.area.clone(),
            reason: title.unwrap_or_default(),
            effective_ms: draft.effective_ms,
            bulletin: None,
        };
        level_draft.check()?;
        let bulletin = self.send_bulletin(caller, draft).await?;
        level_draft.bulletin = Some(bulletin.id.clone());
        let change = self.set_threat_level(caller, level_draft, lang).await?;
        Ok((bulletin, change))
    }

    /// Sends a bulletin: checks it, works out the recipient organisations
    /// ([`App::resolve_recipients`]) and stores it with a delivered receipt for each, in one
    /// transaction.
    pub async fn send_bulletin(&self, caller: &Principal, mut draft: BulletinDraft) -> Result<Bulletin> {
        if !Self::may_send_bulletins(caller) {
            return Err(Failure::forbidden("authorities and operators send bulletins"));
        }
        draft.check()?;
        if let Some(area) = &draft.area {
            SiteGeometry::warning_area(area)?;
        }
        for site in &draft.sites {
            self.readable_site(caller, site)
                .await
                .map_err(|_| DomainError::validation("sites", format!("no site {site} you may read")))?;
        }
        if let Some(scenario) = &draft.scenario {
            let known = vigie_assessment::Methodology::embedded()
                .map_err(|_| Failure::internal())?
                .scenarios
                .iter()
                .any(|s| s.id == *scenario);
            if !known {
                return Err(DomainError::validation(
                    "scenario",
                    format!("'{scenario}' is not a scenario of the methodology"),
                )
                .into());
            }
        }
        if let Some(reference) = &draft.references
            && self.readable_bulletin(caller, reference).await.is_err()
        {
            return Err(DomainError::validation("references", "no bulletin you may read has this id").into());
        }
        let receipt_orgs = self.resolve_recipients(caller, draft.marking, &mut draft.recipients).await?;
        let bulletin = Bulletin {
            id: BulletinId::from(crate::secrets::random_id()),
            author: caller.user_id.clone(),
            author_org: caller.org_id.clone(),
            created_at_ms: self.now_ms(),
            draft,
        };
        let receipt_orgs: Vec<OrgId> = receipt_orgs.into_iter().collect();
        let notifications = self.bulletin_notifications(&bulletin, &receipt_orgs).await?;
        self.store.create_bulletin(&self.write_context(caller), &bulletin, &receipt_orgs, &notifications).await?;
        Ok(bulletin)
    }

    /// The sites a bulletin names, for a reader of the bulletin: the author shared them with
    /// it, under its marking (the caller has just read the bulletin through the rule).
    pub async fn bulletin_sites(&self, caller: &Principal, bulletin: &Bulletin) -> Result<Vec<vigie_store::Site>> {
        let bulletin = self.readable_bulletin(caller, &bulletin.id).await?;
        let mut sites = Vec::new();
        for id in &bulletin.draft.sites {
            if let Some(site) = self.store.get_site(id).await? {
                sites.push(site);
            }
        }
        Ok(sites)
    }

    /// The bulletins the caller may read, newest first; the list is audited as read.
    pub async fn bulletins(&self, caller: &Principal) -> Result<Vec<Bulletin>> {
        let communities = self.member_communities(caller).await?;
        let candidates = self.store.bulletins_for(&caller.user_id, &caller.org_id, &communities, MAX_LISTED).await?;
        let readable: Vec<Bulletin> =
            candidates.into_iter().filter(|b| reads(caller, &communities, &b.shared())).collect();
        let ids: Vec<&str> = readable.iter().map(|b| b.id.as_str()).collect();
        self.audit_read(caller, "bulletin", None, json!({"list": ids})).await?;
        Ok(readable)
    }

    /// One bulletin; its first read by someone of a recipient organisation is noted on that
    /// organisation's receipt.
    pub async fn bulletin(&self, caller: &Principal, id: &BulletinId) -> Result<Bulletin> {
        let bulletin = self.readable_bulletin(caller, id).await?;
        self.audit_read(caller, "bulletin", Some(id.as_str()), json!({"marking": bulletin.draft.marking.label()}))
            .await?;
        self.store.record_bulletin_read(&self.write_context(caller), id, &caller.org_id).await?;
        Ok(bulletin)
    }

    /// Whether the caller's organisation received `id` and has not acknowledged it yet (the
    /// bulletin's page offers the button). For a bulletin the caller has just read: no audit.
    pub async fn awaits_acknowledgement(&self, caller: &Principal, id: &BulletinId) -> Result<bool> {
        let receipts = self.store.bulletin_receipts(id).await?;
        Ok(receipts.iter().any(|r| r.org_id == caller.org_id && r.acked_at_ms.is_none()))
    }

    /// The caller's organisation acknowledges a bulletin it received.
    pub async fn acknowledge_bulletin(&self, caller: &Principal, id: &BulletinId) -> Result<Receipt> {
        self.readable_bulletin(caller, id).await?;
        match self.store.acknowledge_bulletin(&self.write_context(caller), id, &caller.org_id).await {
            Err(StoreError::NotFound(_)) => Err(DomainError::validation(
                "org_id",
                "your organisation is not among this bulletin's recipients: there is nothing to acknowledge",
            )
            .into()),
            other => Ok(other?),
        }
    }

    /// Per recipient organisation, when the bulletin was delivered, read and acknowledged: for
    /// the author's organisation only.
    pub async fn bulletin_receipts(&self, caller: &Principal, id: &BulletinId) -> Result<Vec<Receipt>> {
        let bulletin = self.readable_bulletin(caller, id).await?;
        if bulletin.author_org != caller.org_id {
            return Err(Failure::not_found("bulletin"));
        }
        let receipts = self.store.bulletin_receipts(id).await?;
        self.audit_read(caller, "bulletin_receipts", Some(id.as_str()), json!({"orgs": receipts.len()})).await?;
        Ok(receipts)
    }

    /// The caller's inbox: bulletins to their organisation not yet acknowledged (those they
    /// may read), and its community invitations; `unread` counts the bulletins nobody of the
    /// organisation has opened and the invitations. The read is audited.
    pub async fn inbox(&self, caller: &Principal) -> Result<Inbox> {
        let inbox = self.open_items(caller).await?;
        let ids: Vec<&str> = inbox.bulletins.iter().map(|(b, _)| b.id.as_str()).collect();
        let reports: Vec<&str> = inbox.report_updates.iter().map(|(r, _, _)| r.id.as_str()).collect();
        self.audit_read(
            caller,
            "inbox",
            None,
            json!({"bulletins": ids, "invitations": inbox.invitations.len(), "field_reports": reports}),
        )
        .await?;
        Ok(inbox)
    }

    /// How many items of the inbox are unread, for the header of every page: a count of the
    /// caller's own items, which shows nothing of them, so it is not audited.
    pub async fn inbox_unread(&self, caller: &Principal) -> Result<usize> {
        Ok(self.open_items(caller).await?.unread)
    }

    async fn open_items(&self, caller: &Principal) -> Result<Inbox> {
        // One read for both: the communities the rule needs and the invitations listed.
        let (mut communities, mut invitations) = (Vec::new(), Vec::new());
        for (community, state) in self.store.communities_of(&caller.org_id).await? {
            match state {
                MembershipState::Member => communities.push(community.id),
                MembershipState::Invited => invitations.push(community),
                MembershipState::Left => {}
            }
        }
        let receipts = self.store.open_receipts(&caller.org_id, MAX_LISTED).await?;
        let ids: Vec<BulletinId> = receipts.iter().map(|(id, _)| id.clone()).collect();
        let reader = vigie_store::Naming {
            user: caller.user_id.as_str(),
            org: caller.org_id.as_str(),
            communities: &communities,
        };
        // Each with the recipients that name the caller only: enough for the rule, and the
        // inbox does not show them.
        let mut found: std::collections::HashMap<BulletinId, Bulletin> =
            self.store.bulletins_seen_by(&ids, reader).await?.into_iter().map(|b| (b.id.clone(), b)).collect();
        let bulletins: Vec<(Bulletin, Receipt)> = receipts
            .into_iter()
            .filter_map(|(id, receipt)| found.remove(&id).map(|b| (b, receipt)))
            .filter(|(b, _)| reads(caller, &communities, &b.shared()))
            .collect();
        // The reporter's organisation reads its own reports whatever their marking.
        let report_updates = self.store.report_updates(&caller.org_id, REPORT_UPDATES).await?;
        let unread = bulletins.iter().filter(|(_, r)| r.read_at_ms.is_none()).count()
            + invitations.len()
            + report_updates.iter().filter(|(_, _, seen)| !seen).count();
        Ok(Inbox { bulletins, invitations, report_updates, unread })
    }

    /// May the caller send bulletins (the pages show the compose button)?
    pub fn may_send_bulletins(caller: &Principal) -> bool {
        matches!(caller.role, Role::Admin | Role::Authority | Role::Operator)
    }

    pub(crate) async fn readable_bulletin(&self, caller: &Principal, id: &BulletinId) -> Result<Bulletin> {
        let communities = self.member_communities(caller).await?;
        self.store
            .bulletin(id)
            .await?
            .filter(|b| reads(caller, &communities, &b.shared()))
            .ok_or_else(|| Failure::not_found("bulletin"))
    }

    /// Checks the recipients the caller names for an object marked `marking` (communities of
    /// theirs, organisations and people that exist) and returns the organisations it reaches
    /// (those named, the members of the named communities, the organisations of the named
    /// people; not the caller's own).
    ///
    /// Under AMBER or AMBER+STRICT, naming a community names its member organisations of the
    /// moment, and naming a person names their organisation: they are added to `recipients`
    /// as organisations, so that the rule (organisations named) lets them read, and an
    /// organisation joining later does not read past objects.
    pub(crate) async fn resolve_recipients(
        &self,
        caller: &Principal,
        marking: Marking,
        recipients: &mut Recipients,
    ) -> Result<BTreeSet<OrgId>> {
        vigie_domain::sharing::check_recipients(marking, recipients)
            .map_err(|message| DomainError::validation("recipients", message))?;
        let mut reached: BTreeSet<OrgId> = BTreeSet::new();
        let mine = self.member_communities(caller).await?;
        for community in &recipients.communities {
            if !mine.contains(community) {
                return Err(DomainError::validation(
                    "recipients",
                    format!("your organisation is not a member of a community {community}"),
                )
                .into());
            }
            let members = self.store.community_members(community).await?;
            reached.extend(members.into_iter().filter(|m| m.state == MembershipState::Member).map(|m| m.org_id));
        }
        for org in &recipients.orgs {
            if self.store.org_by_id(org).await?.is_none() {
                return Err(DomainError::validation("recipients", format!("no organisation {org}")).into());
            }
            reached.insert(org.clone());
        }
        for user in &recipients.users {
            let found = self.store.user_by_id(user).await?;
            let Some(found) = found else {
                return Err(DomainError::validation("recipients", format!("no user {user}")).into());
            };
            reached.insert(found.org_id);
        }
        reached.remove(&caller.org_id);
        if matches!(marking, Marking::Amber | Marking::AmberStrict) {
            // A set: a community of thousands would make the list check quadratic.
            let named: BTreeSet<OrgId> = recipients.orgs.iter().cloned().collect();
            recipients.orgs.extend(reached.iter().filter(|org| !named.contains(*org)).cloned());
        }
        Ok(reached)
    }

    /// The communities the caller's organisation is a member of: the reader's side of GREEN.
    pub(crate) async fn member_communities(&self, caller: &Principal) -> Result<Vec<CommunityId>> {
        member_communities_of(self.store.as_ref(), &caller.org_id).await
    }
}

/// The communities `org` is a member of.
pub(crate) async fn member_communities_of(store: &dyn vigie_store::Store, org: &OrgId) -> Result<Vec<CommunityId>> {
    Ok(store
        .communities_of(org)
        .await?
        .into_iter()
        .filter(|(_, state)| *state == MembershipState::Member)
        .map(|(c, _)| c.id)
        .collect())
}

/// The TLP rule for the caller, whose organisation is a member of `communities`.
pub(crate) fn reads(caller: &Principal, communities: &[CommunityId], object: &Shared<'_>) -> bool {
    may_read(&Reader { user: &caller.user_id, org: &caller.org_id, communities }, object)
}
