//! Threat bulletins: an authority warns operators, an operator warns its peers. The fields
//! follow CAP 1.2 (OASIS) so that a bulletin can leave Vigie as a CAP alert unchanged; who may
//! read one is the TLP rule of [`crate::sharing`].
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::id::{BulletinId, OrgId, SiteId, UserId};
use crate::sharing::{Marking, Recipients, check_recipients};

/// CAP 1.2 `urgency`, `severity`, `certainty`, `responseType`, `status` and `msgType` values,
/// spelled as the standard spells them.
pub const URGENCIES: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
pub const SEVERITIES: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
pub const CERTAINTIES: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
pub const RESPONSE_TYPES: &[&str] =
    &["Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"];
/// Drills are first class: an Exercise or a Test is shown as such everywhere.
pub const STATUSES: &[&str] = &["Actual", "Exercise", "Test"];
pub const MSG_TYPES: &[&str] = &["Alert", "Update", "Cancel"];

/// A text in French and/or English.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Texts {
    fn is_empty(&self) -> bool {
        [&self.fr, &self.en].iter().all(|t| t.as_deref().is_none_or(|t| t.trim().is_empty()))
    }
}

/// What the author writes; checked by [`BulletinDraft::check`] before anything is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinDraft {
    pub title: Texts,
    pub text: Texts,
    pub instruction: Texts,
    pub marking: Marking,
    pub recipients: Recipients,
    /// A GeoJSON Polygon or MultiPolygon, already checked by the caller.
    pub area: Option<serde_json::Value>,
    pub sites: Vec<SiteId>,
    /// A scenario of the methodology (`vehicle_ramming`, …), checked by the caller.
    pub scenario: Option<String>,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub response_type: String,
    pub status: String,
    pub msg_type: String,
    pub references: Option<BulletinId>,
    pub effective_ms: i64,
    pub expires_ms: Option<i64>,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), DomainError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(DomainError::validation(field, format!("'{value}' is not one of {}", allowed.join(", "))))
    }
}

impl BulletinDraft {
    /// The rules a bulletin obeys on its own: a title and a text, recipients that fit the
    /// marking, CAP values as CAP spells them, an update or a cancellation that says what it
    /// changes, and an end after the start.
    pub fn check(&self) -> Result<(), DomainError> {
        if self.title.is_empty() || self.text.is_empty() {
            return Err(DomainError::validation("title", "a bulletin needs a title and a text, in French or English"));
        }
        // Line breaks and tabs are text; other control characters are not.
        let garbled = |t: &str| t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        for texts in [&self.title, &self.text, &self.instruction] {
            if [&texts.fr, &texts.en].into_iter().flatten().any(|t| garbled(t)) {
                return Err(DomainError::validation("text", "must not contain control characters"));
            }
        }
        let r = &self.recipients;
        if r.communities.is_empty() && r.orgs.is_empty() && r.users.is_empty() {
            return Err(DomainError::validation(
                "recipients",
                "a bulletin needs recipients: communities, organisations or (for TLP:RED) people",
            ));
        }
        check_recipients(self.marking, r).map_err(|message| DomainError::validation("recipients", message))?;
        one_of("urgency", &self.urgency, URGENCIES)?;
        one_of("severity", &self.severity, SEVERITIES)?;
        one_of("certainty", &self.certainty, CERTAINTIES)?;
        one_of("response_type", &self.response_type, RESPONSE_TYPES)?;
        one_of("status", &self.status, STATUSES)?;
        one_of("msg_type", &self.msg_type, MSG_TYPES)?;
        if self.msg_type != "Alert" && self.references.is_none() {
            return Err(DomainError::validation("references", "an Update or a Cancel names the bulletin it changes"));
        }
        if self.expires_ms.is_some_and(|expires| expires <= self.effective_ms) {
            return Err(DomainError::validation("expires", "a bulletin expires after it takes effect"));
        }
        Ok(())
    }
}

/// A bulletin as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulletin {
    pub id: BulletinId,
    pub author: UserId,
    pub author_org: OrgId,
    pub created_at_ms: i64,
    pub draft: BulletinDraft,
}

/// Where a bulletin stands for one recipient organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub org_id: OrgId,
    pub delivered_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_at_ms: Option<i64>,
}

/// A bulletin as the API and `vigie bulletins send --file` take it (JSON): times in RFC 3339,
/// the marking as its label.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulletinRequest {
    pub title: Texts,
    pub text: Texts,
    #[serde(default)]
    pub instruction: Texts,
    pub marking: String,
    #[serde(default)]
    pub recipients: Recipients,
    pub area: Option<serde_json::Value>,
    #[serde(default)]
    pub sites: Vec<SiteId>,
    pub scenario: Option<String>,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub response_type: String,
    pub status: String,
    pub effective: String,
    pub expires: Option<String>,
    pub references: Option<BulletinId>,
    #[serde(default = "alert")]
    pub msg_type: String,
    /// A threat level (1–5) the bulletin announces for its area (or the sender's whole
    /// jurisdiction without one): sending it sets the level. Authorities only, Actual only.
    #[serde(default)]
    pub threat_level: Option<u8>,
}

fn alert() -> String {
    "Alert".to_owned()
}

/// An RFC 3339 time ("2026-12-07T18:00:00+02:00") as milliseconds since the epoch.
pub fn time_ms(field: &str, text: &str) -> Result<i64, DomainError> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|_| {
        DomainError::validation(field, format!("'{text}' is not an RFC 3339 time such as 2026-12-07T18:00:00+02:00"))
    })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| DomainError::validation(field, "the time is out of range"))
}

impl BulletinRequest {
    pub fn into_draft(self) -> Result<BulletinDraft, DomainError> {
        Ok(BulletinDraft {
            title: self.title,
            text: self.text,
            instruction: self.instruction,
            marking: Marking::parse(&self.marking)?,
            recipients: self.recipients,
            area: self.area,
            sites: self.sites,
            scenario: self.scenario,
            urgency: self.urgency,
            severity: self.severity,
            certainty: self.certainty,
            response_type: self.response_type,
            status: self.status,
            msg_type: self.msg_type,
            references: self.references,
            effective_ms: time_ms("effective", &self.effective)?,
            expires_ms: self.expires.as_deref().map(|t| time_ms("expires", t)).transpose()?,
        })
    }
}

/// A time in milliseconds as RFC 3339 in UTC (`2026-12-07T06:00:00Z`), as the API writes it.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

impl Bulletin {
    /// What the TLP rule reads of it.
    pub fn shared(&self) -> crate::sharing::Shared<'_> {
        crate::sharing::Shared {
            marking: self.draft.marking,
            author: &self.author,
            author_org: &self.author_org,
            recipients: &self.draft.recipients,
        }
    }

    /// The bulletin as the API and the command line show it.
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.draft.recipients;
        let mut value = self.summary_json();
        if let Some(fields) = value.as_object_mut() {
            let recipients = serde_json::json!({"communities": r.communities, "orgs": r.orgs, "users": r.users});
            fields.insert("recipients".to_owned(), recipients);
        }
        value
    }

    /// The bulletin without its recipients: what an inbox item shows (a bulletin to a large
    /// community names thousands of organisations).
    pub fn summary_json(&self) -> serde_json::Value {
        let d = &self.draft;
        serde_json::json!({
            "id": self.id,
            "author_org": self.author_org,
            "created_at": rfc3339(self.created_at_ms),
            "title": d.title,
            "text": d.text,
            "instruction": d.instruction,
            "marking": d.marking.label(),
            "area": d.area,
            "sites": d.sites,
            "scenario": d.scenario,
            "urgency": d.urgency,
            "severity": d.severity,
            "certainty": d.certainty,
            "response_type": d.response_type,
            "status": d.status,
            "msg_type": d.msg_type,
            "references": d.references,
            "effective": rfc3339(d.effective_ms),
            "expires": d.expires_ms.map(rfc3339),
        })
    }
}

impl Receipt {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "org_id": self.org_id,
            "delivered_at": rfc3339(self.delivered_at_ms),
            "read_at": self.read_at_ms.map(rfc3339),
            "acked_at": self.acked_at_ms.map(rfc3339),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> BulletinDraft {
        BulletinDraft {
            title: Texts { fr: Some("Véhicule suspect".into()), en: None },
            text: Texts { fr: None, en: Some("A van filmed the service entrance.".into()) },
            instruction: Texts::default(),
            marking: Marking::Amber,
            recipients: Recipients { orgs: vec!["mall".into()], ..Recipients::default() },
            area: None,
            sites: Vec::new(),
            scenario: None,
            urgency: "Expected".into(),
            severity: "Moderate".into(),
            certainty: "Possible".into(),
            response_type: "Monitor".into(),
            status: "Actual".into(),
            msg_type: "Alert".into(),
            references: None,
            effective_ms: 1_000,
            expires_ms: Some(2_000),
        }
    }

    #[test]
    fn a_well_formed_bulletin_passes_and_each_fault_is_named() {
        assert!(draft().check().is_ok());
        let field = |d: BulletinDraft| match d.check() {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(BulletinDraft { recipients: Recipients::default(), ..draft() }), "recipients");
        assert_eq!(field(BulletinDraft { marking: Marking::Red, ..draft() }), "recipients", "RED names people");
        assert_eq!(field(BulletinDraft { marking: Marking::Green, ..draft() }), "recipients", "GREEN a community");
        assert_eq!(field(BulletinDraft { expires_ms: Some(1_000), ..draft() }), "expires");
        assert_eq!(field(BulletinDraft { urgency: "immediate".into(), ..draft() }), "urgency", "CAP's spelling");
        assert_eq!(field(BulletinDraft { msg_type: "Cancel".into(), ..draft() }), "references");
        assert_eq!(field(BulletinDraft { title: Texts::default(), ..draft() }), "title");
        assert_eq!(field(BulletinDraft { status: "Draft".into(), ..draft() }), "status");
    }
}
