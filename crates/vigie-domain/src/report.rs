//! Field reports (operator → authority): suspicious activity, hostile reconnaissance,
//! incidents and near misses, each with a time, a place and a marking; and the sightings rule
//! that tells a reporter that other organisations reported something similar nearby, without
//! saying what or who.
use crate::error::DomainError;
use crate::id::{OrgId, ReportId, SiteId, UserId};
use crate::sharing::{Marking, Recipients, check_recipients};

/// What a report is about, as the API names it.
pub const REPORT_KINDS: &[&str] = &["suspicious_activity", "hostile_reconnaissance", "incident", "near_miss"];

/// Where an authority's triage has got to with a report.
pub const TRIAGE_STATES: &[&str] = &["new", "under_review", "linked", "closed"];

/// How near and how close in time two reports must be to count as the same sighting
/// (defaults 300 m and 14 days; configurable).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SightingWindow {
    pub max_distance_m: f64,
    pub max_interval_ms: i64,
}

impl Default for SightingWindow {
    fn default() -> Self {
        SightingWindow { max_distance_m: 300.0, max_interval_ms: 14 * 86_400_000 }
    }
}

/// What the reporter writes; checked by [`ReportDraft::check`] before anything is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportDraft {
    pub kind: String,
    pub observed_at_ms: i64,
    pub lon: f64,
    pub lat: f64,
    pub site_id: Option<SiteId>,
    pub text: String,
    pub marking: Marking,
    pub recipients: Recipients,
}

impl ReportDraft {
    pub fn check(&self) -> Result<(), DomainError> {
        if !REPORT_KINDS.contains(&self.kind.as_str()) {
            return Err(DomainError::validation(
                "kind",
                format!("'{}' is not one of {}", self.kind, REPORT_KINDS.join(", ")),
            ));
        }
        let on_earth = (-180.0..=180.0).contains(&self.lon) && (-90.0..=90.0).contains(&self.lat);
        if !on_earth {
            return Err(DomainError::validation(
                "location",
                "a place is a longitude (−180 to 180) and a latitude (−90 to 90)",
            ));
        }
        let text = self.text.trim();
        if text.is_empty() || text.chars().count() > 10_000 {
            return Err(DomainError::validation("text", "say what was seen, in 1 to 10,000 characters"));
        }
        if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(DomainError::validation("text", "must not contain control characters"));
        }
        let r = &self.recipients;
        if r.communities.is_empty() && r.orgs.is_empty() && r.users.is_empty() {
            return Err(DomainError::validation("recipients", "a report goes to an authority: name its organisation"));
        }
        check_recipients(self.marking, r).map_err(|message| DomainError::validation("recipients", message))
    }
}

/// A report as stored: its author, its triage state and what was reported.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldReport {
    pub id: ReportId,
    pub author: UserId,
    pub author_org: OrgId,
    pub created_at_ms: i64,
    /// One of [`TRIAGE_STATES`].
    pub status: String,
    pub draft: ReportDraft,
}

impl FieldReport {
    /// What the TLP rule reads of it.
    pub fn shared(&self) -> crate::sharing::Shared<'_> {
        crate::sharing::Shared {
            marking: self.draft.marking,
            author: &self.author,
            author_org: &self.author_org,
            recipients: &self.draft.recipients,
        }
    }

    /// The report as the API shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let d = &self.draft;
        serde_json::json!({
            "id": self.id,
            "author_org": self.author_org,
            "created_at": crate::bulletin::rfc3339(self.created_at_ms),
            "status": self.status,
            "kind": d.kind,
            "observed_at": crate::bulletin::rfc3339(d.observed_at_ms),
            "location": {"lon": d.lon, "lat": d.lat},
            "site_id": d.site_id,
            "text": d.text,
            "marking": d.marking.label(),
            "recipients": {"communities": d.recipients.communities, "orgs": d.recipients.orgs, "users": d.recipients.users},
        })
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let (dphi, dlambda) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().clamp(0.0, 1.0).asin()
}

/// Are two reports (place and time) within the window of each other?
pub fn similar(a: (f64, f64, i64), b: (f64, f64, i64), window: &SightingWindow) -> bool {
    (a.2 - b.2).abs() <= window.max_interval_ms && distance_m(a.0, a.1, b.0, b.1) <= window.max_distance_m
}

/// Sightings clusters among `reports` (organisation, lon, lat, time): groups of reports linked by
/// similarity (within the window of one another, directly or through others) that come from
/// at least two organisations; each cluster lists the indexes of its reports, in order.
pub fn sightings_clusters(reports: &[(&OrgId, f64, f64, i64)], window: &SightingWindow) -> Vec<Vec<usize>> {
    // Union-find over the pairs that are similar; a few hundred reports at most.
    let mut parent: Vec<usize> = (0..reports.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while let Some(&p) = parent.get(i) {
            if p == i {
                break;
            }
            i = p;
        }
        i
    }
    for (i, a) in reports.iter().enumerate() {
        for (j, b) in reports.iter().enumerate().skip(i + 1) {
            if similar((a.1, a.2, a.3), (b.1, b.2, b.3), window) {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                if let Some(slot) = parent.get_mut(rj) {
                    *slot = ri;
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..reports.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_values()
        .filter(|members| {
            let orgs: std::collections::BTreeSet<&OrgId> =
                members.iter().filter_map(|&i| reports.get(i).map(|r| r.0)).collect();
            orgs.len() >= 2
        })
        .collect()
}

/// How many *other* organisations than `reporter_org` filed a report similar to `report`:
/// what "N other organisations reported something similar nearby" says. `others` are the
/// candidate reports as (organisation, lon, lat, time, counted): a report the caller's rule
/// excludes (TLP:RED to someone else) comes with `counted = false` and never counts.
pub fn similar_organisations(
    report: (f64, f64, i64),
    reporter_org: &OrgId,
    others: &[(OrgId, f64, f64, i64, bool)],
    window: &SightingWindow,
) -> usize {
    let mut orgs: Vec<&OrgId> = others
        .iter()
        .filter(|(org, lon, lat, at, counted)| {
            *counted && org != reporter_org && similar(report, (*lon, *lat, *at), window)
        })
        .map(|(org, ..)| org)
        .collect();
    orgs.sort();
    orgs.dedup();
    orgs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_need_two_organisations_linked_by_nearness() {
        let (mall, patrol) = (OrgId::from("mall"), OrgId::from("patrol"));
        let day = 86_400_000;
        let reports = [
            (&mall, 24.9410, 60.1685, 0),
            (&patrol, 24.9418, 60.1687, day),      // 45 m, a day later: with the first
            (&mall, 24.9505, 60.1699, 2 * day),    // 500 m away: alone
            (&mall, 24.9600, 60.1700, 0),          // two of the mall's own, together:
            (&mall, 24.9601, 60.1700, day),        // not a cluster (one organisation)
            (&patrol, 24.9410, 60.1685, 40 * day), // same place, 40 days later: alone
        ];
        assert_eq!(sightings_clusters(&reports, &SightingWindow::default()), vec![vec![0, 1]]);
    }
    use proptest::prelude::*;

    fn draft() -> ReportDraft {
        ReportDraft {
            kind: "hostile_reconnaissance".into(),
            observed_at_ms: 1_000,
            lon: 24.9458,
            lat: 60.1686,
            site_id: None,
            text: "A man filmed the service entrance\nthree days in a row.".into(),
            marking: Marking::Amber,
            recipients: Recipients { orgs: vec!["police".into()], ..Recipients::default() },
        }
    }

    #[test]
    fn a_report_names_its_kind_place_text_and_recipients() {
        assert!(draft().check().is_ok());
        let field = |d: ReportDraft| match d.check() {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(ReportDraft { kind: "rumour".into(), ..draft() }), "kind");
        assert_eq!(field(ReportDraft { lat: 91.0, ..draft() }), "location");
        assert_eq!(field(ReportDraft { lon: f64::NAN, ..draft() }), "location");
        assert_eq!(field(ReportDraft { text: "  ".into(), ..draft() }), "text");
        assert_eq!(field(ReportDraft { recipients: Recipients::default(), ..draft() }), "recipients");
        assert_eq!(field(ReportDraft { marking: Marking::Red, ..draft() }), "recipients");
    }

    #[test]
    fn distances_are_right_at_city_scale() {
        // Senate Square to the central station: 0.0108° of longitude (about 598 m at this
        // latitude) and 0.0016° of latitude (178 m), so about 624 m.
        let d = distance_m(24.9522, 60.1694, 24.9414, 60.1710);
        assert!((550.0..650.0).contains(&d), "{d}");
        assert!(distance_m(24.95, 60.17, 24.95, 60.17) < 1e-6);
    }

    #[test]
    fn nearby_reports_of_other_organisations_are_counted_once_each() {
        let w = SightingWindow::default();
        let day = 86_400_000;
        let here = (24.9458, 60.1686, 10 * day);
        let mall: OrgId = "mall".into();
        let others = vec![
            ("venue".into(), 24.9460, 60.1687, 9 * day, true), // 15 m, a day apart
            ("venue".into(), 24.9461, 60.1688, 8 * day, true), // the same organisation again
            ("station".into(), 24.9480, 60.1690, 11 * day, true), // about 130 m
            ("mall".into(), 24.9458, 60.1686, 10 * day, true), // the reporter's own
            ("market".into(), 24.9600, 60.1686, 10 * day, true), // 780 m: too far
            ("church".into(), 24.9459, 60.1686, 30 * day, true), // 20 days: too late
            ("hotel".into(), 24.9459, 60.1686, 10 * day, false), // RED to someone else
        ];
        assert_eq!(similar_organisations(here, &mall, &others, &w), 2);
    }

    proptest! {
        #[test]
        fn the_count_never_exceeds_the_other_organisations_and_never_counts_the_hidden(
            points in proptest::collection::vec((0u8..6, -0.01f64..0.01, -0.01f64..0.01, 0i64..30, any::<bool>()), 0..30),
        ) {
            let w = SightingWindow::default();
            let day = 86_400_000;
            let others: Vec<(OrgId, f64, f64, i64, bool)> = points
                .iter()
                .map(|(org, dx, dy, d, counted)| (OrgId::from(format!("o{org}")), 24.95 + dx, 60.17 + dy, d * day, *counted))
                .collect();
            let reporter = OrgId::from("o0");
            let n = similar_organisations((24.95, 60.17, 15 * day), &reporter, &others, &w);
            let visible_others: std::collections::BTreeSet<&OrgId> =
                others.iter().filter(|o| o.4 && o.0 != reporter).map(|o| &o.0).collect();
            prop_assert!(n <= visible_others.len());
            let hidden_only: Vec<_> = others.iter().map(|o| (o.0.clone(), o.1, o.2, o.3, false)).collect();
            prop_assert_eq!(similar_organisations((24.95, 60.17, 15 * day), &reporter, &hidden_only, &w), 0);
        }
    }
}
