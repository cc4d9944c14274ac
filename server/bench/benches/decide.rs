//! One access decision for a tenant with 10, 100 and 1,000 policies, in Tenantry's engine
//! and in Cedar (`cedar-policy`) on an equivalent policy set, in the same run; and one
//! JSON Logic condition in datalogic-rs (what Tenantry uses) and jsonlogic-rs; and what the
//! condition budget bounds one evaluation to.
//!
//! `make bench` runs it; the ratios are printed at the end and kept in docs/benchmarks.md.

use std::collections::HashSet;
use std::hint::black_box;
use std::str::FromStr;

use bench::{Synthetic, When, as_specs, owner_condition, policies, roles};
use cedar_policy::{
    Authorizer, Context as CedarContext, Decision as CedarDecision, Entities, EntityUid, PolicySet,
    Request as CedarRequest,
};
use criterion::{BenchmarkId, Criterion};
use serde_json::{Value, json};
use service::authz::catalog::{self, Permission};
use service::authz::engine::{Compiled, Context, Effect, Request, Subject, Target};
use service::authz::logic;
use time::OffsetDateTime;
use uuid::Uuid;

const SIZES: [usize; 3] = [10, 100, 1000];
const PRINCIPAL: Uuid = Uuid::from_u128(42);

fn cedar_action_scope(s: &Synthetic) -> String {
    match (s.resource, s.action) {
        ("*", "*") => "action".into(),
        ("*", a) => format!("action in Action::\"*:{a}\""),
        (m, "*") => format!("action in Action::\"{m}:*\""),
        (m, a) => format!("action == Action::\"{m}:{a}\""),
    }
}

/// The same roles and policies as Cedar text.
fn cedar_policies(set: &[Synthetic]) -> PolicySet {
    let mut text = String::new();
    for role in roles() {
        for (p, e) in &role.permissions {
            let verb = if *e == Effect::Allow {
                "permit"
            } else {
                "forbid"
            };
            text.push_str(&format!(
                "{verb}(principal in Role::\"{}\", action == Action::\"{}\", resource);\n",
                role.name, p
            ));
        }
    }
    for s in set {
        let verb = if s.effect == Effect::Allow {
            "permit"
        } else {
            "forbid"
        };
        let when = match s.when {
            When::Always => "",
            When::Owner => " when { resource.owner == principal }",
            When::Classified => " when { resource.classified == true }",
        };
        text.push_str(&format!(
            "{verb}(principal, {}, resource){when};\n",
            cedar_action_scope(s)
        ));
    }
    PolicySet::from_str(&text).expect("valid Cedar")
}

/// The principal (in three roles), a resource it owns, and the action hierarchy
/// (`m:a` is in `m:*` and in `*:a`).
fn cedar_entities() -> Entities {
    let mut items: Vec<Value> = vec![json!({
        "uid": {"type": "User", "id": PRINCIPAL.to_string()},
        "attrs": {},
        "parents": roles().iter().map(|r| json!({"type": "Role", "id": r.name})).collect::<Vec<_>>(),
    })];
    for r in roles() {
        items.push(json!({"uid": {"type": "Role", "id": r.name}, "attrs": {}, "parents": []}));
    }
    items.push(json!({
        "uid": {"type": "Res", "id": "r1"},
        "attrs": {"owner": {"__entity": {"type": "User", "id": PRINCIPAL.to_string()}}, "classified": false},
        "parents": [],
    }));
    let mut groups = HashSet::new();
    for p in catalog::all() {
        let (m, a) = (p.module, p.action);
        groups.insert(format!("{m}:*"));
        groups.insert(format!("*:{a}"));
        items.push(json!({
            "uid": {"type": "Action", "id": p.to_key()},
            "attrs": {},
            "parents": [{"type": "Action", "id": format!("{m}:*")}, {"type": "Action", "id": format!("*:{a}")}],
        }));
    }
    for g in groups {
        items.push(json!({"uid": {"type": "Action", "id": g}, "attrs": {}, "parents": []}));
    }
    Entities::from_json_value(Value::Array(items), None).expect("valid entities")
}

fn cedar_request(p: Permission) -> CedarRequest {
    let uid = |t: &str, id: &str| EntityUid::from_str(&format!("{t}::\"{id}\"")).expect("uid");
    CedarRequest::new(
        uid("User", &PRINCIPAL.to_string()),
        uid("Action", &p.to_key()),
        uid("Res", "r1"),
        CedarContext::empty(),
        None,
    )
    .expect("request")
}

struct Tenantry {
    compiled: Compiled,
    roles: Vec<Uuid>,
    metadata: Value,
    resource: Value,
}

impl Tenantry {
    fn new(set: &[Synthetic]) -> Tenantry {
        let roles = roles();
        let ids = roles.iter().map(|r| r.id).collect();
        Tenantry {
            compiled: Compiled::new(roles, None, vec![], as_specs(set)).expect("compiles"),
            roles: ids,
            metadata: json!({}),
            resource: json!({"classified": false}),
        }
    }

    fn decide(&self, p: Permission) -> bool {
        let req = Request {
            subject: Subject {
                id: PRINCIPAL,
                kind: "user",
                roles: &self.roles,
                groups: &[],
                metadata: &self.metadata,
            },
            permission: p,
            target: Target {
                kind: p.module,
                id: None,
                owner: Some(PRINCIPAL),
                metadata: Some(&self.resource),
            },
            context: Context {
                time: OffsetDateTime::UNIX_EPOCH,
                ip: None,
                plan: "pro",
            },
        };
        self.compiled.decide(&req, false).allowed
    }
}

/// Both engines must agree on every permission before their speed means anything.
fn check_equivalence(
    size: usize,
    ours: &Tenantry,
    cedar: &PolicySet,
    entities: &Entities,
) -> (usize, usize) {
    let authorizer = Authorizer::new();
    let mut allowed = 0;
    for p in catalog::all() {
        let theirs = authorizer
            .is_authorized(&cedar_request(p), cedar, entities)
            .decision()
            == CedarDecision::Allow;
        let mine = ours.decide(p);
        assert_eq!(mine, theirs, "engines disagree on {p} with {size} policies");
        allowed += usize::from(mine);
    }
    (allowed, catalog::PERMISSION_COUNT)
}

fn decisions(c: &mut Criterion) {
    let asked = Permission {
        module: "memories",
        action: "read",
    };
    let mut group = c.benchmark_group("decide");
    for size in SIZES {
        let set = policies(size, 7);
        let ours = Tenantry::new(&set);
        let cedar = cedar_policies(&set);
        let entities = cedar_entities();
        let (allowed, total) = check_equivalence(size, &ours, &cedar, &entities);
        eprintln!(
            "{size} policies: both engines agree on all {total} permissions ({allowed} allowed)"
        );
        group.bench_with_input(BenchmarkId::new("tenantry", size), &size, |b, _| {
            b.iter(|| black_box(ours.decide(black_box(asked))))
        });
        let authorizer = Authorizer::new();
        let request = cedar_request(asked);
        group.bench_with_input(BenchmarkId::new("cedar", size), &size, |b, _| {
            b.iter(|| {
                black_box(
                    authorizer
                        .is_authorized(black_box(&request), &cedar, &entities)
                        .decision(),
                )
            })
        });
    }
    group.finish();
}

fn json_logic(c: &mut Criterion) {
    let rule = json!({"and": [
        owner_condition(),
        {"in": ["writer", {"var": "principal.roles"}]},
        {">=": [{"var": "context.hour"}, 6]},
        {"!": [{"==": [{"var": "resource.metadata.classified"}, true]}]}
    ]});
    let data = json!({
        "principal": {"id": PRINCIPAL, "kind": "user", "roles": ["reader", "writer"], "groups": [], "metadata": {}},
        "resource": {"type": "memories", "id": null, "owner": PRINCIPAL, "metadata": {"classified": false}},
        "action": "memories:read",
        "context": {"time": "2026-11-23T10:00:00Z", "hour": 10, "weekday": "monday", "ip": null, "plan": "pro"}
    });
    let compiled = logic::compile(&rule).expect("valid rule");
    assert_eq!(compiled.eval(&data), Ok(true));
    assert_eq!(
        jsonlogic_rs::apply(&rule, &data).expect("jsonlogic-rs evaluates"),
        json!(true)
    );
    let mut group = c.benchmark_group("json_logic");
    group.bench_function("datalogic-rs", |b| {
        b.iter(|| black_box(compiled.eval(black_box(&data))))
    });
    group.bench_function("jsonlogic-rs", |b| {
        b.iter(|| black_box(jsonlogic_rs::apply(black_box(&rule), black_box(&data))))
    });
    group.finish();
}

/// The costliest kind of condition the budget admits (a walk over an array from the
/// request as long as a condition may walk, 256, comparing each element with 120
/// constants) against the same kind at a size the budget refuses and nothing refused before
/// it: an array as long as 16 KiB of metadata holds (4,000), merged with itself 20 times,
/// and 2,000 comparisons. The
/// refused one is evaluated by the JSON Logic engine directly, as Tenantry did before.
fn budget(c: &mut Criterion) {
    let rule = |walks: usize, comparisons: usize| {
        let any: Vec<Value> = (0..comparisons)
            .map(|i| json!({"==": [{"var": ""}, format!("c{i}")]}))
            .collect();
        let walked = if walks == 1 {
            json!({"var": "principal.metadata.teams"})
        } else {
            json!({ "merge": vec![json!({"var": "principal.metadata.teams"}); walks] })
        };
        json!({"some": [walked, {"or": any}]})
    };
    let data = |walked: usize| {
        let teams: Vec<String> = (0..walked).map(|i| format!("t{i}")).collect();
        json!({
            "principal": {"id": PRINCIPAL, "kind": "user", "roles": [], "groups": [],
                          "metadata": {"teams": teams}},
            "resource": {"type": "memories", "id": null, "owner": PRINCIPAL, "metadata": {}},
            "action": "memories:read",
            "context": {"plan": "pro"}
        })
    };
    let admitted = data(logic::MAX_WALKED);
    let compiled = logic::compile(&rule(1, 120)).expect("the budget admits this");
    assert_eq!(compiled.eval(&admitted), Ok(false));
    let refused = rule(20, 2_000);
    assert!(logic::compile(&refused).is_err(), "the budget refuses this");
    let engine = datalogic_rs::Engine::new();
    let refused = engine
        .compile(refused.to_string().as_str())
        .expect("the engine alone compiles it");
    let doc = data(4_000);
    let mut arena = bumpalo::Bump::new();
    let mut before = || {
        let r = engine
            .evaluate(&refused, &doc, &arena)
            .map(|v| engine.truthy(v));
        let r = r.map_err(|e| e.to_string());
        arena.reset();
        r
    };
    assert_eq!(before(), Ok(false));
    let mut group = c.benchmark_group("budget");
    group.sample_size(10);
    group.bench_function("worst-admitted", |b| {
        b.iter(|| black_box(compiled.eval(black_box(&admitted))))
    });
    group.bench_function("refused", |b| b.iter(|| black_box(before())));
    group.finish();
}

fn median_ns(group: &str, id: &str) -> Option<f64> {
    let base = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{base}/criterion/{group}/{id}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decisions(&mut c);
    json_logic(&mut c);
    budget(&mut c);
    c.final_summary();

    println!("\n| policies | Tenantry median | Cedar median | Cedar / Tenantry |");
    println!("|---|---|---|---|");
    for size in SIZES {
        if let (Some(ours), Some(theirs)) = (
            median_ns("decide", &format!("tenantry/{size}")),
            median_ns("decide", &format!("cedar/{size}")),
        ) {
            println!(
                "| {size} | {:.2} µs | {:.2} µs | {:.1}× |",
                ours / 1000.0,
                theirs / 1000.0,
                theirs / ours
            );
        }
    }
    if let (Some(a), Some(b)) = (
        median_ns("json_logic", "datalogic-rs"),
        median_ns("json_logic", "jsonlogic-rs"),
    ) {
        println!(
            "\nJSON Logic, one 4-clause condition: datalogic-rs {:.0} ns, jsonlogic-rs {:.0} ns ({:.1}×)",
            a,
            b,
            b / a
        );
    }
    if let (Some(a), Some(r)) = (
        median_ns("budget", "worst-admitted"),
        median_ns("budget", "refused"),
    ) {
        println!(
            "\nThe costliest condition: admitted by the budget {:.2} ms, refused by it {:.0} ms ({:.0}×)",
            a / 1e6,
            r / 1e6,
            r / a
        );
    }
}
