//! Policy conditions in JSON Logic, evaluated with `datalogic-rs` (compiled once when a
//! policy is saved or a tenant's policies are loaded; evaluated per decision in an arena).
//!
//! Saving a rule checks more than its syntax: every `var` must start at one of the four
//! roots a condition can see (`principal`, `resource`, `action`, `context`), so a typo such
//! as `principle.id` is refused with the path of the mistake instead of silently never
//! matching.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

use bumpalo::Bump;
use datalogic_rs::{DataValue, Engine, EvalInput};
use serde_json::Value;

static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::new);

/// The roots of the document a condition is evaluated against.
pub const ROOTS: [&str; 4] = ["principal", "resource", "action", "context"];

/// The budget of a condition, checked when it is saved: its size, its nesting, and the
/// steps its evaluation can take at worst (an iteration costs its array's length times its
/// body). An array that comes from the request (a metadata list, the principal's groups)
/// counts as [`MAX_WALKED`] long, and at evaluation a condition that walks such data finds
/// it no longer than that or fails closed, so no evaluation exceeds the budget: one
/// tenant's costly rule cannot pin the worker other tenants' requests run on.
pub const MAX_BYTES: usize = 16 * 1024;
pub const MAX_DEPTH: usize = 32;
pub const MAX_STEPS: u64 = 100_000;
/// The longest array from the request a condition may walk.
pub const MAX_WALKED: usize = 256;

/// A compiled condition.
#[derive(Clone)]
pub struct Condition {
    logic: Arc<datalogic_rs::Logic>,
    /// Whether it walks arrays that come from the request (checked at evaluation).
    walks_data: bool,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condition")
    }
}

/// Why a rule was refused: what is wrong, and where (a JSON pointer into the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.pointer, self.message)
        }
    }
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The operators a condition may use: the JSON Logic standard set.
pub const OPERATORS: [&str; 35] = [
    "var",
    "missing",
    "missing_some",
    "if",
    "?:",
    "==",
    "===",
    "!=",
    "!==",
    "!",
    "!!",
    "or",
    "and",
    ">",
    ">=",
    "<",
    "<=",
    "max",
    "min",
    "+",
    "-",
    "*",
    "/",
    "%",
    "map",
    "reduce",
    "filter",
    "all",
    "none",
    "some",
    "merge",
    "in",
    "cat",
    "substr",
    "log",
];

/// Checks the shape of a rule: each operation is an object with one known operator, and
/// every `var` starts at a root a condition can see (see the module comment).
///
/// Inside the per-element argument of `map`, `filter`, `reduce`, `all`, `none` and `some`,
/// `var` names the element (and `current`/`accumulator` for `reduce`), so roots are not
/// checked there (`element` is true).
fn check_vars(rule: &Value, pointer: &str, element: bool, errors: &mut Vec<RuleError>) {
    match rule {
        Value::Object(map) => {
            if map.len() != 1 {
                errors.push(RuleError {
                    pointer: if pointer.is_empty() {
                        "/".into()
                    } else {
                        pointer.to_owned()
                    },
                    message: format!(
                        "an operation is an object with exactly one key, this one has {}",
                        map.len()
                    ),
                });
                return;
            }
            for (op, args) in map {
                let here = format!("{pointer}/{}", pointer_escape(op));
                if !OPERATORS.contains(&op.as_str()) {
                    errors.push(RuleError {
                        pointer: here,
                        message: format!("unknown operator \"{op}\""),
                    });
                    return;
                }
                if op == "var" && !element {
                    let path = match args {
                        Value::String(s) => Some(s.as_str()),
                        Value::Array(items) => items.first().and_then(Value::as_str),
                        _ => None,
                    };
                    match path {
                        Some("") => {}
                        Some(p) => {
                            let root = p.split('.').next().unwrap_or_default();
                            if !ROOTS.contains(&root) {
                                errors.push(RuleError {
                                    pointer: here.clone(),
                                    message: format!(
                                        "unknown variable \"{p}\": a condition sees principal, resource, action and context"
                                    ),
                                });
                            }
                        }
                        None => errors.push(RuleError {
                            pointer: here.clone(),
                            message: "var takes a dotted path such as \"principal.id\"".into(),
                        }),
                    }
                }
                let per_element = matches!(
                    op.as_str(),
                    "map" | "filter" | "reduce" | "all" | "none" | "some"
                );
                match args {
                    Value::Array(items) if per_element => {
                        for (i, item) in items.iter().enumerate() {
                            check_vars(item, &format!("{here}/{i}"), element || i == 1, errors);
                        }
                    }
                    _ => check_vars(args, &here, element, errors),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_vars(item, &format!("{pointer}/{i}"), element, errors);
            }
        }
        _ => {}
    }
}

/// What evaluating a rule can cost at worst.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    steps: u64,
    /// The longest array it can evaluate to.
    len: u64,
    /// Whether that length comes from the request's data.
    from_data: bool,
    /// Whether it walks an array that comes from the request's data.
    walks_data: bool,
}

const ITERATING: [&str; 6] = ["map", "filter", "reduce", "all", "none", "some"];

fn estimate(rule: &Value) -> Estimate {
    match rule {
        Value::Array(items) => {
            let parts: Vec<Estimate> = items.iter().map(estimate).collect();
            Estimate {
                steps: parts.iter().fold(1u64, |a, e| a.saturating_add(e.steps)),
                len: items.len() as u64,
                from_data: false,
                walks_data: parts.iter().any(|e| e.walks_data),
            }
        }
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().expect("one key");
            let args: Vec<&Value> = match args {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            let parts: Vec<Estimate> = args.iter().map(|a| estimate(a)).collect();
            let sum = parts.iter().fold(1u64, |a, e| a.saturating_add(e.steps));
            let walks = parts.iter().any(|e| e.walks_data);
            match op.as_str() {
                "var" => Estimate {
                    steps: 1,
                    len: MAX_WALKED as u64,
                    from_data: true,
                    walks_data: false,
                },
                o if ITERATING.contains(&o) => {
                    let arr = parts.first().copied().unwrap_or(Estimate {
                        steps: 1,
                        len: 0,
                        from_data: false,
                        walks_data: false,
                    });
                    let body = parts.get(1).map_or(1, |e| e.steps);
                    let init = parts.get(2).map_or(0, |e| e.steps);
                    Estimate {
                        steps: arr
                            .steps
                            .saturating_add(arr.len.saturating_mul(body.saturating_add(1)))
                            .saturating_add(init),
                        len: if matches!(o, "map" | "filter") {
                            arr.len
                        } else {
                            0
                        },
                        from_data: arr.from_data,
                        walks_data: walks || arr.from_data,
                    }
                }
                // `in` walks its second argument (an array, or a string it searches).
                "in" => {
                    let hay = parts.get(1).copied().unwrap_or(Estimate {
                        steps: 1,
                        len: 0,
                        from_data: false,
                        walks_data: false,
                    });
                    Estimate {
                        steps: sum.saturating_add(hay.len),
                        len: 0,
                        from_data: false,
                        walks_data: walks || hay.from_data,
                    }
                }
                "merge" | "cat" | "min" | "max" | "missing" | "missing_some" => {
                    let walked: u64 = parts.iter().fold(0u64, |a, e| a.saturating_add(e.len));
                    Estimate {
                        steps: sum.saturating_add(walked),
                        len: if op == "merge" { walked } else { 0 },
                        from_data: parts.iter().any(|e| e.from_data),
                        walks_data: walks || parts.iter().any(|e| e.from_data),
                    }
                }
                "if" | "?:" => Estimate {
                    steps: sum,
                    len: parts.iter().map(|e| e.len).max().unwrap_or(0),
                    from_data: parts.iter().any(|e| e.from_data),
                    walks_data: walks,
                },
                _ => Estimate {
                    steps: sum,
                    len: 0,
                    from_data: false,
                    walks_data: walks,
                },
            }
        }
        _ => Estimate {
            steps: 1,
            len: 0,
            from_data: false,
            walks_data: false,
        },
    }
}

/// The children of a rule with their pointers.
fn children<'a>(rule: &'a Value, pointer: &str) -> Vec<(String, &'a Value)> {
    match rule {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{pointer}/{i}"), v))
            .collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                let here = format!("{pointer}/{}", pointer_escape(k));
                match v {
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{here}/{i}"), v))
                        .collect::<Vec<_>>(),
                    other => vec![(here, other)],
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn root_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".into()
    } else {
        pointer.to_owned()
    }
}

/// The size, nesting and cost limits, each refused with the place of the excess.
fn check_budget(rule: &Value) -> Result<bool, RuleError> {
    let bytes = rule.to_string().len();
    if bytes > MAX_BYTES {
        // Point at the bulk: go down while one part holds most of it.
        let (mut pointer, mut node) = (String::new(), rule);
        loop {
            let total = node.to_string().len();
            let biggest = children(node, &pointer)
                .into_iter()
                .max_by_key(|(_, v)| v.to_string().len());
            match biggest {
                Some((p, v)) if v.to_string().len() * 2 >= total => {
                    pointer = p;
                    node = v;
                }
                _ => break,
            }
        }
        return Err(RuleError {
            pointer: root_pointer(&pointer),
            message: format!(
                "the condition is {bytes} bytes, more than the {MAX_BYTES} a condition may have; this part holds most of it"
            ),
        });
    }
    fn depth(rule: &Value, pointer: &str, at: usize) -> Option<String> {
        if at > MAX_DEPTH {
            return Some(root_pointer(pointer));
        }
        children(rule, pointer)
            .into_iter()
            .find_map(|(p, v)| depth(v, &p, at + 1))
    }
    if let Some(pointer) = depth(rule, "", 0) {
        return Err(RuleError {
            pointer,
            message: format!("the condition nests deeper than {MAX_DEPTH} levels here"),
        });
    }
    let whole = estimate(rule);
    if whole.steps > MAX_STEPS {
        // The costliest part that is over budget on its own.
        let (mut pointer, mut node) = (String::new(), rule);
        while let Some((p, v)) = children(node, &pointer)
            .into_iter()
            .filter(|(_, v)| estimate(v).steps > MAX_STEPS)
            .max_by_key(|(_, v)| estimate(v).steps)
        {
            pointer = p;
            node = v;
        }
        return Err(RuleError {
            pointer: root_pointer(&pointer),
            message: format!(
                "evaluating this can take {} steps, more than the {MAX_STEPS} a condition may take (an iteration costs its array's length, {MAX_WALKED} for an array from the request, times its body)",
                whole.steps
            ),
        });
    }
    Ok(whole.walks_data)
}

/// The longest array anywhere in `doc`.
pub fn longest_array(doc: &Value) -> usize {
    match doc {
        Value::Array(items) => items
            .iter()
            .map(longest_array)
            .fold(items.len(), usize::max),
        Value::Object(map) => map.values().map(longest_array).max().unwrap_or(0),
        _ => 0,
    }
}

/// Compiles a rule, or says what is wrong with it and where.
pub fn compile(rule: &Value) -> Result<Condition, RuleError> {
    let mut errors = Vec::new();
    check_vars(rule, "", false, &mut errors);
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    let walks_data = check_budget(rule)?;
    let text = rule.to_string();
    let logic = ENGINE.compile(text.as_str()).map_err(|e| RuleError {
        pointer: String::new(),
        message: format!("not valid JSON Logic: {e}"),
    })?;
    Ok(Condition {
        logic: Arc::new(logic),
        walks_data,
    })
}

thread_local! {
    /// One arena per thread, reset after each evaluation: no allocation in steady state.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::with_capacity(16 * 1024));
}

/// Converts a document once into `arena`, for several conditions to read.
pub fn prepare<'a>(doc: &'a Value, arena: &'a Bump) -> Result<&'a DataValue<'a>, String> {
    EvalInput::into_arena_value(doc, arena).map_err(|e| e.to_string())
}

impl Condition {
    /// Whether it walks arrays from the request, which must then be no longer than
    /// [`MAX_WALKED`] (see [`Condition::within_budget`]).
    pub fn walks_data(&self) -> bool {
        self.walks_data
    }

    /// Refuses to evaluate over a document whose longest array (`longest`, from
    /// [`longest_array`]) is more than this condition's budget allows.
    pub fn within_budget(&self, longest: usize) -> Result<(), String> {
        if self.walks_data && longest > MAX_WALKED {
            Err(format!(
                "the request holds an array of {longest} items, more than the {MAX_WALKED} a condition may walk"
            ))
        } else {
            Ok(())
        }
    }

    /// Evaluates against a document already in `arena` (see [`prepare`]).
    pub fn eval_in<'a>(&'a self, data: &'a DataValue<'a>, arena: &'a Bump) -> Result<bool, String> {
        ENGINE
            .evaluate(&self.logic, data, arena)
            .map(|v| ENGINE.truthy(v))
            .map_err(|e| e.to_string())
    }

    /// Evaluates against `data`; a rule that fails at run time (a type error) is an error,
    /// which the engine treats as failing closed (see `Compiled::decide`).
    pub fn eval(&self, data: &Value) -> Result<bool, String> {
        ARENA.with(|cell| {
            let mut arena = cell.borrow_mut();
            let result = match ENGINE.evaluate(&self.logic, data, &arena) {
                Ok(v) => Ok(ENGINE.truthy(v)),
                Err(e) => Err(e.to_string()),
            };
            arena.reset();
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn evaluates_over_the_four_roots() {
        let rule = compile(&json!({"and": [
            {"==": [{"var": "resource.owner"}, {"var": "principal.id"}]},
            {"in": ["editors", {"var": "principal.roles"}]},
            {"==": [{"var": "context.plan"}, "pro"]}
        ]}))
        .unwrap();
        let data = json!({
            "principal": {"id": "p1", "roles": ["editors"]},
            "resource": {"owner": "p1"},
            "action": "memories:update",
            "context": {"plan": "pro"}
        });
        assert_eq!(rule.eval(&data), Ok(true));
        let other = json!({"principal": {"id": "p2", "roles": ["editors"]}, "resource": {"owner": "p1"}, "context": {"plan": "pro"}});
        assert_eq!(rule.eval(&other), Ok(false));
    }

    #[test]
    fn unknown_roots_are_refused_with_their_place() {
        let err =
            compile(&json!({"and": [true, {"==": [{"var": "principle.id"}, 1]}]})).unwrap_err();
        assert_eq!(err.pointer, "/and/1/==/0/var");
        assert!(err.message.contains("principle.id"), "{err}");
        assert!(compile(&json!({"var": 3})).is_err());
    }

    #[test]
    fn malformed_rules_are_refused() {
        let err = compile(&json!({"and": [true, {"no_such_operator": [1, 2]}]})).unwrap_err();
        assert_eq!(err.pointer, "/and/1/no_such_operator");
        assert!(err.message.contains("unknown operator"), "{err}");
        let err = compile(&json!({"==": [1, 1], "!=": [1, 2]})).unwrap_err();
        assert!(err.message.contains("exactly one key"), "{err}");
    }

    #[test]
    fn element_scopes_see_their_element() {
        // Inside `some`/`reduce`, `var` names the element and the accumulator.
        let rule = compile(&json!({"and": [
            {"some": [{"var": "principal.metadata.teams"}, {"==": [{"var": "name"}, "ops"]}]},
            {">": [{"reduce": [{"var": "principal.roles"}, {"+": [{"var": "accumulator"}, 1]}, 0]}, 1]}
        ]}))
        .unwrap();
        let data = json!({"principal": {
            "roles": ["a", "b"],
            "metadata": {"teams": [{"name": "dev"}, {"name": "ops"}]}
        }});
        assert_eq!(rule.eval(&data), Ok(true));
        // The array the element operators walk is still checked.
        let err = compile(&json!({"some": [{"var": "princpal.roles"}, {"var": ""}]})).unwrap_err();
        assert_eq!(err.pointer, "/some/0/var");
    }

    #[test]
    fn a_condition_too_big_is_refused_with_the_part_that_is() {
        let names: Vec<String> = (0..2000).map(|i| format!("name-{i}")).collect();
        let err =
            compile(&json!({"and": [true, {"in": [{"var": "principal.id"}, names]}]})).unwrap_err();
        assert_eq!(err.pointer, "/and/1/in/1", "{err}");
        assert!(err.message.contains("more than the 16384"), "{err}");
        // Just under the limit is fine.
        let names: Vec<String> = (0..1000).map(|i| format!("n{i}")).collect();
        assert!(compile(&json!({"in": [{"var": "principal.id"}, names]})).is_ok());
    }

    #[test]
    fn a_condition_too_deep_is_refused_where_it_is() {
        let mut rule = json!(true);
        for _ in 0..40 {
            rule = json!({"!": [rule]});
        }
        let err = compile(&rule).unwrap_err();
        assert!(err.message.contains("deeper than 32"), "{err}");
        assert_eq!(err.pointer.matches("/!/0").count(), 33, "{err}");
        let mut ok = json!(true);
        for _ in 0..10 {
            ok = json!({"!": [ok]});
        }
        assert!(compile(&ok).is_ok());
    }

    #[test]
    fn a_condition_that_could_take_too_many_steps_is_refused() {
        // Three arrays from the request, one inside the other: 256^3 steps at worst.
        let costly = json!({"or": [false, {"some": [{"var": "principal.groups"},
            {"some": [{"var": "principal.roles"},
                {"some": [{"var": "resource.metadata.tags"}, {"==": [{"var": ""}, "x"]}]}]}]}]});
        let err = compile(&costly).unwrap_err();
        assert_eq!(err.pointer, "/or/1/some/1", "{err}");
        assert!(err.message.contains("more than the 100000"), "{err}");
        // Two nested (65k at worst) fit, and walk the request's data.
        let two = compile(&json!({"some": [{"var": "principal.groups"},
            {"in": [{"var": ""}, {"var": "principal.roles"}]}]}))
        .unwrap();
        assert!(two.walks_data());
        assert!(two.within_budget(MAX_WALKED).is_ok());
        assert!(two.within_budget(MAX_WALKED + 1).is_err());
        // A condition over constants only walks nothing from the request.
        let constant = compile(&json!({"in": [{"var": "principal.id"}, ["a", "b"]]})).unwrap();
        assert!(!constant.walks_data());
        let plain =
            compile(&json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]})).unwrap();
        assert!(!plain.walks_data());
        assert!(plain.within_budget(10_000).is_ok());
    }

    #[test]
    fn the_longest_array_is_found_anywhere() {
        assert_eq!(
            longest_array(&json!({"a": [1, 2], "b": {"c": [[1, 2, 3, 4], 5]}})),
            4
        );
        assert_eq!(longest_array(&json!({"a": 1})), 0);
    }

    #[test]
    fn constants_work() {
        assert_eq!(compile(&json!(true)).unwrap().eval(&json!({})), Ok(true));
        assert_eq!(
            compile(&json!({"!": [true]})).unwrap().eval(&json!({})),
            Ok(false)
        );
    }
}
