//! Declarative validation that reproduces SylkServer's `jsonobjects` models.
//!
//! A model is a class name and an ordered list of properties. Validation walks the
//! properties in declaration order (base class first, as Python's MRO walk does), so
//! the first failing property is the one reported, with the same text as the original:
//!
//! * missing mandatory property: `Mandatory property 'x' of 'Class' object is missing`
//! * wrong JSON type, or `null` for a mandatory one: `Invalid value for 'x' property: <repr>`
//! * enumeration: `Invalid value for 'x' property: <repr> (expected: a, b or c)`
//! * array item of the wrong type: `Invalid value for str: <repr>` / `Invalid value for Class: <repr>`
//! * validators: `invalid SIP URI: v`, `the value's length must be between a and b inclusive`
//!
//! The output is a normalised JSON object holding only declared properties (unknown keys
//! are dropped, optional `null`s are dropped, AORs lose their scheme, unique arrays are
//! de-duplicated, integers given as booleans become 0/1), ready for `serde` to turn into
//! the typed request.

use serde_json::{Map, Value};

use super::pyrepr::py_repr;
use super::uri::normalize_aor;

/// What a string property checks beyond being a string.
#[derive(Debug, Clone, Copy)]
pub enum StrCheck {
    None,
    /// `AORValidator`: SIP URI, returned without `sip:`/`sips:`.
    Aor,
    /// `LengthValidator(min, max)` on the number of characters.
    Len(usize, usize),
}

/// How a list property treats its items and the list as a whole.
#[derive(Debug, Clone, Copy)]
pub enum ListOf {
    /// `StringArray` subclasses: items must be strings.
    Strings {
        aor: bool,
        unique: bool,
        max_len: Option<usize>,
    },
    /// `JSONArray` of a model.
    Objects(&'static Model),
}

#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str(StrCheck),
    /// `IntegerProperty`: a JSON integer; `true`/`false` pass too (Python's bool is an int).
    Int,
    Bool,
    /// `LimitedChoiceProperty` with its allowed values.
    Choice(&'static [&'static str]),
    Object(&'static Model),
    List(ListOf),
    /// A free-form JSON object kept as given (`attributes` of addressbook entries).
    AnyObject,
}

#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Ty,
    pub optional: bool,
}

#[derive(Debug)]
pub struct Model {
    /// The Python class name, which appears in error texts.
    pub name: &'static str,
    pub props: &'static [Prop],
}

impl Prop {
    pub const fn new(name: &'static str, ty: Ty, optional: bool) -> Self {
        Prop { name, ty, optional }
    }
}

// Constructors used by the model tables (keep them short: the tables read like the spec).
pub const fn string(name: &'static str) -> Prop {
    Prop::new(name, Ty::Str(StrCheck::None), false)
}
pub const fn opt_string(name: &'static str) -> Prop {
    Prop::new(name, Ty::Str(StrCheck::None), true)
}
pub const fn aor(name: &'static str) -> Prop {
    Prop::new(name, Ty::Str(StrCheck::Aor), false)
}
pub const fn length(name: &'static str, min: usize, max: usize) -> Prop {
    Prop::new(name, Ty::Str(StrCheck::Len(min, max)), false)
}
pub const fn int(name: &'static str) -> Prop {
    Prop::new(name, Ty::Int, false)
}
pub const fn opt_int(name: &'static str) -> Prop {
    Prop::new(name, Ty::Int, true)
}
pub const fn boolean(name: &'static str) -> Prop {
    Prop::new(name, Ty::Bool, false)
}
pub const fn opt_boolean(name: &'static str) -> Prop {
    Prop::new(name, Ty::Bool, true)
}
pub const fn choice(name: &'static str, values: &'static [&'static str]) -> Prop {
    Prop::new(name, Ty::Choice(values), false)
}
pub const fn object(name: &'static str, model: &'static Model) -> Prop {
    Prop::new(name, Ty::Object(model), false)
}
pub const fn opt_object(name: &'static str, model: &'static Model) -> Prop {
    Prop::new(name, Ty::Object(model), true)
}
pub const fn objects(name: &'static str, model: &'static Model) -> Prop {
    Prop::new(name, Ty::List(ListOf::Objects(model)), false)
}
pub const fn opt_objects(name: &'static str, model: &'static Model) -> Prop {
    Prop::new(name, Ty::List(ListOf::Objects(model)), true)
}
pub const fn opt_any_object(name: &'static str) -> Prop {
    Prop::new(name, Ty::AnyObject, true)
}
/// A de-duplicated list of strings (`UniqueItemsValidator`).
pub const fn unique_strings(name: &'static str, optional: bool) -> Prop {
    Prop::new(
        name,
        Ty::List(ListOf::Strings {
            aor: false,
            unique: true,
            max_len: None,
        }),
        optional,
    )
}
/// `AORList`: de-duplicated AORs.
pub const fn aor_list(name: &'static str) -> Prop {
    Prop::new(
        name,
        Ty::List(ListOf::Strings {
            aor: true,
            unique: true,
            max_len: None,
        }),
        false,
    )
}

fn invalid(name: &str, value: &Value) -> String {
    format!("Invalid value for '{name}' property: {}", py_repr(value))
}

/// Python's `' or '.join(', '.join(sorted(values)).rsplit(', ', 1))`.
pub fn choices_text(values: &[&str]) -> String {
    let mut sorted: Vec<&str> = values.to_vec();
    sorted.sort_unstable();
    match sorted.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {}", rest.join(", "), last),
    }
}

pub fn python_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The text of a `TypeError` raised when an unhashable value is looked up in a set.
pub fn unhashable(v: &Value) -> Option<String> {
    match v {
        Value::Array(_) | Value::Object(_) => {
            Some(format!("unhashable type: '{}'", python_type_name(v)))
        }
        _ => None,
    }
}

/// `'<type>' object has no attribute '<attr>'`, the `AttributeError` of calling a str method on
/// a value of another type.
pub fn no_attribute(v: &Value, attr: &str) -> String {
    format!("'{}' object has no attribute '{attr}'", python_type_name(v))
}

/// Validates `data` against `model`; returns the normalised object or the error text.
pub fn validate(model: &Model, data: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for prop in model.props {
        match data.get(prop.name) {
            None if prop.optional => {}
            None => {
                return Err(format!(
                    "Mandatory property '{}' of '{}' object is missing",
                    prop.name, model.name
                ))
            }
            Some(Value::Null) if prop.optional => {}
            Some(value) => {
                out.insert(prop.name.to_string(), parse_value(prop, value)?);
            }
        }
    }
    Ok(out)
}

fn parse_value(prop: &Prop, value: &Value) -> Result<Value, String> {
    match prop.ty {
        Ty::Str(check) => {
            let Value::String(s) = value else {
                return Err(invalid(prop.name, value));
            };
            match check {
                StrCheck::None => Ok(value.clone()),
                StrCheck::Aor => normalize_aor(s)
                    .map(Value::String)
                    .map_err(|e| e.to_string()),
                StrCheck::Len(min, max) => {
                    let n = s.chars().count();
                    if (min..=max).contains(&n) {
                        Ok(value.clone())
                    } else {
                        Err(length_error(min, max))
                    }
                }
            }
        }
        Ty::Int => match value {
            Value::Number(n) if n.is_i64() => Ok(value.clone()),
            // Python ints have no bound; ours saturate (no field has a meaning that far out).
            Value::Number(n) if n.is_u64() => Ok(Value::from(i64::MAX)),
            Value::Bool(b) => Ok(Value::from(i64::from(*b))),
            _ => Err(invalid(prop.name, value)),
        },
        Ty::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(invalid(prop.name, value)),
        },
        Ty::Choice(values) => {
            if let Some(e) = unhashable(value) {
                return Err(e);
            }
            match value {
                Value::String(s) if values.contains(&s.as_str()) => Ok(value.clone()),
                _ => Err(format!(
                    "{} (expected: {})",
                    invalid(prop.name, value),
                    choices_text(values)
                )),
            }
        }
        Ty::Object(model) => match value {
            Value::Object(map) => validate(model, map).map(Value::Object),
            _ => Err(invalid(prop.name, value)),
        },
        Ty::AnyObject => match value {
            Value::Object(_) => Ok(value.clone()),
            _ => Err(invalid(prop.name, value)),
        },
        Ty::List(list) => {
            let Value::Array(items) = value else {
                return Err(invalid(prop.name, value));
            };
            parse_list(list, items).map(Value::Array)
        }
    }
}

fn length_error(min: usize, max: usize) -> String {
    format!("the value's length must be between {min} and {max} inclusive")
}

fn parse_list(list: ListOf, items: &[Value]) -> Result<Vec<Value>, String> {
    match list {
        ListOf::Objects(model) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => validate(model, map).map(Value::Object),
                _ => Err(format!(
                    "Invalid value for {}: {}",
                    model.name,
                    py_repr(item)
                )),
            })
            .collect(),
        ListOf::Strings {
            aor,
            unique,
            max_len,
        } => {
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(s) = item else {
                    return Err(format!("Invalid value for str: {}", py_repr(item)));
                };
                let s = if aor {
                    normalize_aor(s).map_err(|e| e.to_string())?
                } else {
                    s.clone()
                };
                out.push(Value::String(s));
            }
            if unique {
                let mut seen = std::collections::HashSet::new();
                out.retain(|v| seen.insert(v.as_str().unwrap_or_default().to_string()));
            }
            if let Some(max) = max_len {
                if out.len() > max {
                    return Err(length_error(0, max));
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: Model = Model {
        name: "Inner",
        props: &[string("a"), opt_int("b")],
    };
    static OUTER: Model = Model {
        name: "Outer",
        props: &[
            string("transaction"),
            aor("account"),
            choice("state", &["idle", "active"]),
            opt_object("inner", &INNER),
            opt_objects("items", &INNER),
            Prop::new(
                "pair",
                Ty::List(ListOf::Strings {
                    aor: false,
                    unique: true,
                    max_len: Some(2),
                }),
                true,
            ),
        ],
    };

    fn check(v: Value) -> Result<Value, String> {
        validate(&OUTER, v.as_object().unwrap()).map(Value::Object)
    }

    #[test]
    fn order_and_texts() {
        assert_eq!(
            check(json!({})).unwrap_err(),
            "Mandatory property 'transaction' of 'Outer' object is missing"
        );
        assert_eq!(
            check(json!({"transaction": 1, "account": 2})).unwrap_err(),
            "Invalid value for 'transaction' property: 1"
        );
        assert_eq!(
            check(json!({"transaction": "t", "account": null})).unwrap_err(),
            "Invalid value for 'account' property: None"
        );
        assert_eq!(
            check(json!({"transaction": "t", "account": "a b"})).unwrap_err(),
            "invalid SIP URI: a b"
        );
        assert_eq!(
            check(json!({"transaction": "t", "account": "sip:a@b", "state": "x"})).unwrap_err(),
            "Invalid value for 'state' property: 'x' (expected: active or idle)"
        );
        assert_eq!(
            check(json!({"transaction": "t", "account": "a@b", "state": ["x"]})).unwrap_err(),
            "unhashable type: 'list'"
        );
    }

    #[test]
    fn nested_and_lists() {
        let base = json!({"transaction": "t", "account": "sip:a@b", "state": "idle"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            check(b)
        };
        assert_eq!(
            with("inner", json!({})).unwrap_err(),
            "Mandatory property 'a' of 'Inner' object is missing"
        );
        assert_eq!(
            with("inner", json!("x")).unwrap_err(),
            "Invalid value for 'inner' property: 'x'"
        );
        assert_eq!(
            with("items", json!([5])).unwrap_err(),
            "Invalid value for Inner: 5"
        );
        assert_eq!(
            with("items", json!("abc")).unwrap_err(),
            "Invalid value for 'items' property: 'abc'"
        );
        assert_eq!(
            with("pair", json!(["a", 1])).unwrap_err(),
            "Invalid value for str: 1"
        );
        assert_eq!(
            with("pair", json!(["a", "b", "c"])).unwrap_err(),
            "the value's length must be between 0 and 2 inclusive"
        );
        let ok = with("pair", json!(["a", "b", "a", "b"])).unwrap();
        assert_eq!(ok["pair"], json!(["a", "b"]));
        assert_eq!(ok["account"], json!("a@b"));
        let ok = with("inner", json!({"a": "x", "b": true, "zz": 1})).unwrap();
        assert_eq!(ok["inner"], json!({"a": "x", "b": 1}));
        let ok = with("inner", Value::Null).unwrap();
        assert!(ok.get("inner").is_none());
    }

    #[test]
    fn choices_text_matches_python() {
        assert_eq!(choices_text(&["b", "a"]), "a or b");
        assert_eq!(
            choices_text(&["delivered", "failed", "displayed", "forbidden", "error"]),
            "delivered, displayed, error, failed or forbidden"
        );
        assert_eq!(choices_text(&["x"]), "x");
    }
}
