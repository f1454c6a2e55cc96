//! Changing who may read a shared object: its marking and recipients. Only its source (the
//! author's organisation) does, raising or lowering
//! ([`vigie_domain::sharing::may_change_marking`]); the new recipients obey the same checks as
//! when it was written ([`App::resolve_recipients`]); the store audits the change and flags a
//! lowered marking. A caller who may not read the object gets the 404 of a missing one.
use std::collections::BTreeSet;

use serde_json::Value;
use vigie_domain::access::Principal;
use vigie_domain::bulletin::Bulletin;
use vigie_domain::report::FieldReport;
use vigie_domain::sharing::{Marking, Recipients, may_change_marking};
use vigie_domain::{BulletinId, DocumentId, OrgId, ReportId};
use vigie_store::MarkedObject;

use crate::{App, Failure, Result};

/// A new marking, and the recipients that go with it (absent: the current ones).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkingChange {
    pub marking: String,
    pub recipients: Option<Recipients>,
}

impl App {
    /// The checked marking and recipients, and the organisations they reach.
    async fn new_sharing(
        &self,
        caller: &Principal,
        author_org: &OrgId,
        change: MarkingChange,
        current: &Recipients,
    ) -> Result<(Marking, Recipients, BTreeSet<OrgId>)> {
        if !may_change_marking(caller, author_org) {
            return Err(Failure::forbidden("only the author's organisation changes who may read it"));
        }
        let marking = Marking::parse(&change.marking)?;
        let mut recipients = change.recipients.unwrap_or_else(|| current.clone());
        let reached = self.resolve_recipients(caller, marking, &mut recipients).await?;
        Ok((marking, recipients, reached))
    }

    pub async fn change_bulletin_marking(
        &self,
        caller: &Principal,
        id: &BulletinId,
        change: MarkingChange,
    ) -> Result<Bulletin> {
        let bulletin = self.readable_bulletin(caller, id).await?;
        let (marking, recipients, reached) =
            self.new_sharing(caller, &bulletin.author_org, change, &bulletin.draft.recipients).await?;
        let reached: Vec<OrgId> = reached.into_iter().collect();
        let object = MarkedObject::Bulletin(id);
        self.store.change_marking(&self.write_context(caller), object, marking, &recipients, &reached).await?;
        self.store.bulletin(id).await?.ok_or_else(|| Failure::not_found("bulletin"))
    }

    pub async fn change_report_marking(
        &self,
        caller: &Principal,
        id: &ReportId,
        change: MarkingChange,
    ) -> Result<FieldReport> {
        let report = self.readable_report(caller, id).await?;
        let (marking, recipients, _) =
            self.new_sharing(caller, &report.author_org, change, &report.draft.recipients).await?;
        let object = MarkedObject::FieldReport(id);
        self.store.change_marking(&self.write_context(caller), object, marking, &recipients, &[]).await?;
        self.store.report(id).await?.ok_or_else(|| Failure::not_found("field report"))
    }

    /// A library document's marking and recipients change as a new version of its metadata
    /// (same passages), so that its history keeps who could read it when.
    pub async fn change_document_marking(
        &self,
        caller: &Principal,
        id: &DocumentId,
        change: MarkingChange,
    ) -> Result<Value> {
        let stored = self.readable_document(caller, id).await?;
        let (marking, recipients, _) =
            self.new_sharing(caller, &stored.document.org_id, change, &stored.document.recipients).await?;
        let passages = self.store.library_passages(id).await?;
        let mut document = stored.document;
        document.marking = marking;
        document.recipients = recipients;
        let parsed = vigie_domain::library::ParsedDocument { document, version: stored.content, passages };
        self.store.ingest_document(&self.write_context(caller), &parsed).await?;
        if let Some(library) = &self.library {
            crate::library::refresh(self.store.as_ref(), library).await?;
        }
        Ok(crate::library::document_json(&self.readable_document(caller, id).await?))
    }
}
