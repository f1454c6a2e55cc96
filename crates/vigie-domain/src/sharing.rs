//! TLP 2.0 as access control: the one rule that decides who may read a shared object
//! (a bulletin, a field report, a community's page), whatever the path that reads it.
//! Facts: FIRST TLP 2.0 (`shared/reference/information-sharing.md`):
//!
//! | marking | readable by |
//! | --- | --- |
//! | `TLP:CLEAR` | everyone signed in |
//! | `TLP:GREEN` | the members of the named communities, and the author's organisation |
//! | `TLP:AMBER` | the named recipient organisations, and the author's organisation |
//! | `TLP:AMBER+STRICT` | the same (the organisation only, not its clients: Vigie has no clients to pass it on to) |
//! | `TLP:RED` | the named users only, and the author |
//!
//! A marking that is missing or unknown never reaches this rule: [`Marking::parse`] refuses
//! it, so an object that exists always has exactly one marking. The author always reads their
//! own object, and the author's organisation every marking but RED (the source holds what it
//! shared: a GREEN object its own colleagues could not read would be stricter than AMBER for
//! them). Administrators get no exception: what the rule hides from a user is hidden from
//! every path that user takes.
use crate::access::{Principal, Role};
use crate::error::DomainError;
use crate::id::{CommunityId, OrgId, UserId};
pub use crate::library::Marking;

/// A community of organisations (e.g. a city centre's operators' forum): the scope of
/// TLP:GREEN. Its owner organisation created it and invites the others.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub owner_org: OrgId,
    pub created_at_ms: i64,
}

/// Where an organisation stands in a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// Invited, not yet accepted: sees the community's name only.
    Invited,
    /// Accepted: a member, sees the members and what is shared with the community.
    Member,
    /// Left (or never accepted and declined): sees nothing of it any more.
    Left,
}

impl MembershipState {
    pub fn key(self) -> &'static str {
        match self {
            MembershipState::Invited => "invited",
            MembershipState::Member => "member",
            MembershipState::Left => "left",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, DomainError> {
        [MembershipState::Invited, MembershipState::Member, MembershipState::Left]
            .into_iter()
            .find(|s| s.key() == key)
            .ok_or_else(|| DomainError::validation("state", format!("unknown membership state '{key}'")))
    }
}

/// One organisation's place in a community, with when it was invited, joined and left.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Membership {
    pub org_id: OrgId,
    pub state: MembershipState,
    pub invited_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at_ms: Option<i64>,
}

/// Authorities (and the platform's administrators) create communities.
pub fn may_create_community(caller: &Principal) -> bool {
    matches!(caller.role, Role::Admin | Role::Authority)
}

/// Who invites organisations into `community`: its owner organisation's authority or
/// administrator users, or a platform administrator.
pub fn may_invite(caller: &Principal, community: &Community) -> bool {
    caller.is_admin() || (caller.role == Role::Authority && caller.org_id == community.owner_org)
}

/// Who answers for an organisation (accepts an invitation, leaves): its operator, authority
/// or administrator users; assessors and viewers do not commit their organisation.
pub fn may_answer_for_org(caller: &Principal) -> bool {
    matches!(caller.role, Role::Admin | Role::Authority | Role::Operator)
}

/// Who an object is shared with, besides its author and the author's organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recipients {
    pub communities: Vec<CommunityId>,
    pub orgs: Vec<OrgId>,
    pub users: Vec<UserId>,
}

/// What the rule needs to know of a shared object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared<'a> {
    pub marking: Marking,
    pub author: &'a UserId,
    pub author_org: &'a OrgId,
    pub recipients: &'a Recipients,
}

/// What the rule needs to know of the reader: who they are, their organisation, and the
/// communities their organisation is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader<'a> {
    pub user: &'a UserId,
    pub org: &'a OrgId,
    pub communities: &'a [CommunityId],
}

/// May `reader` read `object`? A `false` must look to the reader exactly like an object that
/// does not exist.
pub fn may_read(reader: &Reader<'_>, object: &Shared<'_>) -> bool {
    if reader.user == object.author {
        return true;
    }
    match object.marking {
        Marking::Clear => true,
        Marking::Green => {
            reader.org == object.author_org
                || object.recipients.communities.iter().any(|c| reader.communities.contains(c))
        }
        Marking::Amber | Marking::AmberStrict => {
            reader.org == object.author_org || object.recipients.orgs.contains(reader.org)
        }
        Marking::Red => object.recipients.users.contains(reader.user),
    }
}

/// The marking of content derived from several objects (a digest, a count, an export): the
/// highest of its inputs; `TLP:CLEAR` for nothing.
pub fn derived_marking(inputs: impl IntoIterator<Item = Marking>) -> Marking {
    inputs.into_iter().max().unwrap_or(Marking::Clear)
}

/// Whether `changer` may change the marking (and recipients) of an object of `author_org`:
/// only its source, the author's organisation, by a role that writes. Not a recipient, even
/// to raise it: that would take the object from readers the source chose. Lowering is
/// audited as such by the store.
pub fn may_change_marking(changer: &Principal, author_org: &OrgId) -> bool {
    &changer.org_id == author_org && changer.role != Role::Viewer
}

/// The recipients a marking needs: GREEN names a community, AMBER and AMBER+STRICT an
/// organisation (its author's own counts), RED a user. `Err` says what is missing, in words.
pub fn check_recipients(marking: Marking, recipients: &Recipients) -> Result<(), &'static str> {
    match marking {
        Marking::Green if recipients.communities.is_empty() => {
            Err("TLP:GREEN is shared with a community: name at least one")
        }
        Marking::Red if recipients.users.is_empty() => {
            Err("TLP:RED is shared with named people: name at least one user")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids<T: From<String>>(prefix: &str, picks: &[u8]) -> Vec<T> {
        picks.iter().map(|i| T::from(format!("{prefix}{i}"))).collect()
    }

    #[test]
    fn the_table_of_the_standard() {
        let (author, author_org) = (UserId::from("author"), OrgId::from("police"));
        let recipients =
            Recipients { communities: vec!["forum".into()], orgs: vec!["mall".into()], users: vec!["guard".into()] };
        let in_forum: Vec<CommunityId> = vec!["forum".into()];
        // (user, org, communities) → readable at CLEAR, GREEN, AMBER, AMBER+STRICT, RED
        let cases: [(&str, &str, &[CommunityId], [bool; 5]); 6] = [
            ("author", "police", &[], [true; 5]),
            ("colleague", "police", &[], [true, true, true, true, false]),
            ("guard", "mall", &[], [true, false, true, true, true]),
            ("manager", "mall", &[], [true, false, true, true, false]),
            ("stranger", "venue", &in_forum, [true, true, false, false, false]),
            ("nobody", "elsewhere", &[], [true, false, false, false, false]),
        ];
        for (user, org, communities, expected) in cases {
            let (user, org) = (UserId::from(user), OrgId::from(org));
            let reader = Reader { user: &user, org: &org, communities };
            for (marking, want) in Marking::ALL.into_iter().zip(expected) {
                let object = Shared { marking, author: &author, author_org: &author_org, recipients: &recipients };
                assert_eq!(may_read(&reader, &object), want, "{user} of {org} reading {}", marking.label());
            }
        }
    }

    fn principal(role: Role, org: &str) -> Principal {
        Principal {
            user_id: "u".into(),
            email: "u@example.org".into(),
            org_id: org.into(),
            role,
            overseen_orgs: Vec::new(),
            manages_org: false,
            must_enrol_second_factor: false,
        }
    }

    #[test]
    fn authorities_create_and_invite_operators_answer() {
        let forum = Community { id: "c".into(), name: "Forum".into(), owner_org: "police".into(), created_at_ms: 0 };
        assert!(may_create_community(&principal(Role::Authority, "police")));
        assert!(!may_create_community(&principal(Role::Operator, "mall")));
        assert!(may_invite(&principal(Role::Authority, "police"), &forum));
        assert!(!may_invite(&principal(Role::Authority, "city"), &forum), "another authority's community");
        assert!(may_invite(&principal(Role::Admin, "platform"), &forum));
        assert!(may_answer_for_org(&principal(Role::Operator, "mall")));
        assert!(!may_answer_for_org(&principal(Role::Viewer, "mall")));
        for state in [MembershipState::Invited, MembershipState::Member, MembershipState::Left] {
            assert_eq!(MembershipState::from_key(state.key()).ok(), Some(state));
        }
    }

    #[test]
    fn derived_content_takes_the_highest_marking() {
        assert_eq!(derived_marking([]), Marking::Clear);
        assert_eq!(derived_marking([Marking::Green, Marking::AmberStrict, Marking::Amber]), Marking::AmberStrict);
    }

    #[test]
    fn only_the_source_changes_a_marking() {
        let source = OrgId::from("police");
        assert!(may_change_marking(&principal(Role::Authority, "police"), &source));
        assert!(!may_change_marking(&principal(Role::Viewer, "police"), &source), "a viewer writes nothing");
        assert!(!may_change_marking(&principal(Role::Operator, "mall"), &source), "a recipient");
        assert!(!may_change_marking(&principal(Role::Admin, "platform"), &source), "an administrator elsewhere");
    }

    #[test]
    fn green_names_a_community_and_red_names_people() {
        let none = Recipients::default();
        assert!(check_recipients(Marking::Green, &none).is_err());
        assert!(check_recipients(Marking::Red, &none).is_err());
        assert!(check_recipients(Marking::Amber, &none).is_ok(), "the author's organisation is a recipient");
        assert!(check_recipients(Marking::Clear, &none).is_ok());
    }

    proptest! {
        /// Raising a marking never lets anyone new read: the markings are nested for the same
        /// recipients, except that RED (named people) is not nested in GREEN (communities).
        #[test]
        fn a_higher_marking_never_widens_who_reads(
            reader_user in 0u8..6, reader_org in 0u8..4, reader_communities in proptest::collection::vec(0u8..3, 0..3),
            orgs in proptest::collection::vec(0u8..4, 0..3), users in proptest::collection::vec(0u8..6, 0..3),
            communities in proptest::collection::vec(0u8..3, 0..3),
        ) {
            let (author, author_org) = (UserId::from("u0"), OrgId::from("o0"));
            let recipients = Recipients { communities: ids("c", &communities), orgs: ids("o", &orgs), users: ids("u", &users) };
            let (user, org) = (UserId::from(format!("u{reader_user}")), OrgId::from(format!("o{reader_org}")));
            let reader_communities: Vec<CommunityId> = ids("c", &reader_communities);
            let reader = Reader { user: &user, org: &org, communities: &reader_communities };
            let reads = |marking| may_read(&reader, &Shared { marking, author: &author, author_org: &author_org, recipients: &recipients });
            prop_assert!(reads(Marking::Clear));
            prop_assert!(!reads(Marking::AmberStrict) || reads(Marking::Amber));
            prop_assert!(!reads(Marking::Red) || user == author || recipients.users.contains(&user));
            // The author reads everything they wrote; a stranger to every list reads CLEAR only.
            if user == author {
                prop_assert!(Marking::ALL.into_iter().all(reads));
            }
        }
    }
}
