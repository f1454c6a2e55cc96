//! Typed identifiers. Each kind of object has its own id type, so that a site's id cannot be
//! passed where an organisation's is expected; on the wire and in the database they are the
//! same strings as before (`serde(transparent)`).
//!
//! An id reads as a `&str` (through `Deref`) because every consumer (SQL binds, URLs, audit
//! records) needs the text; only making one from text is explicit.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    )*};
}

id_types! {
    /// An organisation.
    OrgId;
    /// A user account.
    UserId;
    /// An API token (not its secret).
    TokenId;
    /// A public space in the registry.
    SiteId;
    /// A hostile-vehicle study of a site.
    StudyId;
    /// A vulnerability assessment.
    AssessmentId;
    /// An action of an assessment's plan.
    ActionId;
    /// A community of organisations: the scope of TLP:GREEN.
    CommunityId;
    /// A threat bulletin.
    BulletinId;
    /// A field report.
    ReportId;
    /// A threat level an authority set for an area.
    ThreatLevelId;
    /// A photo taken during an assessment.
    PhotoId;
    /// A document of the guidance library.
    DocumentId;
    /// A passage (page-sized part) of a library document.
    PassageId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let id = SiteId::new("abc");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"abc\""));
        assert_eq!(serde_json::from_str::<SiteId>("\"abc\"").ok(), Some(id));
    }
}
