//! sylkRTC-2, the JSON protocol between browsers (sylkrtc.js) and the gateway.
//!
//! No IO here: [`parse`] turns one WebSocket text frame into a typed [`Request`], a rejection
//! that must be answered with an `error` (validation failed and the message had a
//! `transaction`), or a message to ignore silently; [`Event`] is everything the server sends.
//!
//! The contract is `shared/protocol/sylkrtc.md`. Validation follows SylkServer's models
//! property by property, so a client sees the same error text for the same mistake:
//! strict JSON types (an integer field takes `true`/`false` too, a Python quirk kept),
//! enumerations, SIP URIs validated and returned without `sip:`, unknown keys ignored.

pub mod addressbook;
pub mod events;
pub mod pyrepr;
pub mod requests;
pub mod schema;
pub mod uri;

use serde_json::Value;

pub use events::*;
pub use requests::*;

/// What one incoming text frame amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A valid request: queue it for its handler.
    Request(Request),
    /// Validation failed: answer at once with `error`, echoing the raw `transaction`.
    Rejected {
        transaction: Value,
        kind: String,
        error: String,
    },
    /// No answer at all (the original only logs these).
    Ignored(Ignored),
}

/// Why a frame gets no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    InvalidJson(String),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// `could not get WebSocket message type`
    MissingType,
    /// `unknown WebSocket request: <type>`
    UnknownType(String),
    /// Validation failed and there is no `transaction` to answer to.
    NoTransaction {
        kind: String,
        error: String,
    },
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::InvalidJson(e) => write!(f, "invalid JSON: {e}"),
            Ignored::NotAnObject => f.write_str("message is not a JSON object"),
            Ignored::MissingType => f.write_str("could not get WebSocket message type"),
            Ignored::UnknownType(t) => write!(f, "unknown WebSocket request: {t}"),
            Ignored::NoTransaction { kind, error } => {
                write!(f, "{kind}: {error} (no transaction, not answered)")
            }
        }
    }
}

/// Parses and validates one text frame.
pub fn parse(text: &str) -> Parsed {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Parsed::Ignored(Ignored::InvalidJson(e.to_string())),
    };
    parse_value(&value)
}

/// [`parse`] for an already decoded JSON value.
pub fn parse_value(value: &Value) -> Parsed {
    let Value::Object(message) = value else {
        return Parsed::Ignored(Ignored::NotAnObject);
    };
    let Some(kind) = message.get("sylkrtc") else {
        return Parsed::Ignored(Ignored::MissingType);
    };
    let Some(kind) = kind.as_str() else {
        return Parsed::Ignored(Ignored::UnknownType(pyrepr::py_repr(kind)));
    };
    match requests::build(kind, message) {
        None => Parsed::Ignored(Ignored::UnknownType(kind.to_string())),
        Some(Ok(request)) => Parsed::Request(request),
        Some(Err(error)) => match message.get("transaction") {
            Some(transaction) => Parsed::Rejected {
                transaction: transaction.clone(),
                kind: kind.to_string(),
                error,
            },
            None => Parsed::Ignored(Ignored::NoTransaction {
                kind: kind.to_string(),
                error,
            }),
        },
    }
}
#[cfg(test)]
mod tests_events;
#[cfg(test)]
mod tests_requests;
