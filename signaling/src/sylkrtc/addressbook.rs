//! Addressbook entries (`Contact`, `Group`, `Policy`), as SylkServer's XCAP models define them.
//!
//! `account-update-addressbook` turns its `data` into one of these *before* the request itself
//! is validated, so a bad entry is reported with the entry's class name.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::schema::{
    boolean, object, objects, opt_any_object, opt_boolean, opt_object, opt_string, string,
    validate, Model,
};

pub static CONTACT_URI: Model = Model {
    name: "ContactURI",
    props: &[
        string("id"),
        string("uri"),
        opt_string("type"),
        opt_any_object("attributes"),
        opt_boolean("default"),
    ],
};

pub static EVENT_HANDLING: Model = Model {
    name: "EventHandling",
    props: &[string("policy"), boolean("subscribe")],
};

pub static CONTACT: Model = Model {
    name: "Contact",
    props: &[
        string("id"),
        string("name"),
        objects("uris", &CONTACT_URI),
        object("dialog", &EVENT_HANDLING),
        object("presence", &EVENT_HANDLING),
        opt_any_object("attributes"),
        opt_object("defaultUri", &CONTACT_URI),
    ],
};

pub static GROUP: Model = Model {
    name: "Group",
    props: &[
        string("id"),
        string("name"),
        opt_any_object("attributes"),
        objects("contacts", &CONTACT),
    ],
};

pub static POLICY: Model = Model {
    name: "Policy",
    props: &[
        string("id"),
        string("name"),
        string("uri"),
        object("dialog", &EVENT_HANDLING),
        object("presence", &EVENT_HANDLING),
        opt_any_object("attributes"),
    ],
};

pub static ADDRESS_BOOK: Model = Model {
    name: "AddressBook",
    props: &[
        objects("contacts", &CONTACT),
        objects("groups", &GROUP),
        objects("policies", &POLICY),
    ],
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactUri {
    pub id: String,
    pub uri: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventHandling {
    pub policy: String,
    pub subscribe: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub uris: Vec<ContactUri>,
    pub dialog: EventHandling,
    pub presence: EventHandling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    /// Defaults to the first URI when not given (`default_uri` is accepted as an alias).
    #[serde(
        rename = "defaultUri",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_uri: Option<ContactUri>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    pub contacts: Vec<Contact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub uri: String,
    pub dialog: EventHandling,
    pub presence: EventHandling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressBook {
    pub contacts: Vec<Contact>,
    pub groups: Vec<Group>,
    pub policies: Vec<Policy>,
}

/// What `account-update-addressbook` carries in `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Contact(Contact),
    Group(Group),
    Policy(Policy),
    /// `type: "addressbook"` passes the mapper (which knows it) but not the request's own
    /// `type` check; it is kept only so that the error order matches.
    AddressBook(AddressBook),
}

impl Entry {
    pub fn id(&self) -> &str {
        match self {
            Entry::Contact(c) => &c.id,
            Entry::Group(g) => &g.id,
            Entry::Policy(p) => &p.id,
            Entry::AddressBook(_) => "",
        }
    }

    pub fn to_value(&self) -> Value {
        let v = match self {
            Entry::Contact(c) => serde_json::to_value(c),
            Entry::Group(g) => serde_json::to_value(g),
            Entry::Policy(p) => serde_json::to_value(p),
            Entry::AddressBook(a) => serde_json::to_value(a),
        };
        v.unwrap_or(Value::Null)
    }
}

fn fix_contact(mut c: Contact) -> Contact {
    if c.default_uri.is_none() {
        c.default_uri = c.uris.first().cloned();
    }
    c
}

fn typed<T: serde::de::DeserializeOwned>(map: Map<String, Value>) -> Result<T, String> {
    // The map was validated against the model the type mirrors; a mismatch is our bug.
    serde_json::from_value(Value::Object(map)).map_err(|_| "Internal error".to_string())
}

/// `XCAPMapper.from_payload(data, type)`: maps the entry type to its model and validates
/// `data` with it. Error texts are those of the original (including its Python errors).
pub fn entry_from_payload(data: &Value, kind: &Value) -> Result<Entry, String> {
    let Value::String(kind) = kind else {
        return Err(super::schema::no_attribute(kind, "lower"));
    };
    let model = match kind.to_lowercase().as_str() {
        "contact" => &CONTACT,
        "group" => &GROUP,
        "policy" => &POLICY,
        "addressbook" => &ADDRESS_BOOK,
        _ => return Err(format!("Unknown type: {kind}")),
    };
    let Value::Object(map) = data else {
        return Err(format!(
            "{}() argument after ** must be a mapping, not {}",
            model.name,
            super::schema::python_type_name(data)
        ));
    };
    let mut map = map.clone();
    if model.name == "Contact" && !map.contains_key("defaultUri") {
        if let Some(v) = map.remove("default_uri") {
            map.insert("defaultUri".into(), v);
        }
    }
    let norm = validate(model, &map)?;
    Ok(match model.name {
        "Contact" => Entry::Contact(fix_contact(typed(norm)?)),
        "Group" => {
            let mut g: Group = typed(norm)?;
            g.contacts = g.contacts.into_iter().map(fix_contact).collect();
            Entry::Group(g)
        }
        "Policy" => Entry::Policy(typed(norm)?),
        _ => Entry::AddressBook(typed(norm)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contact() -> Value {
        json!({"id":"c1","name":"Bob","uris":[{"id":"u1","uri":"bob@example.com"}],
               "dialog":{"policy":"default","subscribe":false},
               "presence":{"policy":"default","subscribe":false},
               "attributes":{"organization":"AG"}})
    }

    #[test]
    fn contact_gets_default_uri_and_keeps_attributes() {
        let e = entry_from_payload(&contact(), &json!("contact")).unwrap();
        let v = e.to_value();
        assert_eq!(v["defaultUri"], json!({"id":"u1","uri":"bob@example.com"}));
        assert_eq!(v["attributes"], json!({"organization":"AG"}));
        assert_eq!(e.id(), "c1");
    }

    #[test]
    fn errors() {
        assert_eq!(
            entry_from_payload(&contact(), &json!("groupMember")).unwrap_err(),
            "Unknown type: groupMember"
        );
        assert_eq!(
            entry_from_payload(&contact(), &json!(5)).unwrap_err(),
            "'int' object has no attribute 'lower'"
        );
        assert_eq!(
            entry_from_payload(&json!({"id": "c1"}), &json!("contact")).unwrap_err(),
            "Mandatory property 'name' of 'Contact' object is missing"
        );
        assert_eq!(
            entry_from_payload(&json!({"id": "g", "name": "G"}), &json!("group")).unwrap_err(),
            "Mandatory property 'contacts' of 'Group' object is missing"
        );
        let mut c = contact();
        c["dialog"] = json!({"policy": "x"});
        assert_eq!(
            entry_from_payload(&c, &json!("contact")).unwrap_err(),
            "Mandatory property 'subscribe' of 'EventHandling' object is missing"
        );
        assert_eq!(
            entry_from_payload(&json!([1]), &json!("policy")).unwrap_err(),
            "Policy() argument after ** must be a mapping, not list"
        );
    }
}
