//! The demo library's catalogue (`data/demo/library/`, sources in its `SOURCES.md`): which
//! file is which document. The files are embedded, so the demo works from any directory.
use crate::Lang;
use crate::ingest::IngestOptions;

pub struct DemoEntry {
    pub filename: &'static str,
    pub title: &'static str,
    pub date: &'static str,
    pub source: &'static str,
    pub tags: &'static [&'static str],
    pub bytes: &'static [u8],
    /// Loaded by `vigie serve --demo`. A raw extraction of a document the demo already holds
    /// stays out of it (a user would see the same document twice) and serves the tests of
    /// PDF clean-up and near-duplicate detection only.
    pub in_demo: bool,
}

/// The documents `vigie serve --demo` loads.
pub fn demo_documents() -> impl Iterator<Item = &'static DemoEntry> {
    DEMO_LIBRARY.iter().filter(|entry| entry.in_demo)
}

pub const DEMO_LIBRARY: &[DemoEntry] = &[
    DemoEntry {
        filename: "com-2017-612-plan-action-espaces-publics.md",
        title: "Plan d'action visant à améliorer la protection des espaces publics — COM(2017) 612",
        date: "2017-10-18",
        source: "European Commission, COM(2017) 612 final",
        tags: &["eu", "action-plan", "public-spaces"],
        bytes: include_bytes!("../../../data/demo/library/com-2017-612-plan-action-espaces-publics.md"),
        in_demo: true,
    },
    DemoEntry {
        filename: "com-2017-612-plan-action-espaces-publics.pdf-extraction.txt",
        title: "Plan d'action visant à améliorer la protection des espaces publics — COM(2017) 612 (extraction PDF)",
        date: "2017-10-18",
        source: "European Commission, COM(2017) 612 final",
        tags: &["eu", "action-plan", "public-spaces"],
        bytes: include_bytes!("../../../data/demo/library/com-2017-612-plan-action-espaces-publics.pdf-extraction.txt"),
        in_demo: false,
    },
    DemoEntry {
        filename: "com-2020-605-strategie-union-securite.pdf-extraction.txt",
        title: "Stratégie de l'UE pour l'union de la sécurité — COM(2020) 605",
        date: "2020-07-24",
        source: "European Commission, COM(2020) 605 final",
        tags: &["eu", "strategy"],
        bytes: include_bytes!("../../../data/demo/library/com-2020-605-strategie-union-securite.pdf-extraction.txt"),
        in_demo: true,
    },
    DemoEntry {
        filename: "ip-20-2328-rapport-union-securite.md",
        title: "Rapport sur l'union de la sécurité : conserver la dynamique de mise en œuvre des initiatives clés — IP/20/2328",
        date: "2020-12-09",
        source: "European Commission, press release IP/20/2328",
        tags: &["eu", "press-release"],
        bytes: include_bytes!("../../../data/demo/library/ip-20-2328-rapport-union-securite.md"),
        in_demo: true,
    },
    DemoEntry {
        filename: "cted-note-partenariat-public-prive-securite-urbaine.md",
        title: "Innovation et partenariat public-privé dans le domaine de la sécurité urbaine — note conceptuelle",
        date: "2019-01-01",
        source: "United Nations Counter-Terrorism Committee Executive Directorate (CTED)",
        tags: &["un", "public-private-partnership"],
        bytes: include_bytes!("../../../data/demo/library/cted-note-partenariat-public-prive-securite-urbaine.md"),
        in_demo: true,
    },
];

impl DemoEntry {
    /// Ingest options for this entry, owned by `org_id`, TLP:CLEAR, French.
    pub fn options(&self, org_id: &str) -> IngestOptions {
        let mut o = IngestOptions::new(org_id);
        o.document_id = Some(crate::ingest::slug(self.filename));
        o.title = Some(self.title.to_owned());
        o.date = crate::parse_date(self.date).ok();
        o.source = Some(self.source.to_owned());
        o.tags = self.tags.iter().map(|t| (*t).to_owned()).collect();
        o.language = Some(Lang::Fr);
        o
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entries_have_valid_dates_and_distinct_ids() {
        let ids: std::collections::HashSet<String> =
            super::DEMO_LIBRARY.iter().map(|e| e.options("o").document_id.unwrap_or_default()).collect();
        assert_eq!(ids.len(), super::DEMO_LIBRARY.len());
        assert!(super::DEMO_LIBRARY.iter().all(|e| e.options("o").date.is_some()));
    }
}
