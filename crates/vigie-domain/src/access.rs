//! Who may do what. Fail closed: anything not granted here is denied.
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::id::{OrgId, TokenId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Authority,
    Operator,
    Other,
}

impl OrgKind {
    pub fn key(self) -> &'static str {
        match self {
            OrgKind::Authority => "authority",
            OrgKind::Operator => "operator",
            OrgKind::Other => "other",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        [OrgKind::Authority, OrgKind::Operator, OrgKind::Other].into_iter().find(|k| k.key() == key).ok_or_else(|| {
            DomainError::validation(
                "kind",
                format!("unknown organisation kind '{key}'; expected authority, operator or other"),
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages every organisation, user and site.
    Admin,
    /// Reads the sites of the organisations it oversees, writes its own.
    Authority,
    /// Assesses and edits its own organisation's sites.
    Assessor,
    /// Runs its own organisation's sites.
    Operator,
    /// Reads its own organisation's sites.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Authority, Role::Assessor, Role::Operator, Role::Viewer];

    pub fn key(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Authority => "authority",
            Role::Assessor => "assessor",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|r| r.key() == key).ok_or_else(|| {
            DomainError::validation(
                "role",
                format!("unknown role '{key}'; expected admin, authority, assessor, operator or viewer"),
            )
        })
    }
}

/// The authenticated caller, as the shells resolve it from a session or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub org_id: OrgId,
    pub role: Role,
    /// Organisations whose sites this principal's organisation oversees (authorities only).
    pub overseen_orgs: Vec<OrgId>,
    /// Manages the accounts of its own organisation (the organisation's own administrator).
    pub manages_org: bool,
    /// The organisation requires a second factor and this user has none yet: until they set
    /// one up, they may only do that.
    pub must_enrol_second_factor: bool,
}

impl Principal {
    /// May this principal see objects owned by `owner_org`? A `false` must surface as
    /// "not found", so that a denial does not reveal that the object exists.
    pub fn can_read_org(&self, owner_org: &OrgId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Authority => *owner_org == self.org_id || self.overseen_orgs.contains(owner_org),
            Role::Assessor | Role::Operator | Role::Viewer => *owner_org == self.org_id,
        }
    }

    /// May this principal create, change or delete objects owned by `owner_org`?
    pub fn can_write_org(&self, owner_org: &OrgId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Authority | Role::Assessor | Role::Operator => *owner_org == self.org_id,
            Role::Viewer => false,
        }
    }

    /// Organisations whose objects a listing may include; `None` means every organisation.
    pub fn readable_orgs(&self) -> Option<Vec<OrgId>> {
        match self.role {
            Role::Admin => None,
            Role::Authority => {
                Some(std::iter::once(self.org_id.clone()).chain(self.overseen_orgs.iter().cloned()).collect())
            }
            Role::Assessor | Role::Operator | Role::Viewer => Some(vec![self.org_id.clone()]),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May this principal list, invite, change and disable the users of `org`? An
    /// administrator manages every organisation; an organisation's own administrator, its own.
    pub fn can_manage_accounts_of(&self, org: &OrgId) -> bool {
        self.is_admin() || (self.manages_org && *org == self.org_id)
    }

    /// Does this principal manage any accounts at all (the accounts page is theirs)?
    pub fn manages_accounts(&self) -> bool {
        self.is_admin() || self.manages_org
    }
}

// --- Organisations, users and tokens, as stored and shown.

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
    pub created_at_ms: i64,
    /// Every user of the organisation must sign in with a second factor (TOTP).
    pub second_factor_required: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub org_id: OrgId,
    pub role: Role,
    pub created_at_ms: i64,
    /// When an administrator disabled the account: its sessions and tokens stop at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at_ms: Option<i64>,
    /// Manages the accounts of its own organisation.
    pub manages_org: bool,
    /// Signs in with a second factor (a TOTP authenticator app).
    pub second_factor: bool,
}

/// What a one-time account link is for: setting the first password of an invited user, or a
/// new one after an administrator's reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    Invite,
    Reset,
}

impl LinkPurpose {
    pub fn key(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: "u".into(),
            email: "u@example.org".into(),
            org_id: "own".into(),
            role,
            overseen_orgs: vec!["child".into()],
            manages_org: false,
            must_enrol_second_factor: false,
        }
    }

    #[test]
    fn an_organisation_admin_manages_its_own_accounts_only() {
        let own: OrgId = "own".into();
        let child: OrgId = "child".into();
        let manager = Principal { manages_org: true, ..principal(Role::Operator) };
        assert!(manager.can_manage_accounts_of(&own) && !manager.can_manage_accounts_of(&child));
        assert!(!principal(Role::Authority).can_manage_accounts_of(&own));
        assert!(principal(Role::Admin).can_manage_accounts_of(&child));
    }

    #[test]
    fn read_and_write_matrix() {
        let cases = [
            (Role::Admin, [true, true, true], [true, true, true]),
            (Role::Authority, [true, true, false], [true, false, false]),
            (Role::Assessor, [true, false, false], [true, false, false]),
            (Role::Operator, [true, false, false], [true, false, false]),
            (Role::Viewer, [true, false, false], [false, false, false]),
        ];
        for (role, reads, writes) in cases {
            let p = principal(role);
            for (i, org) in ["own", "child", "stranger"].into_iter().enumerate() {
                let org = OrgId::new(org);
                assert_eq!(p.can_read_org(&org), reads[i], "{role:?} read {org}");
                assert_eq!(p.can_write_org(&org), writes[i], "{role:?} write {org}");
            }
        }
    }

    #[test]
    fn only_authorities_see_overseen_organisations() {
        let mut p = principal(Role::Operator);
        assert_eq!(p.readable_orgs(), Some(vec![OrgId::new("own")]));
        p.role = Role::Authority;
        assert_eq!(p.readable_orgs(), Some(vec![OrgId::new("own"), OrgId::new("child")]));
        p.role = Role::Admin;
        assert_eq!(p.readable_orgs(), None);
    }

    #[test]
    fn role_keys_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_key(role.key()), Ok(role));
        }
        assert!(Role::from_key("root").is_err());
    }
}
