//! Shared set-up for the benchmarks: a synthetic tenant with N policies, expressed both
//! for Tenantry's engine and (in the bench) for Cedar.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use service::authz::catalog::{ACTIONS, MODULES, Permission};
use service::authz::engine::{Effect, PolicySpec, RoleSpec};
use uuid::Uuid;

/// When a synthetic policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The principal owns the resource.
    Owner,
    /// The resource is marked classified (never, in the benchmark's request: a deny with
    /// this condition must be evaluated and then does not apply).
    Classified,
}

/// One synthetic policy, in a neutral form both engines are built from.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub id: usize,
    pub effect: Effect,
    /// A module or `*`.
    pub resource: &'static str,
    /// An action or `*`.
    pub action: &'static str,
    pub when: When,
}

/// `n` policies, deterministic for a seed: patterns over the whole catalogue (one in eight
/// a wildcard), three in four allows (half of them only for the resource's owner), one in
/// four denies for classified resources. All at one priority, where Tenantry's rule (deny
/// beats allow) is Cedar's (forbid overrides permit). The request asked has no classified
/// resource, so every matching deny's condition has to be evaluated before an allow wins.
pub fn policies(n: usize, seed: u64) -> Vec<Synthetic> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|id| {
            let deny = rng.gen_ratio(1, 4);
            Synthetic {
                id,
                effect: if deny { Effect::Deny } else { Effect::Allow },
                resource: if rng.gen_ratio(1, 8) {
                    "*"
                } else {
                    MODULES[rng.gen_range(0..MODULES.len())]
                },
                action: if rng.gen_ratio(1, 8) {
                    "*"
                } else {
                    ACTIONS[rng.gen_range(0..ACTIONS.len())]
                },
                when: if deny {
                    When::Classified
                } else if rng.gen_ratio(1, 2) {
                    When::Owner
                } else {
                    When::Always
                },
            }
        })
        .collect()
}

pub fn owner_condition() -> Value {
    json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]})
}

pub fn classified_condition() -> Value {
    json!({"==": [{"var": "resource.metadata.classified"}, true]})
}

pub fn as_specs(set: &[Synthetic]) -> Vec<PolicySpec> {
    set.iter()
        .map(|s| PolicySpec {
            id: Uuid::from_u128(s.id as u128 + 1),
            name: format!("p{}", s.id),
            effect: s.effect,
            priority: 0,
            resource_pattern: s.resource.into(),
            action_pattern: s.action.into(),
            condition: match s.when {
                When::Always => None,
                When::Owner => Some(owner_condition()),
                When::Classified => Some(classified_condition()),
            },
            enabled: true,
        })
        .collect()
}

/// Three roles with a few grants each, as a tenant typically has.
pub fn roles() -> Vec<RoleSpec> {
    let p = |s: &str| Permission::parse(s).expect("catalogue permission");
    vec![
        RoleSpec {
            id: Uuid::from_u128(1001),
            name: "reader".into(),
            permissions: vec![
                (p("identities:read"), Effect::Allow),
                (p("groups:read"), Effect::Allow),
            ],
        },
        RoleSpec {
            id: Uuid::from_u128(1002),
            name: "writer".into(),
            permissions: vec![
                (p("memories:create"), Effect::Allow),
                (p("memories:update"), Effect::Allow),
            ],
        },
        RoleSpec {
            id: Uuid::from_u128(1003),
            name: "auditor".into(),
            permissions: vec![
                (p("audit:read"), Effect::Allow),
                (p("audit:delete"), Effect::Deny),
            ],
        },
    ]
}
