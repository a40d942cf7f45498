// The call history of the web app, kept in the browser (IndexedDB, database "sylk-gateway",
// store "calls"): every call of an account with its direction, the other party, when it
// started, how long it lasted and how it ended. Nothing of it goes to the gateway.
//
// An entry: {id, account, direction: 'outgoing'|'incoming', uri, name, started (ms since the
// epoch), duration (s), outcome: 'answered'|'missed'|'declined'|'failed', reason}.

const DB = 'sylk-gateway';
const STORE = 'calls';
/** Entries kept per account: older ones are dropped as new ones come. */
const KEEP = 200;

let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
        store.createIndex('account', 'account');
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { opened = null; reject(req.error); };
    });
  }
  return opened;
}

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Every entry of `account`, newest first. */
export async function calls(account) {
  const store = (await db()).transaction(STORE).objectStore(STORE);
  const all = await done(store.index('account').getAll(account));
  return all.sort((a, b) => b.started - a.started);
}

/** Adds a call of `account`; the oldest entries beyond KEEP go. */
export async function addCall(account, entry) {
  const tx = (await db()).transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  await done(store.add(Object.assign({ account }, entry)));
  const all = await done(store.index('account').getAll(account));
  all.sort((a, b) => b.started - a.started);
  for (const old of all.slice(KEEP)) store.delete(old.id);
  return new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
}

/** Forgets the history of `account`. */
export async function clear(account) {
  const tx = (await db()).transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  for (const e of await done(store.index('account').getAll(account))) store.delete(e.id);
  return new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
}
