//! `/v1/groups`: the group tree, memberships and group roles. Rules live in
//! `service::groups`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::groups::{self, Group, GroupInput, Member, Node};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::roles::RoleNames;
use crate::rest::extract::{Authenticated, Json, Path};
use crate::rest::nullable::double_option;
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBody {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    /// `company`, `subsidiary`, `division`, `department`, `team` or `other`.
    pub kind: String,
    pub description: String,
    /// Roles granted to the group (its members and those of its subgroups hold them).
    pub roles: Vec<String>,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Group> for GroupBody {
    fn from(g: Group) -> Self {
        GroupBody {
            id: g.id,
            parent_id: g.parent_id,
            name: g.name,
            kind: g.kind,
            description: g.description,
            roles: g.roles,
            member_count: g.member_count,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    pub items: Vec<GroupBody>,
}

/// Every group of the tenant, flat (see `/v1/groups/tree` for the nesting).
#[utoipa::path(get, path = "/groups", tag = "groups", responses((status = 200, body = GroupList)), security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<GroupList>> {
    let items = groups::list(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(GroupList { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupNode {
    #[serde(flatten)]
    pub group: GroupBody,
    #[schema(no_recursion)]
    pub children: Vec<GroupNode>,
}

impl From<Node> for GroupNode {
    fn from(n: Node) -> Self {
        GroupNode {
            group: n.group.into(),
            children: n.children.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupTree {
    pub roots: Vec<GroupNode>,
}

/// The groups as a tree: roots, each with its children.
#[utoipa::path(get, path = "/groups/tree", tag = "groups", responses((status = 200, body = GroupTree)), security(("bearer" = [])))]
pub async fn tree(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<GroupTree>> {
    let roots = groups::tree(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(GroupTree { roots }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub description: Option<String>,
    /// The parent group; `null` makes it a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}

impl From<GroupRequest> for GroupInput {
    fn from(r: GroupRequest) -> Self {
        GroupInput {
            name: r.name,
            kind: r.kind,
            description: r.description,
            parent_id: r.parent_id,
        }
    }
}

/// Create a group, optionally under a parent.
#[utoipa::path(post, path = "/groups", tag = "groups", request_body = GroupRequest,
    responses((status = 201, body = GroupBody), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<GroupRequest>,
) -> ApiResult<(StatusCode, axum::Json<GroupBody>)> {
    let group = groups::create(&ctx, &state.db, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(group.into())))
}

/// One group.
#[utoipa::path(get, path = "/groups/{id}", tag = "groups", params(("id" = Uuid, Path)),
    responses((status = 200, body = GroupBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<GroupBody>> {
    Ok(axum::Json(groups::get(&ctx, &state.db, id).await?.into()))
}

/// Rename, describe or move a group (`parent_id`); a move under itself or a subgroup is
/// refused.
#[utoipa::path(patch, path = "/groups/{id}", tag = "groups", params(("id" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = GroupBody), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<GroupRequest>,
) -> ApiResult<axum::Json<GroupBody>> {
    Ok(axum::Json(
        groups::update(&ctx, &state.db, id, body.into())
            .await?
            .into(),
    ))
}

/// Delete a group; its subgroups move up to its parent.
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    groups::delete(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub identity_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl From<Member> for MemberBody {
    fn from(m: Member) -> Self {
        MemberBody {
            identity_id: m.identity_id,
            email: m.email,
            display_name: m.display_name,
            kind: m.kind,
            added_at: m.added_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberBody>,
}

/// The members of a group.
#[utoipa::path(get, path = "/groups/{id}/members", tag = "groups", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberList), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn members(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<MemberList>> {
    let items = groups::members(&ctx, &state.db, id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(MemberList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    pub identity_ids: Vec<Uuid>,
}

/// Add identities to a group.
#[utoipa::path(post, path = "/groups/{id}/members", tag = "groups", params(("id" = Uuid, Path)), request_body = AddMembers,
    responses((status = 200, body = MemberList), (status = 404, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn add_members(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<AddMembers>,
) -> ApiResult<axum::Json<MemberList>> {
    let items = groups::add_members(&ctx, &state.db, id, body.identity_ids)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(MemberList { items }))
}

/// Remove an identity from a group.
#[utoipa::path(delete, path = "/groups/{id}/members/{identity_id}", tag = "groups",
    params(("id" = Uuid, Path), ("identity_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn remove_member(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path((id, identity_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    groups::remove_member(&ctx, &state.db, id, identity_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles granted to a group.
#[utoipa::path(get, path = "/groups/{id}/roles", tag = "groups", params(("id" = Uuid, Path)),
    responses((status = 200, body = RoleNames), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn roles(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<RoleNames>> {
    let group = groups::get(&ctx, &state.db, id).await?;
    Ok(axum::Json(RoleNames { roles: group.roles }))
}

/// Replace the roles granted to a group.
#[utoipa::path(put, path = "/groups/{id}/roles", tag = "groups", params(("id" = Uuid, Path)), request_body = RoleNames,
    responses((status = 200, body = RoleNames), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_roles(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<RoleNames>,
) -> ApiResult<axum::Json<RoleNames>> {
    let group = groups::set_roles(&ctx, &state.db, id, body.roles).await?;
    Ok(axum::Json(RoleNames { roles: group.roles }))
}
