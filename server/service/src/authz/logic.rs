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

/// A compiled condition.
#[derive(Clone)]
pub struct Condition {
    logic: Arc<datalogic_rs::Logic>,
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

/// Compiles a rule, or says what is wrong with it and where.
pub fn compile(rule: &Value) -> Result<Condition, RuleError> {
    let mut errors = Vec::new();
    check_vars(rule, "", false, &mut errors);
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    let text = rule.to_string();
    let logic = ENGINE.compile(text.as_str()).map_err(|e| RuleError {
        pointer: String::new(),
        message: format!("not valid JSON Logic: {e}"),
    })?;
    Ok(Condition {
        logic: Arc::new(logic),
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
    /// Evaluates against a document already in `arena` (see [`prepare`]).
    pub fn eval_in<'a>(&'a self, data: &'a DataValue<'a>, arena: &'a Bump) -> Result<bool, String> {
        ENGINE
            .evaluate(&self.logic, data, arena)
            .map(|v| ENGINE.truthy(v))
            .map_err(|e| e.to_string())
    }

    /// Evaluates against `data`; a rule that fails at run time (a type error) is false, and
    /// the error is returned for the explanation.
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
    fn constants_work() {
        assert_eq!(compile(&json!(true)).unwrap().eval(&json!({})), Ok(true));
        assert_eq!(
            compile(&json!({"!": [true]})).unwrap().eval(&json!({})),
            Ok(false)
        );
    }
}
