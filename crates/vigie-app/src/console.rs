//! The machine's operator at the command line: organisations, oversight, users and tokens.
//! The operator holds the database anyway, so the console has every right; every write is
//! audited as the actor `cli`, with no organisation.
use serde_json::json;
use vigie_domain::access::{OrgKind, Principal, Role};
use vigie_domain::audit::AuditRecord;
use vigie_domain::library::ParsedDocument;
use vigie_domain::site::Site;
use vigie_domain::site::SiteCategory;
use vigie_domain::{DomainError, OrgId, TokenId};
use vigie_search::{SearchQuery, SearchResults, SharedLibrary};
use vigie_store::{
    ApiToken, ImportOutcome, LibraryIngest, NewSite, NewUser, Org, SiteFilter, SitePage, User, WriteContext,
};

use crate::accounts::NewToken;
use crate::secrets::{hash_password, new_secret, secret_hash};
use crate::{App, Code, Failure, Result};

/// What the console does, on behalf of the machine's operator.
pub struct Console<'a> {
    app: &'a App,
}

/// An email address as far as Vigie can tell: it must hold an `@`.
pub fn check_email(email: &str) -> Result<()> {
    if email.contains('@') {
        Ok(())
    } else {
        Err(Failure::new(Code::ValidationFailed, format!("'{email}' is not an email address")))
    }
}

impl App {
    pub fn console(&self) -> Console<'_> {
        Console { app: self }
    }
}

impl Console<'_> {
    fn write_context(&self) -> WriteContext {
        WriteContext { at_ms: self.app.now_ms(), actor: "cli".into(), actor_org: None }
    }

    /// Records a read made at the console; fails closed when the entry cannot be written.
    async fn audit_read(&self, object_type: &str, details: serde_json::Value) -> Result<()> {
        let record = AuditRecord {
            at_ms: self.app.now_ms(),
            actor: "cli".into(),
            actor_org: None,
            action: format!("{object_type}.read"),
            object_type: object_type.to_owned(),
            object_id: None,
            details,
        };
        self.app.audit.append(record).await
    }

    /// A page of sites, of one organisation (by name) or all; audited.
    pub async fn list_sites(&self, org: Option<&str>, category: Option<&str>, limit: u32) -> Result<SitePage> {
        let orgs = match org {
            Some(name) => Some(vec![self.organisation_named(name).await?.id]),
            None => None,
        };
        let category = category.map(SiteCategory::from_key).transpose()?;
        let page = self.app.store.list_sites(&SiteFilter { orgs, category, limit, ..Default::default() }).await?;
        let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
        self.audit_read("site", json!({"list": ids})).await?;
        Ok(page)
    }

    /// What the console may read of the library: everything, or what the user with `email`
    /// may read.
    pub async fn readable_library(&self, email: Option<&str>) -> Result<crate::library::Readable> {
        match email {
            None => Ok(crate::library::Readable::everything(self.app.store.list_library_documents().await?)),
            Some(email) => {
                let user = self.user_with_email(email).await?;
                crate::library::readable_by(self.app.store.as_ref(), &user.id, &user.org_id).await
            }
        }
    }

    /// Searches the library as the operator or as the user with `as_user`; audited with the
    /// query and the passages found, never their text.
    pub async fn search_library(
        &self,
        library: &SharedLibrary,
        query: &SearchQuery,
        as_user: Option<&str>,
    ) -> Result<SearchResults> {
        let readable = self.readable_library(as_user).await?;
        let results = library.search(query, &readable.access)?;
        let passages: Vec<&str> = results.results.iter().map(|h| h.passage_id.as_str()).collect();
        self.audit_read(
            "library_search",
            json!({"q": query.text, "as": as_user, "total": results.total, "passages": passages}),
        )
        .await?;
        Ok(results)
    }

    /// The organisation named `name`, or an error that says how to list them.
    pub async fn organisation_named(&self, name: &str) -> Result<Org> {
        self.app.store.org_by_name(name).await?.ok_or_else(|| {
            Failure::new(Code::NotFound, format!("no organisation named '{name}' (see `vigie orgs list`)"))
        })
    }

    /// The user with `email`, or an error that says how to list them.
    pub async fn user_with_email(&self, email: &str) -> Result<User> {
        let found = self.app.store.user_by_email(email).await?;
        found.map(|f| f.user).ok_or_else(|| {
            Failure::new(Code::NotFound, format!("no user with email '{email}' (see `vigie users list`)"))
        })
    }

    pub async fn create_organisation(&self, name: &str, kind: OrgKind) -> Result<Org> {
        if name.trim().is_empty() {
            return Err(DomainError::validation("name", "an organisation needs a name").into());
        }
        Ok(self.app.store.create_org(&self.write_context(), name, kind).await?)
    }

    /// The organisation named `name`, created with `kind` if there is none.
    pub async fn ensure_organisation(&self, name: &str, kind: OrgKind) -> Result<Org> {
        match self.app.store.org_by_name(name).await? {
            Some(org) => Ok(org),
            None => self.create_organisation(name, kind).await,
        }
    }

    /// The account `email` as a caller, for the commands the machine's operator runs on
    /// someone's behalf (`vigie bulletins … --as EMAIL`): it may do and read exactly what that
    /// person may, and what it writes is audited as theirs.
    pub async fn principal_of(&self, email: &str) -> Result<Principal> {
        let found = self.app.store.user_by_email(email).await?.ok_or_else(|| Failure::not_found("user"))?;
        let user = found.user;
        if user.disabled_at_ms.is_some() {
            return Err(Failure::forbidden("this account is disabled"));
        }
        let overseen_orgs = self
            .app
            .store
            .oversight_links()
            .await?
            .into_iter()
            .filter(|(a, _)| *a == user.org_id)
            .map(|(_, b)| b)
            .collect();
        Ok(Principal {
            user_id: user.id,
            email: user.email,
            org_id: user.org_id,
            role: user.role,
            overseen_orgs,
            manages_org: user.manages_org,
            // The operator of the machine is not asked for the person's second factor.
            must_enrol_second_factor: false,
        })
    }

    pub async fn user_exists(&self, email: &str) -> Result<bool> {
        Ok(self.app.store.user_by_email(email).await?.is_some())
    }

    /// Imports sites for the organisation `org_id` in one transaction (see
    /// `Store::import_sites`: re-imports update what changed and leave local edits alone).
    /// Sites about to be imported that look like one the organisation already has (see
    /// [`App::look_alikes`]); the import goes on, the caller warns.
    pub async fn possible_duplicates(&self, org_id: &OrgId, sites: &[NewSite]) -> Result<Vec<(usize, Site)>> {
        self.app.look_alikes(org_id, sites).await
    }

    pub async fn import_sites(&self, org_id: &OrgId, sites: &[NewSite]) -> Result<ImportOutcome> {
        Ok(self.app.store.import_sites(&self.write_context(), org_id, sites).await?)
    }

    /// Stores a parsed document (or a new version of it) in the library.
    pub async fn ingest_document(&self, parsed: &ParsedDocument) -> Result<LibraryIngest> {
        Ok(self.app.store.ingest_document(&self.write_context(), parsed).await?)
    }

    pub async fn organisations(&self) -> Result<Vec<Org>> {
        Ok(self.app.store.list_orgs().await?)
    }

    /// Lets the authority `authority` read the sites of `overseen`; returns both.
    pub async fn oversee(&self, authority: &str, overseen: &str) -> Result<(Org, Org)> {
        let authority = self.organisation_named(authority).await?;
        crate::accounts::check_can_oversee(&authority)?;
        let overseen = self.organisation_named(overseen).await?;
        self.app.store.add_oversight(&self.write_context(), &authority.id, &overseen.id).await?;
        Ok((authority, overseen))
    }

    pub async fn add_user(&self, email: String, org: &str, role: Role, password: &str) -> Result<User> {
        check_email(&email)?;
        let password_hash = hash_password(password)?;
        let org = self.organisation_named(org).await?;
        let user = NewUser { email, org_id: org.id, role, password_hash };
        Ok(self.app.store.create_user(&self.write_context(), user).await?)
    }

    /// A new API token for the user with `email`; its secret is shown once.
    pub async fn create_token(&self, email: &str, name: &str) -> Result<(User, NewToken)> {
        let user = self.user_with_email(email).await?;
        let secret = new_secret("vg_");
        let token = self.app.store.create_token(&self.write_context(), &user.id, name, &secret_hash(&secret)).await?;
        Ok((user, NewToken { token, secret }))
    }

    pub async fn tokens(&self, email: &str) -> Result<Vec<ApiToken>> {
        let user = self.user_with_email(email).await?;
        Ok(self.app.store.list_tokens(&user.id).await?)
    }

    pub async fn revoke_token(&self, email: &str, token_id: &TokenId) -> Result<()> {
        let user = self.user_with_email(email).await?;
        Ok(self.app.store.revoke_token(&self.write_context(), &user.id, token_id).await?)
    }
}
