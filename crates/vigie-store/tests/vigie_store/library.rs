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

/// Migration 0018 puts the library under the TLP rule: documents marked before it keep the
/// readers the rule can name (a GREEN document, then readable by everyone signed in, its
/// organisation's communities; a RED one, then readable by its organisation, its people) and
/// their first author. A SQLite database as it stood at migration 0017 is opened by the store.
#[tokio::test]
async fn documents_marked_before_the_rule_keep_the_readers_it_can_name() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    use vigie_store::{LibraryStore, SqliteStore};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("before-0018.db");
    let pool =
        SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true)).await.unwrap();
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut before = sqlx::migrate::Migrator::new(folder).await.unwrap();
    before.migrations = std::borrow::Cow::Owned(before.migrations.iter().filter(|m| m.version < 18).cloned().collect());
    before.run(&pool).await.unwrap();
    let document = |id: &str, marking: &str| {
        format!(
            "INSERT INTO library_documents (id, org_id, title, language, tags, marking, version, content_hash, format, filename, char_count, signature, generation, created_at, updated_at) VALUES ('{id}', 'mall', '{id}', 'fr', '[]', '{marking}', 1, 'h', 'markdown', '{id}.md', 10, '[]', 1, 0, 0)"
        )
    };
    let version = |id: &str| {
        format!(
            "INSERT INTO library_versions (document_id, version, content_hash, metadata, created_at, created_by) VALUES ('{id}', 1, 'h', '{{}}', 0, 'u-guard')"
        )
    };
    for sql in [
        "INSERT INTO orgs (id, name, kind, created_at) VALUES ('mall', 'Mall', 'operator', 0), ('city', 'City', 'authority', 0)".to_owned(),
        "INSERT INTO users (id, email, org_id, role, password_hash, created_at) VALUES ('u-guard', 'guard@example.org', 'mall', 'operator', 'x', 0), ('u-manager', 'manager@example.org', 'mall', 'operator', 'x', 0), ('u-officer', 'officer@example.org', 'city', 'authority', 'x', 0)".to_owned(),
        "INSERT INTO communities (id, name, owner_org, created_at) VALUES ('forum', 'Forum', 'city', 0), ('old', 'Old forum', 'city', 0)".to_owned(),
        "INSERT INTO community_members (community_id, org_id, state, invited_at) VALUES ('forum', 'mall', 'member', 0), ('forum', 'city', 'member', 0), ('old', 'mall', 'left', 0)".to_owned(),
        document("green", "TLP:GREEN"),
        document("red", "TLP:RED"),
        document("amber", "TLP:AMBER"),
        version("green"),
        version("red"),
        version("amber"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
    let documents = store.list_library_documents().await.unwrap();
    let of = |id: &str| documents.iter().find(|d| d.document.id == id).unwrap();
    assert_eq!(
        of("green").document.recipients.communities,
        vec![vigie_domain::CommunityId::from("forum")],
        "a community it was still in"
    );
    let mut people = of("red").document.recipients.users.clone();
    people.sort();
    let expected: Vec<vigie_domain::UserId> = vec!["u-guard".into(), "u-manager".into()];
    assert_eq!(people, expected, "its organisation's people, not the city's");
    assert_eq!(of("amber").document.recipients, Default::default(), "AMBER already meant its organisation");
    assert!(documents.iter().all(|d| d.author_id == "u-guard"), "the first version's author");
}
