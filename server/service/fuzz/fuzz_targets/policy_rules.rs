//! Feeds arbitrary bytes to the policy pipeline the way a saved policy reaches it:
//! JSON text → `logic::compile` (the save-time check) → `Compiled::new` → `decide`.
//!
//! Beyond "never panics", it checks three properties that could break:
//! - a refused rule names a place that exists in the rule (its JSON pointer resolves);
//! - a decision with the explanation equals the decision without it;
//! - a policy whose condition compiled can be evaluated against any principal metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use service::authz::Permission;
use service::authz::catalog;
use service::authz::engine::{
    Compiled, Context, Effect, GroupSpec, PolicySpec, Request, RoleSpec, Subject, Target,
};
use service::authz::logic;
use time::OffsetDateTime;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (head, body) = data.split_at(3);
    let Ok(rule) = serde_json::from_slice::<Value>(body) else {
        return;
    };

    let condition = match logic::compile(&rule) {
        Ok(c) => c,
        Err(err) => {
            assert!(!err.message.is_empty(), "a refusal without a message");
            if !err.pointer.is_empty() && err.pointer != "/" {
                assert!(
                    rule.pointer(&err.pointer).is_some(),
                    "refusal points at {} which is not in {rule}",
                    err.pointer
                );
            }
            return;
        }
    };

    let permissions: Vec<Permission> = catalog::all().collect();
    let permission = permissions[head[0] as usize % permissions.len()];
    let effect = if head[1] & 1 == 0 {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let priority = i32::from(head[2] as i8);

    let role = Uuid::from_u128(1);
    let group = Uuid::from_u128(2);
    let me = Uuid::from_u128(3);
    let compiled = Compiled::new(
        vec![RoleSpec {
            id: role,
            name: "custom".into(),
            permissions: vec![(permission, Effect::Allow)],
        }],
        None,
        vec![GroupSpec {
            id: group,
            name: "team".into(),
            parent: None,
            roles: vec![role],
        }],
        vec![PolicySpec {
            id: Uuid::from_u128(4),
            name: "fuzzed".into(),
            effect,
            priority,
            resource_pattern: "*".into(),
            action_pattern: "*".into(),
            condition: Some(rule.clone()),
            enabled: true,
        }],
    )
    .expect("a rule that compiled alone compiles inside a tenant");

    // The fuzzed rule doubles as metadata, so `var` paths meet arbitrary shapes.
    let metadata = json!({ "fuzz": rule, "department": "ops" });
    let request = Request {
        subject: Subject {
            id: me,
            kind: "human",
            roles: &[],
            groups: &[group],
            metadata: &metadata,
        },
        permission,
        target: Target {
            kind: permission.module,
            id: Some(Uuid::from_u128(5)),
            owner: Some(me),
            metadata: Some(&metadata),
        },
        context: Context {
            time: OffsetDateTime::UNIX_EPOCH,
            ip: None,
            plan: "free",
        },
    };
    let quick = compiled.decide(&request, false);
    let explained = compiled.decide(&request, true);
    assert_eq!(quick.allowed, explained.allowed);
    assert_eq!(quick.reason, explained.reason);
    assert!(
        !explained.trace.is_empty(),
        "an explained decision has a trace"
    );

    let doc = compiled.document(&request, &[role]);
    let _ = condition.eval(&doc);
});
