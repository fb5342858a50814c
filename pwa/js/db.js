// The only module that touches IndexedDB. Every record lives here from its first answer on;
// nothing is ever deleted by sync (a synced record only changes state).
const NAME = 'gocua';
const VERSION = 2;

// One step per schema version: a phone that skipped versions runs every step it missed.
const UPGRADES = [
  (db) => {
    const records = db.createObjectStore('records', { keyPath: 'id' });
    records.createIndex('state', 'state');
    records.createIndex('household_id', 'household_id');
    db.createObjectStore('kv', { keyPath: 'key' });
    db.createObjectStore('forms', { keyPath: 'key' });
    db.createObjectStore('villages', { keyPath: 'id' });
    const households = db.createObjectStore('households', { keyPath: 'id' });
    households.createIndex('village_id', 'village_id');
  },
  (db) => {
    // Photos, downscaled on the phone, keyed by their SHA-256 until the server has them.
    db.createObjectStore('blobs', { keyPath: 'sha256' });
  },
];

let opening = null;

/** @returns {Promise<IDBDatabase>} */
export function openDb() {
  opening ||= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION);
    req.onupgradeneeded = (event) => {
      for (let v = event.oldVersion; v < VERSION; v++) UPGRADES[v](req.result);
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab opened a newer version: let it upgrade, reopen on next use.
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    req.onerror = () => { opening = null; reject(req.error); };
    req.onblocked = () => reject(new Error('IndexedDB upgrade blocked by another tab'));
  });
  return opening;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Run `fn(stores)` in one transaction and resolve once it is committed (durably: the
 * 'strict' hint asks the browser to flush before reporting success where it can).
 */
export async function transaction(names, mode, fn) {
  const db = await openDb();
  const tx = db.transaction(names, mode, { durability: 'strict' });
  const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
  const value = await fn(stores, result);
  await done(tx);
  return value;
}

export const get = (store, key) => transaction([store], 'readonly', (s) => result(s[store].get(key)));
export const all = (store) => transaction([store], 'readonly', (s) => result(s[store].getAll()));
export const put = (store, value) => transaction([store], 'readwrite', (s) => { s[store].put(value); });
export const byIndex = (store, index, key) =>
  transaction([store], 'readonly', (s) => result(s[store].index(index).getAll(key)));

export async function getKv(key, fallback = null) {
  const row = await get('kv', key);
  return row ? row.value : fallback;
}
export const setKv = (key, value) => put('kv', { key, value });

/**
 * Store one pulled page and its checkpoint together: a crash leaves neither or both.
 * `onReview(record, decision)` turns a review decision into the record's next local state.
 */
export function applyPullPage(changes, nextSince, onReview) {
  return transaction(['forms', 'villages', 'households', 'records', 'kv'], 'readwrite', async (s, result) => {
    for (const change of changes) {
      if (change.kind === 'review') {
        const record = await result(s.records.get(change.data.record_id || change.id));
        if (record) s.records.put(onReview(record, change.data));
        continue;
      }
      if (change.kind === 'form') {
        s.forms.put({ key: change.id, form_id: change.data.form_id, version: change.data.version, definition: change.data.definition });
      } else if (change.kind === 'form_state') {
        // Whether the commune's volunteers get this form for new visits (absent: they do).
        s.kv.put({ key: `form_state:${change.data.form_id}`, value: change.data.state });
      } else if (change.kind === 'village' || change.kind === 'household') {
        const store = s[`${change.kind}s`];
        if (change.op === 'delete') store.delete(change.id); else store.put(change.data);
      }
    }
    s.kv.put({ key: 'since', value: nextSince });
  });
}
