//! Communities of organisations: an authority creates one and invites organisations; a user
//! who answers for an invited organisation accepts, or later leaves. Members see the member
//! list; to anyone else a community they are not in does not exist.
use serde_json::json;
use vigie_domain::access::Principal;
use vigie_domain::sharing::{self, Community, Membership, MembershipState};
use vigie_domain::{CommunityId, DomainError, OrgId};

use crate::{App, Failure, Result};

/// A community and the member list, as its members see it.
#[derive(Debug, Clone)]
pub struct CommunityView {
    pub community: Community,
    pub members: Vec<Membership>,
}

impl App {
    pub async fn create_community(&self, caller: &Principal, name: &str) -> Result<Community> {
        if !sharing::may_create_community(caller) {
            return Err(Failure::forbidden("only an authority or an administrator creates communities"));
        }
        vigie_domain::site::check_text("name", name)?;
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(DomainError::validation("name", "a community needs a name of 1 to 200 characters").into());
        }
        Ok(self.store.create_community(&self.write_context(caller), name, &caller.org_id).await?)
    }

    /// The communities the caller's organisation is invited to or a member of.
    pub async fn my_communities(&self, caller: &Principal) -> Result<Vec<(Community, MembershipState)>> {
        Ok(self.store.communities_of(&caller.org_id).await?)
    }

    /// A community with its members, for its members only; the read is audited.
    pub async fn community(&self, caller: &Principal, id: &CommunityId) -> Result<CommunityView> {
        let community = self.community_of_member(caller, id).await?;
        let members = self.store.community_members(id).await?;
        self.audit_read(caller, "community", Some(id.as_str()), json!({"members": members.len()})).await?;
        Ok(CommunityView { community, members })
    }

    /// Invites an organisation; the community's owner authority (or a platform administrator).
    pub async fn invite_to_community(&self, caller: &Principal, id: &CommunityId, org: &OrgId) -> Result<Membership> {
        let community = self.store.community(id).await?.filter(|c| sharing::may_invite(caller, c));
        let Some(community) = community else { return Err(Failure::not_found("community")) };
        if self.store.org_by_id(org).await?.is_none() {
            return Err(DomainError::validation("org_id", "no such organisation").into());
        }
        Ok(self.store.invite_to_community(&self.write_context(caller), &community.id, org).await?)
    }

    /// The caller's organisation accepts its invitation.
    pub async fn join_community(&self, caller: &Principal, id: &CommunityId) -> Result<Membership> {
        self.answer_for_org(caller, id, &[MembershipState::Invited], MembershipState::Member).await
    }

    /// The caller's organisation leaves (or declines); the owner organisation stays.
    pub async fn leave_community(&self, caller: &Principal, id: &CommunityId) -> Result<Membership> {
        if self.store.community(id).await?.is_some_and(|c| c.owner_org == caller.org_id) {
            return Err(
                DomainError::validation("org_id", "the organisation that owns a community cannot leave it").into()
            );
        }
        self.answer_for_org(caller, id, &[MembershipState::Invited, MembershipState::Member], MembershipState::Left)
            .await
    }

    async fn answer_for_org(
        &self,
        caller: &Principal,
        id: &CommunityId,
        from: &[MembershipState],
        to: MembershipState,
    ) -> Result<Membership> {
        let invited_or_member = self
            .store
            .communities_of(&caller.org_id)
            .await?
            .into_iter()
            .any(|(c, state)| c.id == *id && from.contains(&state));
        if !invited_or_member {
            return Err(Failure::not_found("community"));
        }
        if !sharing::may_answer_for_org(caller) {
            return Err(Failure::forbidden(
                "an operator, authority or administrator of your organisation answers for it",
            ));
        }
        Ok(self.store.change_membership(&self.write_context(caller), id, &caller.org_id, from, to).await?)
    }

    /// The community, if the caller's organisation is a member of it; otherwise "not found".
    async fn community_of_member(&self, caller: &Principal, id: &CommunityId) -> Result<Community> {
        self.store
            .communities_of(&caller.org_id)
            .await?
            .into_iter()
            .find(|(c, state)| c.id == *id && *state == MembershipState::Member)
            .map(|(c, _)| c)
            .ok_or_else(|| Failure::not_found("community"))
    }
}
