//! The library's stories, on every backend.
use vigie_domain::DocumentId;
use vigie_domain::access::OrgKind;
use vigie_domain::audit::verify_chain;
use vigie_search::{IngestOptions, Marking, ParsedDocument};
use vigie_store::{IngestStatus, StoreError};

use super::{backends, ctx};

fn parsed(org: &str, id: &str, text: &str, marking: Marking) -> ParsedDocument {
    let mut o = IngestOptions::new(org);
    o.document_id = Some(id.into());
    o.marking = marking;
    o.tags = vec!["guide".into()];
    vigie_search::parse(text.as_bytes(), &format!("{id}.md"), o).unwrap()
}

const V1: &str =
    "# Guide\n\n## Bornes\n\nLes bornes protègent les entrées.\n\n## Chiens\n\nLes chiens détecteurs patrouillent.";
const V2: &str =
    "# Guide\n\n## Bornes\n\nLes bornes protègent les entrées.\n\n## Chiens\n\nLes barrières ferment la rue.";

#[tokio::test]
async fn ingest_versions_documents_and_reingest_changes_nothing() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend();
        let org = store.create_org(&ctx(1), "City", OrgKind::Authority).await.unwrap();
        assert_eq!(store.library_generation().await.unwrap(), 0);

        let first = store.ingest_document(&ctx(2), &parsed(&org.id, "guide", V1, Marking::Clear)).await.unwrap();
        assert_eq!(
            (first.status, first.version, first.passages, first.generation),
            (IngestStatus::Created, 1, 2, 1),
            "{name}"
        );
        let again = store.ingest_document(&ctx(3), &parsed(&org.id, "guide", V1, Marking::Clear)).await.unwrap();
        assert_eq!(
            (again.status, again.version, again.generation),
            (IngestStatus::Unchanged, 1, 1),
            "{name}: same bytes, nothing changes"
        );

        let second = store.ingest_document(&ctx(4), &parsed(&org.id, "guide", V2, Marking::Clear)).await.unwrap();
        assert_eq!((second.status, second.version, second.generation), (IngestStatus::Updated, 2, 2), "{name}");
        let passages = store.library_passages(&DocumentId::new("guide")).await.unwrap();
        assert_eq!(
            passages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            vec!["Les bornes protègent les entrées.", "Les barrières ferment la rue."]
        );
        // The unchanged paragraph keeps its id across versions; the old one is superseded.
        let v1 = parsed(&org.id, "guide", V1, Marking::Clear);
        assert_eq!(passages[0].id, v1.passages[0].id);
        assert!(
            store.library_passage(&v1.passages[1].id).await.unwrap().is_none(),
            "{name}: superseded passages are not served"
        );
        assert_eq!(store.library_passage(&passages[1].id).await.unwrap().as_ref(), Some(&passages[1]));

        // A marking change alone is a new version too: access depends on it.
        let amber = store.ingest_document(&ctx(5), &parsed(&org.id, "guide", V2, Marking::Amber)).await.unwrap();
        assert_eq!((amber.status, amber.version), (IngestStatus::Updated, 3));
        let doc = store.library_document(&DocumentId::new("guide")).await.unwrap().unwrap();
        assert_eq!(
            (doc.document.marking, doc.version, doc.document.tags.clone()),
            (Marking::Amber, 3, vec!["guide".to_owned()])
        );
        assert_eq!((doc.created_at_ms, doc.updated_at_ms), (2, 5));
        assert_eq!(doc.content.signature.len(), vigie_search::dedup::SIGNATURE_LEN);

        let entries = store.audit_entries().await.unwrap();
        let ingests: Vec<&str> = entries
            .iter()
            .filter(|e| e.record.action == "library.ingest")
            .map(|e| e.record.details["status"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ingests, vec!["created", "unchanged", "updated", "updated"], "{name}: every ingest is audited");
        assert!(
            entries.iter().all(|e| !e.record.details.to_string().contains("chiens")),
            "{name}: no document text in the audit log"
        );
        assert_eq!(verify_chain(&entries), Ok(entries.len() as u64));
    }
}

#[tokio::test]
async fn changes_since_a_generation_feed_the_index() {
    for backend in backends().await {
        let store = &backend.store;
        let a = store.create_org(&ctx(1), "A", OrgKind::Operator).await.unwrap();
        let b = store.create_org(&ctx(1), "B", OrgKind::Operator).await.unwrap();
        store.ingest_document(&ctx(2), &parsed(&a.id, "one", V1, Marking::Clear)).await.unwrap();
        store.ingest_document(&ctx(3), &parsed(&b.id, "two", V2, Marking::Red)).await.unwrap();
        let all = store.library_changes(0).await.unwrap();
        assert_eq!(all.generation, 2);
        assert_eq!(
            all.documents.iter().map(|d| (d.document.id.as_str(), d.passages.len())).collect::<Vec<_>>(),
            vec![("one", 2), ("two", 2)]
        );
        assert_eq!(
            all.documents[0],
            parsed(&a.id, "one", V1, Marking::Clear),
            "{}: a document reads back as parsed",
            store.backend()
        );
        store.ingest_document(&ctx(4), &parsed(&a.id, "one", V2, Marking::Clear)).await.unwrap();
        let since = store.library_changes(2).await.unwrap();
        assert_eq!((since.generation, since.documents.len(), since.documents[0].document.id.as_str()), (3, 1, "one"));
        assert!(store.library_changes(3).await.unwrap().documents.is_empty());

        let listed: Vec<DocumentId> =
            store.list_library_documents().await.unwrap().into_iter().map(|d| d.document.id).collect();
        assert_eq!(listed.len(), 2);
        // Ids are global: another organisation cannot overwrite a document by reusing its id.
        let taken = store.ingest_document(&ctx(5), &parsed(&b.id, "one", V1, Marking::Clear)).await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))), "{}", store.backend());
        assert_eq!(store.library_generation().await.unwrap(), 3, "a refused ingest leaves nothing behind");
    }
}
