//! The decision engine: one tenant's roles, groups and policies compiled into a form that
//! answers "may this principal do this to that?" in a few hundred nanoseconds, with an
//! explanation when asked.
//!
//! The algorithm, in [`Compiled::decide`]:
//! 1. Owners always keep `roles:*` and `policies:*` (the lock-out guard): whatever the
//!    policies say, an owner can repair them.
//! 2. Gather candidates: every grant or deny of the permission in the principal's roles
//!    (held directly or through a group or any of its ancestors), at priority 0; and every
//!    enabled policy whose patterns match the permission and whose condition (if any) is
//!    true, at its own priority.
//! 3. The highest priority decides; at equal priority deny beats allow.
//! 4. No candidate means deny ("no rule allowed").

use std::cell::OnceCell;
use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::catalog::{ALL_ACTIONS, MODULES, PERMISSION_COUNT, Permission};
use datalogic_rs::DataValue;

use super::logic::{self, Condition, RuleError};

const MATCHED: &str = "matched";

/// The priority of role grants and denies; policies above it override roles, below it only
/// fill gaps.
pub const ROLE_PRIORITY: i32 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Effect> {
        match s {
            "allow" | "grant" => Some(Effect::Allow),
            "deny" => Some(Effect::Deny),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub id: Uuid,
    pub name: String,
    pub permissions: Vec<(Permission, Effect)>,
}

#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub id: Uuid,
    pub name: String,
    pub parent: Option<Uuid>,
    pub roles: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub id: Uuid,
    pub name: String,
    pub effect: Effect,
    pub priority: i32,
    /// A module name or `*`.
    pub resource_pattern: String,
    /// An action name or `*`.
    pub action_pattern: String,
    pub condition: Option<Value>,
    pub enabled: bool,
}

/// Which half of a policy's pattern is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternPart {
    Resource,
    Action,
}

impl PatternPart {
    /// The field of a policy that holds this half.
    pub fn field(self) -> &'static str {
        match self {
            PatternPart::Resource => "resource_pattern",
            PatternPart::Action => "action_pattern",
        }
    }
}

/// Checks a policy's patterns against the catalogue: what is wrong with each half.
pub fn check_patterns(resource: &str, action: &str) -> Result<(), Vec<(PatternPart, String)>> {
    let mut wrong = Vec::new();
    if resource != "*" && !MODULES.contains(&resource) {
        wrong.push((
            PatternPart::Resource,
            format!(
                "unknown resource \"{resource}\": use * or one of {}",
                MODULES.join(", ")
            ),
        ));
    }
    if action != "*" && !ALL_ACTIONS.contains(&action) {
        wrong.push((
            PatternPart::Action,
            format!(
                "unknown action \"{action}\": use * or one of {}",
                ALL_ACTIONS.join(", ")
            ),
        ));
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong) }
}

struct CompiledRole {
    name: String,
    effects: [Option<Effect>; PERMISSION_COUNT],
}

struct CompiledPolicy {
    id: Uuid,
    name: String,
    effect: Effect,
    priority: i32,
    condition: Option<Condition>,
}

/// One tenant's access-control data, ready to decide.
pub struct Compiled {
    roles: HashMap<Uuid, CompiledRole>,
    owner_role: Option<Uuid>,
    /// Each group's roles together with those of all its ancestors.
    group_roles: HashMap<Uuid, Vec<Uuid>>,
    group_names: HashMap<Uuid, String>,
    policies: Vec<CompiledPolicy>,
    /// For each permission, the policies that can match it, highest priority first.
    by_permission: Vec<Vec<u32>>,
}

/// A policy whose condition does not compile.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub policy: Uuid,
    pub error: RuleError,
}

impl Compiled {
    /// Compiles a tenant's data. `owner_role` is the system role that the lock-out guard
    /// protects. Disabled policies are left out; a group cycle (which the service layer
    /// never stores) is cut where it closes.
    pub fn new(
        roles: Vec<RoleSpec>,
        owner_role: Option<Uuid>,
        groups: Vec<GroupSpec>,
        policies: Vec<PolicySpec>,
    ) -> Result<Compiled, CompileError> {
        let roles = roles
            .into_iter()
            .map(|r| {
                let mut effects = [None; PERMISSION_COUNT];
                for (p, e) in r.permissions {
                    effects[p.index()] = Some(e);
                }
                (
                    r.id,
                    CompiledRole {
                        name: r.name,
                        effects,
                    },
                )
            })
            .collect();

        let by_id: HashMap<Uuid, &GroupSpec> = groups.iter().map(|g| (g.id, g)).collect();
        let mut group_roles = HashMap::with_capacity(groups.len());
        for g in &groups {
            let mut acc: Vec<Uuid> = Vec::new();
            let mut seen = Vec::new();
            let mut cursor = Some(g);
            while let Some(group) = cursor {
                if seen.contains(&group.id) {
                    break;
                }
                seen.push(group.id);
                for r in &group.roles {
                    if !acc.contains(r) {
                        acc.push(*r);
                    }
                }
                cursor = group.parent.and_then(|p| by_id.get(&p).copied());
            }
            group_roles.insert(g.id, acc);
        }
        let group_names = groups.iter().map(|g| (g.id, g.name.clone())).collect();

        let mut enabled: Vec<PolicySpec> = policies.into_iter().filter(|p| p.enabled).collect();
        // Highest priority first; at equal priority, deny first (so a deny is seen before
        // an allow it beats), then by id for a stable order.
        enabled.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| (a.effect == Effect::Allow).cmp(&(b.effect == Effect::Allow)))
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut by_permission = vec![Vec::new(); PERMISSION_COUNT];
        let mut compiled = Vec::with_capacity(enabled.len());
        for (i, p) in enabled.into_iter().enumerate() {
            let condition = match &p.condition {
                Some(rule) => Some(logic::compile(rule).map_err(|error| CompileError {
                    policy: p.id,
                    error,
                })?),
                None => None,
            };
            for perm in super::catalog::all() {
                let resource_ok = p.resource_pattern == "*" || p.resource_pattern == perm.module;
                let action_ok = p.action_pattern == "*" || p.action_pattern == perm.action;
                if resource_ok && action_ok {
                    by_permission[perm.index()].push(i as u32);
                }
            }
            compiled.push(CompiledPolicy {
                id: p.id,
                name: p.name,
                effect: p.effect,
                priority: p.priority,
                condition,
            });
        }
        Ok(Compiled {
            roles,
            owner_role,
            group_roles,
            group_names,
            policies: compiled,
            by_permission,
        })
    }

    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// The roles a principal holds, directly or through its groups and their ancestors.
    pub fn effective_roles(&self, direct: &[Uuid], groups: &[Uuid]) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = direct.to_vec();
        for g in groups {
            for r in self
                .group_roles
                .get(g)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if !out.contains(r) {
                    out.push(*r);
                }
            }
        }
        out
    }

    pub fn role_name(&self, id: Uuid) -> Option<&str> {
        self.roles.get(&id).map(|r| r.name.as_str())
    }

    /// Whether the effective roles include the owner role.
    pub fn is_owner(&self, effective_roles: &[Uuid]) -> bool {
        self.owner_role
            .is_some_and(|o| effective_roles.contains(&o))
    }

    /// Decides a request. With `explain`, the decision carries every rule it considered.
    pub fn decide(&self, req: &Request<'_>, explain: bool) -> Decision {
        let roles = self.effective_roles(req.subject.roles, req.subject.groups);
        let mut trace = Vec::new();

        if matches!(req.permission.module, "roles" | "policies") && self.is_owner(&roles) {
            if explain {
                trace.push(Step {
                    kind: StepKind::Guard,
                    name: "owner lock-out guard".into(),
                    effect: Effect::Allow,
                    priority: None,
                    outcome: "owners always manage roles and policies".into(),
                });
            }
            return Decision {
                allowed: true,
                reason: Reason::OwnerGuard,
                trace,
            };
        }

        let mut best: Option<(i32, Effect, Reason)> = None;
        let consider = |best: &mut Option<(i32, Effect, Reason)>,
                        priority: i32,
                        effect: Effect,
                        reason: Reason| {
            let wins = match best {
                None => true,
                Some((p, e, _)) => {
                    priority > *p
                        || (priority == *p && effect == Effect::Deny && *e == Effect::Allow)
                }
            };
            if wins {
                *best = Some((priority, effect, reason));
            }
            wins
        };

        let index = req.permission.index();
        // With `explain`: which trace step holds the candidate that currently wins.
        let mut winner_step: Option<usize> = None;
        for role_id in &roles {
            let Some(role) = self.roles.get(role_id) else {
                continue;
            };
            if let Some(effect) = role.effects[index] {
                let won = consider(
                    &mut best,
                    ROLE_PRIORITY,
                    effect,
                    Reason::Role {
                        role: role.name.clone(),
                        effect,
                    },
                );
                if explain {
                    if won {
                        winner_step = Some(trace.len());
                    }
                    trace.push(Step {
                        kind: StepKind::Role,
                        name: role.name.clone(),
                        effect,
                        priority: Some(ROLE_PRIORITY),
                        outcome: MATCHED.into(),
                    });
                }
            }
        }

        // The document conditions read is built and converted once, on the first condition.
        let arena = bumpalo::Bump::new();
        let document: OnceCell<Value> = OnceCell::new();
        let data: OnceCell<Result<&DataValue<'_>, String>> = OnceCell::new();
        let longest: OnceCell<usize> = OnceCell::new();
        for &i in &self.by_permission[index] {
            let p = &self.policies[i as usize];
            if let Some((bp, be, _)) = &best {
                // Sorted by priority, and deny first within a priority: once this policy
                // cannot beat the current winner, nothing further down can either.
                if p.priority < *bp
                    || (p.priority == *bp && (*be == Effect::Deny || p.effect == Effect::Allow))
                {
                    if explain {
                        trace.push(Step::policy(p, "not needed: the decision was already made"));
                        continue;
                    }
                    break;
                }
            }
            if let Some(cond) = &p.condition {
                let doc = data.get_or_init(|| {
                    logic::prepare(document.get_or_init(|| self.document(req, &roles)), &arena)
                });
                let budget = if cond.walks_data() {
                    let doc = document.get_or_init(|| self.document(req, &roles));
                    cond.within_budget(*longest.get_or_init(|| logic::longest_array(doc)))
                } else {
                    Ok(())
                };
                let outcome = match (budget, doc) {
                    (Err(e), _) => Err(e),
                    (Ok(()), Ok(doc)) => cond.eval_in(doc, &arena),
                    (Ok(()), Err(e)) => Err(e.clone()),
                };
                match outcome {
                    Ok(true) => {}
                    Ok(false) => {
                        if explain {
                            trace.push(Step::policy(p, "condition is false"));
                        }
                        continue;
                    }
                    // A condition that cannot be evaluated fails closed: a deny applies,
                    // an allow does not.
                    Err(e) if p.effect == Effect::Deny => {
                        if explain {
                            trace.push(Step::policy(
                                p,
                                &format!("condition failed ({e}); a deny fails closed: it applies"),
                            ));
                        }
                    }
                    Err(e) => {
                        if explain {
                            trace.push(Step::policy(
                                p,
                                &format!("condition failed ({e}); an allow fails closed: it does not apply"),
                            ));
                        }
                        continue;
                    }
                }
            }
            let won = consider(
                &mut best,
                p.priority,
                p.effect,
                Reason::Policy {
                    id: p.id,
                    name: p.name.clone(),
                    effect: p.effect,
                    priority: p.priority,
                },
            );
            if explain {
                if won {
                    winner_step = Some(trace.len());
                }
                trace.push(Step::policy(p, MATCHED));
            }
        }
        if explain {
            // Now that the winner is known, say of each matching rule whether it decided.
            for (i, step) in trace.iter_mut().enumerate() {
                if step.outcome == MATCHED {
                    step.outcome = if Some(i) == winner_step {
                        "matched: this decided".into()
                    } else {
                        "matched, outranked".into()
                    };
                }
            }
        }

        match best {
            Some((_, effect, reason)) => Decision {
                allowed: effect == Effect::Allow,
                reason,
                trace,
            },
            None => Decision {
                allowed: false,
                reason: Reason::NoRuleAllowed,
                trace,
            },
        }
    }

    /// The document conditions see: `{ principal, resource, action, context }`.
    pub fn document(&self, req: &Request<'_>, effective_roles: &[Uuid]) -> Value {
        let roles: Vec<&str> = effective_roles
            .iter()
            .filter_map(|r| self.role_name(*r))
            .collect();
        let groups: Vec<&str> = req
            .subject
            .groups
            .iter()
            .filter_map(|g| self.group_names.get(g).map(String::as_str))
            .collect();
        let t = req.context.time;
        json!({
            "principal": {
                "id": req.subject.id,
                "kind": req.subject.kind,
                "roles": roles,
                "groups": groups,
                "group_ids": req.subject.groups,
                "metadata": req.subject.metadata,
            },
            "resource": {
                "type": req.target.kind,
                "id": req.target.id,
                "owner": req.target.owner,
                "metadata": req.target.metadata,
            },
            "action": req.permission.to_key(),
            "context": {
                "time": t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "hour": t.hour(),
                "weekday": t.weekday().to_string().to_lowercase(),
                "ip": req.context.ip.map(|ip| ip.to_string()),
                "plan": req.context.plan,
            },
        })
    }
}

pub struct Subject<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    /// Roles held directly.
    pub roles: &'a [Uuid],
    /// Groups the principal is a member of (not their ancestors).
    pub groups: &'a [Uuid],
    pub metadata: &'a Value,
}

pub struct Target<'a> {
    /// The module the resource belongs to (`memories`, `identities`, ...).
    pub kind: &'a str,
    pub id: Option<Uuid>,
    pub owner: Option<Uuid>,
    pub metadata: Option<&'a Value>,
}

pub struct Context<'a> {
    pub time: OffsetDateTime,
    pub ip: Option<IpAddr>,
    pub plan: &'a str,
}

pub struct Request<'a> {
    pub subject: Subject<'a>,
    pub permission: Permission,
    pub target: Target<'a>,
    pub context: Context<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    OwnerGuard,
    Role {
        role: String,
        effect: Effect,
    },
    Policy {
        id: Uuid,
        name: String,
        effect: Effect,
        priority: i32,
    },
    NoRuleAllowed,
    /// The caller is an API key whose scopes do not cover the permission (checked before
    /// the identity's own roles and policies).
    OutsideKeyScopes {
        key: String,
    },
    /// A policy decided, for someone who may not read the policies (its name and
    /// condition are theirs to know only with `policies:read`).
    UndisclosedPolicy {
        effect: Effect,
    },
}

impl Reason {
    /// One sentence for people.
    pub fn describe(&self) -> String {
        match self {
            Reason::OwnerGuard => {
                "Allowed: owners always manage roles and policies (lock-out guard).".into()
            }
            Reason::Role {
                role,
                effect: Effect::Allow,
            } => format!("Allowed by the role \"{role}\"."),
            Reason::Role {
                role,
                effect: Effect::Deny,
            } => format!("Denied by the role \"{role}\"."),
            Reason::Policy {
                name,
                effect: Effect::Allow,
                priority,
                ..
            } => {
                format!("Allowed by the policy \"{name}\" (priority {priority}).")
            }
            Reason::Policy {
                name,
                effect: Effect::Deny,
                priority,
                ..
            } => {
                format!("Denied by the policy \"{name}\" (priority {priority}).")
            }
            Reason::NoRuleAllowed => "Denied: no rule allowed it.".into(),
            Reason::OutsideKeyScopes { key } => {
                format!("Denied: the API key \"{key}\" has no scope for this action.")
            }
            Reason::UndisclosedPolicy {
                effect: Effect::Allow,
            } => "Allowed by a policy.".into(),
            Reason::UndisclosedPolicy {
                effect: Effect::Deny,
            } => "Denied by a policy.".into(),
        }
    }

    /// The reason as someone who may not read the policies may see it.
    pub fn undisclosed(self) -> Reason {
        match self {
            Reason::Policy { effect, .. } => Reason::UndisclosedPolicy { effect },
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Guard,
    Role,
    Policy,
}

/// One rule the engine looked at, in the order it looked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub name: String,
    pub effect: Effect,
    pub priority: Option<i32>,
    pub outcome: String,
}

impl Step {
    fn policy(p: &CompiledPolicy, outcome: &str) -> Step {
        Step {
            kind: StepKind::Policy,
            name: p.name.clone(),
            effect: p.effect,
            priority: Some(p.priority),
            outcome: outcome.to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    pub trace: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn perm(s: &str) -> Permission {
        Permission::parse(s).unwrap()
    }

    fn role(name: &str, perms: &[(&str, Effect)]) -> RoleSpec {
        RoleSpec {
            id: Uuid::now_v7(),
            name: name.into(),
            permissions: perms.iter().map(|(p, e)| (perm(p), *e)).collect(),
        }
    }

    fn policy(
        name: &str,
        effect: Effect,
        priority: i32,
        resource: &str,
        action: &str,
        condition: Option<Value>,
    ) -> PolicySpec {
        PolicySpec {
            id: Uuid::now_v7(),
            name: name.into(),
            effect,
            priority,
            resource_pattern: resource.into(),
            action_pattern: action.into(),
            condition,
            enabled: true,
        }
    }

    struct Who {
        id: Uuid,
        roles: Vec<Uuid>,
        groups: Vec<Uuid>,
        metadata: Value,
    }

    fn who(roles: &[&RoleSpec], groups: &[Uuid]) -> Who {
        Who {
            id: Uuid::now_v7(),
            roles: roles.iter().map(|r| r.id).collect(),
            groups: groups.to_vec(),
            metadata: json!({}),
        }
    }

    fn ask(c: &Compiled, w: &Who, p: &str, owner: Option<Uuid>) -> Decision {
        let req = Request {
            subject: Subject {
                id: w.id,
                kind: "user",
                roles: &w.roles,
                groups: &w.groups,
                metadata: &w.metadata,
            },
            permission: perm(p),
            target: Target {
                kind: perm(p).module,
                id: None,
                owner,
                metadata: None,
            },
            context: Context {
                time: OffsetDateTime::now_utc(),
                ip: None,
                plan: "pro",
            },
        };
        c.decide(&req, true)
    }

    #[test]
    fn no_rule_means_deny() {
        let c = Compiled::new(vec![], None, vec![], vec![]).unwrap();
        let d = ask(&c, &who(&[], &[]), "identities:read", None);
        assert!(!d.allowed);
        assert_eq!(d.reason, Reason::NoRuleAllowed);
    }

    #[test]
    fn roles_grant_and_deny_at_priority_zero() {
        let reader = role("reader", &[("identities:read", Effect::Allow)]);
        let blocked = role("blocked", &[("identities:read", Effect::Deny)]);
        let c = Compiled::new(vec![reader.clone(), blocked.clone()], None, vec![], vec![]).unwrap();
        assert!(ask(&c, &who(&[&reader], &[]), "identities:read", None).allowed);
        assert!(!ask(&c, &who(&[&reader], &[]), "identities:update", None).allowed);
        let both = ask(&c, &who(&[&reader, &blocked], &[]), "identities:read", None);
        assert!(!both.allowed, "deny beats allow at equal priority");
        assert_eq!(
            both.reason,
            Reason::Role {
                role: "blocked".into(),
                effect: Effect::Deny
            }
        );
    }

    #[test]
    fn higher_priority_decides_and_wildcards_match() {
        let reader = role("reader", &[("memories:read", Effect::Allow)]);
        let policies = vec![
            policy(
                "no memories at all",
                Effect::Deny,
                10,
                "memories",
                "*",
                None,
            ),
            policy("everyone reads", Effect::Allow, 20, "*", "read", None),
        ];
        let c = Compiled::new(vec![reader.clone()], None, vec![], policies).unwrap();
        let w = who(&[&reader], &[]);
        let read = ask(&c, &w, "memories:read", None);
        assert!(read.allowed, "priority 20 allow beats priority 10 deny");
        assert!(matches!(read.reason, Reason::Policy { priority: 20, .. }));
        let delete = ask(&c, &w, "memories:delete", None);
        assert!(!delete.allowed);
        assert!(matches!(
            delete.reason,
            Reason::Policy {
                priority: 10,
                effect: Effect::Deny,
                ..
            }
        ));
        // `*:read` reaches other modules, `memories:*` does not.
        assert!(ask(&c, &w, "webhooks:read", None).allowed);
        assert!(!ask(&c, &w, "webhooks:update", None).allowed);
    }

    #[test]
    fn lower_priority_policies_fill_gaps_only() {
        let reader = role("reader", &[("groups:read", Effect::Allow)]);
        let c = Compiled::new(
            vec![reader.clone()],
            None,
            vec![],
            vec![
                policy("deny below roles", Effect::Deny, -5, "groups", "*", None),
                policy(
                    "allow below roles",
                    Effect::Allow,
                    -5,
                    "groups",
                    "create",
                    None,
                ),
            ],
        )
        .unwrap();
        let w = who(&[&reader], &[]);
        assert!(
            ask(&c, &w, "groups:read", None).allowed,
            "the role at priority 0 outranks -5"
        );
        let create = ask(&c, &w, "groups:create", None);
        assert!(!create.allowed, "at -5 the deny beats the allow");
    }

    #[test]
    fn groups_pass_roles_down_the_tree() {
        let editor = role("editor", &[("memories:update", Effect::Allow)]);
        let company = GroupSpec {
            id: Uuid::now_v7(),
            name: "Acme".into(),
            parent: None,
            roles: vec![editor.id],
        };
        let dept = GroupSpec {
            id: Uuid::now_v7(),
            name: "Research".into(),
            parent: Some(company.id),
            roles: vec![],
        };
        let team = GroupSpec {
            id: Uuid::now_v7(),
            name: "Vision".into(),
            parent: Some(dept.id),
            roles: vec![],
        };
        let c = Compiled::new(
            vec![editor.clone()],
            None,
            vec![company, dept, team.clone()],
            vec![],
        )
        .unwrap();
        let member = who(&[], &[team.id]);
        let d = ask(&c, &member, "memories:update", None);
        assert!(d.allowed);
        assert_eq!(
            d.reason,
            Reason::Role {
                role: "editor".into(),
                effect: Effect::Allow
            }
        );
        assert!(!ask(&c, &who(&[], &[]), "memories:update", None).allowed);
    }

    #[test]
    fn conditions_see_principal_and_resource() {
        let agent = role("agent", &[]);
        let own_only = policy(
            "agents see their own memories",
            Effect::Allow,
            5,
            "memories",
            "read",
            Some(json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]})),
        );
        let c = Compiled::new(vec![agent.clone()], None, vec![], vec![own_only]).unwrap();
        let w = who(&[&agent], &[]);
        assert!(ask(&c, &w, "memories:read", Some(w.id)).allowed);
        let other = ask(&c, &w, "memories:read", Some(Uuid::now_v7()));
        assert!(!other.allowed);
        assert_eq!(other.trace[0].outcome, "condition is false");
    }

    #[test]
    fn a_condition_over_too_long_an_array_fails_closed() {
        let member = role("member", &[("memories:read", Effect::Allow)]);
        let walks =
            json!({"some": [{"var": "principal.metadata.teams"}, {"==": [{"var": ""}, "ops"]}]});
        let deny = policy(
            "no ops",
            Effect::Deny,
            5,
            "memories",
            "read",
            Some(walks.clone()),
        );
        let c = Compiled::new(vec![member.clone()], None, vec![], vec![deny]).unwrap();
        let mut w = who(&[&member], &[]);
        w.metadata = json!({"teams": ["dev"]});
        assert!(
            ask(&c, &w, "memories:read", None).allowed,
            "short array: the deny is false"
        );
        let long: Vec<String> = (0..logic::MAX_WALKED + 1)
            .map(|i| format!("t{i}"))
            .collect();
        w.metadata = json!({ "teams": long });
        let d = ask(&c, &w, "memories:read", None);
        assert!(!d.allowed, "a deny that cannot be evaluated applies");
        let failed = d
            .trace
            .iter()
            .find(|s| s.outcome.contains("condition failed"));
        let failed = &failed.expect("the failure is explained").outcome;
        assert!(failed.contains("a deny fails closed"), "{failed}");
        assert!(failed.contains("more than the 256"), "{failed}");

        let allow = policy(
            "ops read",
            Effect::Allow,
            5,
            "memories",
            "read",
            Some(walks),
        );
        let c = Compiled::new(vec![role("nobody", &[])], None, vec![], vec![allow]).unwrap();
        let mut v = who(&[], &[]);
        v.metadata = json!({"teams": ["ops"]});
        assert!(ask(&c, &v, "memories:read", None).allowed);
        let mut long_ops: Vec<String> = (0..logic::MAX_WALKED).map(|i| format!("t{i}")).collect();
        long_ops.push("ops".into());
        v.metadata = json!({ "teams": long_ops });
        let d = ask(&c, &v, "memories:read", None);
        assert!(
            !d.allowed,
            "an allow that cannot be evaluated does not apply"
        );
        assert!(
            d.trace
                .iter()
                .any(|s| s.outcome.contains("an allow fails closed")),
            "{:?}",
            d.trace
        );
    }

    #[test]
    fn owners_cannot_lock_themselves_out() {
        let owner = role("owner", &[]);
        let c = Compiled::new(
            vec![owner.clone()],
            Some(owner.id),
            vec![],
            vec![policy(
                "lock everything",
                Effect::Deny,
                1000,
                "*",
                "*",
                None,
            )],
        )
        .unwrap();
        let w = who(&[&owner], &[]);
        let d = ask(&c, &w, "policies:update", None);
        assert!(d.allowed);
        assert_eq!(d.reason, Reason::OwnerGuard);
        assert!(ask(&c, &w, "roles:manage", None).allowed);
        assert!(
            !ask(&c, &w, "identities:read", None).allowed,
            "the guard covers roles and policies only"
        );
    }

    #[test]
    fn disabled_policies_do_not_count_and_bad_conditions_are_refused() {
        let mut off = policy("off", Effect::Allow, 1, "*", "*", None);
        off.enabled = false;
        let c = Compiled::new(vec![], None, vec![], vec![off]).unwrap();
        assert!(!ask(&c, &who(&[], &[]), "audit:read", None).allowed);
        let bad = policy(
            "typo",
            Effect::Allow,
            1,
            "*",
            "*",
            Some(json!({"==": [{"var": "princpal.id"}, 1]})),
        );
        let err = Compiled::new(vec![], None, vec![], vec![bad.clone()])
            .err()
            .unwrap();
        assert_eq!(err.policy, bad.id);
    }

    #[test]
    fn patterns_are_checked_against_the_catalogue() {
        assert!(check_patterns("*", "*").is_ok());
        assert!(check_patterns("memories", "read").is_ok());
        let wrong = check_patterns("memory", "read").unwrap_err();
        assert_eq!(wrong.len(), 1);
        assert_eq!(wrong[0].0, PatternPart::Resource);
        assert!(wrong[0].1.contains("unknown resource"), "{}", wrong[0].1);
        let wrong = check_patterns("memories", "fly").unwrap_err();
        assert_eq!(wrong[0].0.field(), "action_pattern");
        // Both halves wrong: both are said, each for its field.
        let wrong = check_patterns("memory", "fly").unwrap_err();
        let parts: Vec<PatternPart> = wrong.iter().map(|(p, _)| *p).collect();
        assert_eq!(parts, [PatternPart::Resource, PatternPart::Action]);
    }

    /// A reference implementation written straight from the README's algorithm.
    fn reference(roles: &[(Permission, Effect)], policies: &[PolicySpec], p: Permission) -> bool {
        let mut candidates: Vec<(i32, Effect)> = roles
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, e)| (ROLE_PRIORITY, *e))
            .collect();
        for pol in policies.iter().filter(|x| x.enabled) {
            let r = pol.resource_pattern == "*" || pol.resource_pattern == p.module;
            let a = pol.action_pattern == "*" || pol.action_pattern == p.action;
            if r && a {
                candidates.push((pol.priority, pol.effect));
            }
        }
        let Some(top) = candidates.iter().map(|c| c.0).max() else {
            return false;
        };
        !candidates.iter().any(|c| c.0 == top && c.1 == Effect::Deny)
    }

    fn arb_effect() -> impl Strategy<Value = Effect> {
        prop_oneof![Just(Effect::Allow), Just(Effect::Deny)]
    }

    fn arb_pattern(options: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_owned()),
            proptest::sample::select(options).prop_map(str::to_owned)
        ]
    }

    fn arb_policy() -> impl Strategy<Value = PolicySpec> {
        (
            arb_effect(),
            -3i32..4,
            arb_pattern(&MODULES),
            arb_pattern(&ALL_ACTIONS),
            any::<bool>(),
        )
            .prop_map(
                |(effect, priority, resource_pattern, action_pattern, enabled)| PolicySpec {
                    id: Uuid::now_v7(),
                    name: "p".into(),
                    effect,
                    priority,
                    resource_pattern,
                    action_pattern,
                    condition: None,
                    enabled,
                },
            )
    }

    fn arb_permission() -> impl Strategy<Value = Permission> {
        proptest::sample::select(crate::authz::catalog::all().collect::<Vec<_>>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The engine agrees with the plain algorithm on random roles and policy sets:
        /// highest priority decides, deny overrides allow at equal priority, nothing is deny.
        #[test]
        fn engine_matches_the_reference(
            grants in proptest::collection::vec((arb_permission(), arb_effect()), 0..8),
            policies in proptest::collection::vec(arb_policy(), 0..24),
            asked in proptest::collection::vec(arb_permission(), 1..10),
        ) {
            let mut role_perms: Vec<(Permission, Effect)> = Vec::new();
            for (p, e) in grants {
                role_perms.retain(|(q, _)| *q != p);
                role_perms.push((p, e));
            }
            let r = RoleSpec { id: Uuid::now_v7(), name: "r".into(), permissions: role_perms.clone() };
            let c = Compiled::new(vec![r.clone()], None, vec![], policies.clone()).unwrap();
            let w = Who { id: Uuid::now_v7(), roles: vec![r.id], groups: vec![], metadata: json!({}) };
            for p in asked {
                let expected = reference(&role_perms, &policies, p);
                prop_assert_eq!(ask(&c, &w, &p.to_key(), None).allowed, expected, "{}", p);
                // Without the explanation the answer is the same.
                let req = Request {
                    subject: Subject { id: w.id, kind: "user", roles: &w.roles, groups: &w.groups, metadata: &w.metadata },
                    permission: p,
                    target: Target { kind: p.module, id: None, owner: None, metadata: None },
                    context: Context { time: OffsetDateTime::now_utc(), ip: None, plan: "free" },
                };
                prop_assert_eq!(c.decide(&req, false).allowed, expected);
            }
        }

        /// Adding a matching deny at a priority at least as high as everything else always
        /// denies.
        #[test]
        fn a_top_priority_deny_always_wins(
            policies in proptest::collection::vec(arb_policy(), 0..24),
            p in arb_permission(),
        ) {
            let mut with_deny = policies.clone();
            let top = policies.iter().map(|x| x.priority).max().unwrap_or(0).max(ROLE_PRIORITY);
            with_deny.push(PolicySpec { id: Uuid::now_v7(), name: "deny".into(), effect: Effect::Deny, priority: top,
                resource_pattern: p.module.into(), action_pattern: p.action.into(), condition: None, enabled: true });
            let everything = RoleSpec { id: Uuid::now_v7(), name: "all".into(), permissions: crate::authz::catalog::all().map(|q| (q, Effect::Allow)).collect() };
            let c = Compiled::new(vec![everything.clone()], None, vec![], with_deny).unwrap();
            let w = Who { id: Uuid::now_v7(), roles: vec![everything.id], groups: vec![], metadata: json!({}) };
            prop_assert!(!ask(&c, &w, &p.to_key(), None).allowed);
        }
    }
}
