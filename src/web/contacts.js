// The contacts of the web app: the account's addressbook as the gateway keeps it
// (`account-fetch-addressbook`, `account-update-addressbook`), listed with a search and a
// group filter, each with Call, Message, Edit and Delete; changes made on the account's other
// devices show up as they happen (`addressbook-updated`).
//
// A contact's group is a Group entry of the book (`{id, name, contacts: [Contact]}`, the
// members as whole entries, as SylkServer's model has them): saving a contact with a group
// name puts it in that group (made when new) and takes it out of its other groups.

import { t } from '/webrtcgateway/strings.js';

const $ = (id) => document.getElementById(id);

export class Contacts {
  /**
   * @param {object} ui what the list's buttons do: `call(uri)`, `message(uri)`, `error(text)`
   */
  constructor(ui) {
    this.ui = ui;
    this.account = null;
    this.contacts = [];
    this.groups = [];
    $('contact-search').addEventListener('input', () => this.render());
    $('contact-group').addEventListener('change', () => this.render());
    $('contact-form').addEventListener('submit', (e) => { e.preventDefault(); this.save().catch(err => this.ui.error(err.message)); });
    $('contact-cancel').addEventListener('click', () => this.edit(null, true));
  }

  /** Loads `account`'s book and follows its changes. */
  async load(account) {
    this.account = account;
    account.addEventListener('addressbook', ({ detail }) => this.changed(detail));
    const book = await account.fetchAddressbook();
    this.contacts = book.contacts || [];
    this.groups = book.groups || [];
    this.render();
  }

  changed({ type, action, entry }) {
    if (!entry) return;
    const list = type === 'contact' ? this.contacts : type === 'group' ? this.groups : null;
    if (!list) return;
    const at = list.findIndex(x => x.id === entry.id);
    if (action === 'delete') { if (at >= 0) list.splice(at, 1); }
    else if (at >= 0) list[at] = entry;
    else list.push(entry);
    this.render();
  }

  groupOf(contact) {
    return this.groups.find(g => (g.contacts || []).some(x => x.id === contact.id)) || null;
  }

  /** The contacts shown (search and group filter applied), by name. */
  shown() {
    const q = $('contact-search').value.trim().toLowerCase();
    const group = $('contact-group').value;
    return this.contacts
      .filter(c => !q || c.name.toLowerCase().includes(q) || c.uris.some(u => u.uri.toLowerCase().includes(q)))
      .filter(c => !group || (this.groups.find(g => g.id === group) || { contacts: [] }).contacts.some(x => x.id === c.id))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  render() {
    const select = $('contact-group');
    const chosen = select.value;
    select.replaceChildren(new Option(t('contacts.all'), ''));
    for (const g of [...this.groups].sort((a, b) => a.name.localeCompare(b.name))) select.add(new Option(g.name, g.id));
    select.value = this.groups.some(g => g.id === chosen) ? chosen : '';
    $('group-names').replaceChildren(...this.groups.map(g => new Option(g.name)));
    const list = $('contacts');
    list.replaceChildren();
    for (const c of this.shown()) {
      const uri = (c.defaultUri || c.uris[0] || {}).uri || '';
      const li = document.createElement('li');
      const who = document.createElement('span');
      const group = this.groupOf(c);
      who.textContent = `${c.name} (${uri})${group ? ' · ' + group.name : ''}`;
      const button = (id, action) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'secondary';
        b.textContent = t(id);
        b.setAttribute('aria-label', `${t(id)} ${c.name}`);
        b.addEventListener('click', action);
        return b;
      };
      li.append(who,
        button('contacts.call', () => this.ui.call(uri)),
        button('contacts.message', () => this.ui.message(uri)),
        button('contacts.edit', () => this.edit(c)),
        button('contacts.delete', () => this.remove(c).catch(err => this.ui.error(err.message))));
      list.appendChild(li);
    }
    $('contacts-empty').hidden = this.contacts.length > 0;
  }

  /**
   * Opens the form on `contact` (null: a new one, closed); `back`: the focus returns to what
   * opened the form.
   */
  edit(contact, back = false) {
    if (contact) this.opener = document.activeElement;
    $('contact-id').value = contact ? contact.id : '';
    $('contact-name').value = contact ? contact.name : '';
    $('contact-uri').value = contact ? ((contact.uris[0] || {}).uri || '') : '';
    const group = contact ? this.groupOf(contact) : null;
    $('contact-group-name').value = group ? group.name : '';
    $('contact-editor').open = !!contact;
    $('contact-legend').textContent = contact ? t('contacts.edit_title', { name: contact.name }) : t('contacts.add');
    if (contact) $('contact-name').focus();
    else if (back) {
      const opener = this.opener && this.opener.isConnected ? this.opener : $('contact-legend');
      opener.focus();
    }
  }

  async save() {
    const name = $('contact-name').value.trim();
    let uri = $('contact-uri').value.trim().replace(/^sips?:/, '');
    if (!name || !uri) return;
    if (!uri.includes('@')) uri += '@' + this.account.id.split('@')[1];
    const id = $('contact-id').value || crypto.randomUUID();
    const old = this.contacts.find(c => c.id === id);
    const contact = {
      id, name,
      uris: [{ id: old && old.uris[0] ? old.uris[0].id : crypto.randomUUID(), uri, type: 'SIP' }],
      dialog: old ? old.dialog : { policy: 'default', subscribe: false },
      presence: old ? old.presence : { policy: 'default', subscribe: false },
    };
    await this.account.updateAddressbook(old ? 'update' : 'add', 'contact', contact);
    await this.setGroup(contact, $('contact-group-name').value.trim());
    this.edit(null, true);
  }

  /** Puts `contact` (as it is now) in the group named `name` alone (none: in no group). */
  async setGroup(contact, name) {
    const update = (action, group) => this.account.updateAddressbook(action, 'group', group);
    for (const g of [...this.groups]) {
      const others = (g.contacts || []).filter(x => x.id !== contact.id);
      if (g.name === name) await update('update', { ...g, contacts: [...others, contact] });
      else if (others.length !== (g.contacts || []).length) await update('update', { ...g, contacts: others });
    }
    if (name && !this.groups.some(g => g.name === name)) {
      await update('add', { id: crypto.randomUUID(), name, contacts: [contact] });
    }
  }

  async remove(contact) {
    await this.setGroup(contact, '');
    await this.account.updateAddressbook('delete', 'contact', contact);
  }
}
