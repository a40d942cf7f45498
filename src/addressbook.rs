//! Addressbooks kept in the message store (no XCAP server): `account-fetch-addressbook` and
//! `account-update-addressbook` (§2.2) with their events.
//!
//! The book is one JSON document per account (`{contacts, groups, policies}`). An update is
//! acked at once (as SylkServer does), then either `addressbook-updated` goes to this
//! connection and the account's others, or `addressbook-update-failed` to this one only:
//! adding an id that exists, or updating or deleting one that does not, fails and changes
//! nothing.

use signaling::sylkrtc::addressbook::{AddressBook, Entry};
use signaling::sylkrtc::{self, AccountEvent, Event};
use tracing::{info, warn};

use crate::connection::{ApiError, Connection};
use crate::messaging::db;

type Result<T = ()> = std::result::Result<T, ApiError>;

/// Applies `action` with `entry` to `book`; the error text is the event's `error`.
pub fn apply(
    book: &mut AddressBook,
    action: &str,
    entry: &Entry,
) -> std::result::Result<(), String> {
    fn change<T: Clone>(
        list: &mut Vec<T>,
        id_of: impl Fn(&T) -> &str,
        action: &str,
        kind: &str,
        item: &T,
    ) -> std::result::Result<(), String> {
        let id = id_of(item).to_string();
        let at = list.iter().position(|x| id_of(x) == id);
        match (action, at) {
            ("add", None) => list.push(item.clone()),
            ("add", Some(_)) => return Err(format!("{kind} {id} already exists")),
            ("update", Some(i)) => list[i] = item.clone(),
            ("delete", Some(i)) => {
                list.remove(i);
            }
            ("update" | "delete", None) => return Err(format!("{kind} {id} not found")),
            _ => return Err(format!("Unknown action: {action}")),
        }
        Ok(())
    }
    match entry {
        Entry::Contact(c) => change(&mut book.contacts, |x| &x.id, action, "Contact", c),
        Entry::Group(g) => change(&mut book.groups, |x| &x.id, action, "Group", g),
        Entry::Policy(p) => change(&mut book.policies, |x| &x.id, action, "Policy", p),
        Entry::AddressBook(_) => Err("Unknown type: addressbook".into()),
    }
}

fn load(text: Option<String>) -> AddressBook {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl Connection {
    /// `account-fetch-addressbook`: ack, then `addressbook-fetched` (empty when none is kept).
    pub(crate) async fn fetch_addressbook(
        &mut self,
        r: sylkrtc::AccountFetchAddressbookRequest,
    ) -> Result {
        let account = r.account.clone();
        let addressbook = load(db(&self.app.store, move |s| s.addressbook(&account)).await?);
        self.after_ack.push(Event::account(
            r.account,
            AccountEvent::AddressbookFetched { addressbook },
        ));
        Ok(())
    }

    /// `account-update-addressbook`: ack, then the outcome as an event.
    pub(crate) async fn update_addressbook(
        &mut self,
        r: sylkrtc::AccountUpdateAddressBookRequest,
    ) -> Result {
        let (account, action, entry) = (r.account.clone(), r.action.clone(), r.data.clone());
        let outcome = db(&self.app.store, move |s| {
            let mut book = load(s.addressbook(&account)?);
            Ok(match apply(&mut book, &action, &entry) {
                Ok(()) => {
                    s.set_addressbook(&account, &serde_json::to_string(&book).unwrap_or_default())?;
                    Ok(())
                }
                Err(e) => Err(e),
            })
        })
        .await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                warn!(conn = self.id, account = %r.account, error = %e, "addressbook update failed");
                Err("Internal error".to_string())
            }
        };
        let (kind, action) = (r.kind.clone(), r.action.clone());
        match outcome {
            Ok(()) => {
                info!(conn = self.id, account = %r.account, %kind, %action, id = r.data.id(), "addressbook updated");
                let (mut contact, mut group, mut policy) = (None, None, None);
                match r.data {
                    Entry::Contact(c) => contact = Some(Box::new(c)),
                    Entry::Group(g) => group = Some(Box::new(g)),
                    Entry::Policy(p) => policy = Some(Box::new(p)),
                    Entry::AddressBook(_) => {}
                }
                let event = Event::account(
                    r.account.as_str(),
                    AccountEvent::AddressbookUpdated {
                        kind,
                        action,
                        contact,
                        group,
                        policy,
                    },
                );
                self.app
                    .access
                    .deliver(&r.account, Some(self.id), &event.to_json());
                self.after_ack.push(event);
            }
            Err(error) => {
                let id = r.data.id().to_string();
                self.after_ack.push(Event::account(
                    r.account,
                    AccountEvent::AddressbookUpdateFailed {
                        kind,
                        action,
                        error,
                        id,
                    },
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contact(id: &str, name: &str) -> Entry {
        let data = json!({"id": id, "name": name, "uris": [{"id": "u1", "uri": "bob@example.com"}],
                          "dialog": {"policy": "default", "subscribe": false},
                          "presence": {"policy": "default", "subscribe": false}});
        sylkrtc::addressbook::entry_from_payload(&data, &json!("contact")).unwrap()
    }

    #[test]
    fn add_update_delete() {
        let mut book = AddressBook::default();
        apply(&mut book, "add", &contact("c1", "Bob")).unwrap();
        assert_eq!(
            apply(&mut book, "add", &contact("c1", "Bob")),
            Err("Contact c1 already exists".into())
        );
        apply(&mut book, "update", &contact("c1", "Robert")).unwrap();
        assert_eq!(book.contacts[0].name, "Robert");
        assert_eq!(
            apply(&mut book, "update", &contact("c2", "X")),
            Err("Contact c2 not found".into())
        );
        apply(&mut book, "delete", &contact("c1", "")).unwrap();
        assert!(book.contacts.is_empty());
        assert_eq!(
            apply(&mut book, "delete", &contact("c1", "")),
            Err("Contact c1 not found".into())
        );
        assert_eq!(load(Some("not json".into())), AddressBook::default());
    }
}
