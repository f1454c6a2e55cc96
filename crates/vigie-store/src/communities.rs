//! Communities of organisations and their memberships: who is in the scope of TLP:GREEN.
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Row as _, Type};
use vigie_domain::sharing::{Community, Membership, MembershipState};
use vigie_domain::{CommunityId, OrgId};

use crate::sql::{Backend, Sql, Value, conflict_or, new_id};
use crate::{Result, StoreError, WriteContext};

const MEMBER_COLUMNS: &str = "org_id, state, invited_at, joined_at, left_at";

#[async_trait]
pub trait CommunityStore: Send + Sync {
    /// Creates a community owned by `owner_org`, which is its first member.
    async fn create_community(&self, ctx: &WriteContext, name: &str, owner_org: &OrgId) -> Result<Community>;
    async fn community(&self, id: &CommunityId) -> Result<Option<Community>>;
    /// Every organisation ever invited, by when it was invited.
    async fn community_members(&self, id: &CommunityId) -> Result<Vec<Membership>>;
    /// The communities `org` is invited to or a member of, by name, with its state in each.
    async fn communities_of(&self, org: &OrgId) -> Result<Vec<(Community, MembershipState)>>;
    /// Invites `org` (again, if it left); `Conflict` when it is invited or a member already.
    async fn invite_to_community(&self, ctx: &WriteContext, id: &CommunityId, org: &OrgId) -> Result<Membership>;
    /// Moves `org`'s membership from `from` to `to` (accepting: invited → member; leaving:
    /// member or invited → left); `NotFound` when it is not in state `from`.
    async fn change_membership(
        &self,
        ctx: &WriteContext,
        id: &CommunityId,
        org: &OrgId,
        from: &[MembershipState],
        to: MembershipState,
    ) -> Result<Membership>;
}

#[async_trait]
impl<B, DB> CommunityStore for B
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    #[tracing::instrument(skip_all)]
    async fn create_community(&self, ctx: &WriteContext, name: &str, owner_org: &OrgId) -> Result<Community> {
        let community = Community {
            id: new_id().into(),
            name: name.trim().to_owned(),
            owner_org: owner_org.clone(),
            created_at_ms: ctx.at_ms,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO communities (id, name, owner_org, created_at) VALUES ($1, $2, $3, $4)")
            .bind(community.id.as_str())
            .bind(&community.name)
            .bind(owner_org.as_str())
            .bind(ctx.at_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("a community named '{}' already exists", community.name)))?;
        sqlx::query(
            "INSERT INTO community_members (community_id, org_id, state, invited_at, joined_at) VALUES ($1, $2, 'member', $3, $3)",
        )
        .bind(community.id.as_str())
        .bind(owner_org.as_str())
        .bind(ctx.at_ms)
        .execute(&mut *tx)
        .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "community.create",
            "community",
            Some(&community.id),
            serde_json::json!({"name": community.name, "owner_org": owner_org}),
        )
        .await?;
        tx.commit().await?;
        Ok(community)
    }

    async fn community(&self, id: &CommunityId) -> Result<Option<Community>> {
        let row = sqlx::query("SELECT id, name, owner_org, created_at FROM communities WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(community_from_row::<DB>).transpose()
    }

    async fn community_members(&self, id: &CommunityId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM community_members WHERE community_id = $1 ORDER BY invited_at, org_id"
        ))
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(membership_from_row::<DB>).collect()
    }

    async fn communities_of(&self, org: &OrgId) -> Result<Vec<(Community, MembershipState)>> {
        let rows = sqlx::query("SELECT c.id, c.name, c.owner_org, c.created_at, m.state FROM communities c JOIN community_members m ON m.community_id = c.id WHERE m.org_id = $1 AND m.state <> 'left' ORDER BY c.name")
            .bind(org.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                let state = MembershipState::from_key(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((community_from_row::<DB>(row)?, state))
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn invite_to_community(&self, ctx: &WriteContext, id: &CommunityId, org: &OrgId) -> Result<Membership> {
        let mut tx = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM community_members WHERE community_id = $1 AND org_id = $2")
                .bind(id.as_str())
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match current.as_deref() {
            Some("invited") | Some("member") => {
                return Err(StoreError::Conflict("this organisation is invited or a member already".into()));
            }
            Some(_) => {
                sqlx::query("UPDATE community_members SET state = 'invited', invited_at = $1, joined_at = NULL, left_at = NULL WHERE community_id = $2 AND org_id = $3")
                    .bind(ctx.at_ms)
                    .bind(id.as_str())
                    .bind(org.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO community_members (community_id, org_id, state, invited_at) VALUES ($1, $2, 'invited', $3)")
                    .bind(id.as_str())
                    .bind(org.as_str())
                    .bind(ctx.at_ms)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Sql::<DB>::audit(&mut tx, ctx, "community.invite", "community", Some(id), serde_json::json!({"org_id": org}))
            .await?;
        tx.commit().await?;
        Ok(Membership {
            org_id: org.clone(),
            state: MembershipState::Invited,
            invited_at_ms: ctx.at_ms,
            joined_at_ms: None,
            left_at_ms: None,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn change_membership(
        &self,
        ctx: &WriteContext,
        id: &CommunityId,
        org: &OrgId,
        from: &[MembershipState],
        to: MembershipState,
    ) -> Result<Membership> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM community_members WHERE community_id = $1 AND org_id = $2"
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let before = row.as_ref().map(membership_from_row::<DB>).transpose()?;
        let Some(before) = before.filter(|m| from.contains(&m.state)) else {
            return Err(StoreError::NotFound("membership".into()));
        };
        let (joined_at_ms, left_at_ms) = match to {
            MembershipState::Member => (Some(ctx.at_ms), None),
            MembershipState::Left => (before.joined_at_ms, Some(ctx.at_ms)),
            MembershipState::Invited => (None, None),
        };
        sqlx::query(
            "UPDATE community_members SET state = $1, joined_at = $2, left_at = $3 WHERE community_id = $4 AND org_id = $5",
        )
        .bind(to.key())
        .bind(joined_at_ms)
        .bind(left_at_ms)
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await?;
        Sql::<DB>::audit(
            &mut tx,
            ctx,
            "community.membership",
            "community",
            Some(id),
            serde_json::json!({"org_id": org, "from": before.state.key(), "to": to.key()}),
        )
        .await?;
        tx.commit().await?;
        Ok(Membership { state: to, joined_at_ms, left_at_ms, ..before })
    }
}

fn community_from_row<DB: Database>(row: &DB::Row) -> Result<Community>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
{
    Ok(Community {
        id: row.try_get::<String, _>("id")?.into(),
        name: row.try_get("name")?,
        owner_org: row.try_get::<String, _>("owner_org")?.into(),
        created_at_ms: row.try_get("created_at")?,
    })
}

fn membership_from_row<DB: Database>(row: &DB::Row) -> Result<Membership>
where
    for<'n> &'n str: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    Option<i64>: Value<DB>,
{
    let state: String = row.try_get("state")?;
    Ok(Membership {
        org_id: row.try_get::<String, _>("org_id")?.into(),
        state: MembershipState::from_key(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        invited_at_ms: row.try_get("invited_at")?,
        joined_at_ms: row.try_get("joined_at")?,
        left_at_ms: row.try_get("left_at")?,
    })
}
