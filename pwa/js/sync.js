// The sync queue: push finalized records, pull what the server has for this phone, ask what it
// holds. A record leaves the queue only when the server answered `applied` or `duplicate` for
// that exact (id, rev); nothing is ever deleted from the phone by sync.
import { all, get, getKv, put, setKv, applyPullPage } from './db.js';
import { applyReview, envelope, waitingCount, withHouseholds } from './records.js';
import { sha256Hex } from './blobs.js';

const API = new URL('../../api/v1/', import.meta.url);
const MAX_ITEMS = 100;
export const APP_VERSION = '0.2';
const MAX_BYTES = 900_000; // under the server's 1 MB, leaving room for the envelope

export class AuthError extends Error {}
export class HttpError extends Error {
  constructor(status, body, retryAfter = 0) {
    super(`HTTP ${status}`); this.status = status; this.body = body; this.retryAfter = retryAfter;
  }
}

/** Retry-After in seconds (a number; a date or nothing: 0, the backoff alone then decides). */
export function retryAfterSeconds(header) {
  const seconds = Number(header);
  return header && Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

// Whether the server answers, as the phone last heard it: `answered` is null until the first
// exchange since the app opened. navigator.onLine only says that the phone has a network; a
// server that is down, or a captive portal, leaves it true. Every real exchange (a sync, an
// enrollment) updates this; `checkServer` is the light check for when nothing else asked lately.
export const reach = { answered: null, at: 0 };
/** Dispatches 'change' whenever `reach` changes. */
export const reachEvents = new EventTarget();

function heard(answered) {
  const changed = reach.answered !== answered;
  reach.answered = answered;
  reach.at = Date.now();
  reachEvents.dispatchEvent(new Event(changed ? 'change' : 'heard'));
}

// A proxy in front of a stopped server answers for it: 502/503/504 mean the server did not. A
// Wi-Fi login page answers any address with HTML: only the server's JSON (or a HEAD) counts.
const NOT_ANSWERING = new Set([502, 503, 504]);

export function answeredBy(response, method = 'GET') {
  const json = (response.headers.get('Content-Type') || '').includes('json');
  // The server's own 503 (busy: admission control) is JSON and says when to come back.
  const busy = response.status === 503 && json && response.headers.has('Retry-After');
  return (busy || !NOT_ANSWERING.has(response.status)) && (json || method === 'HEAD');
}

/** fetch, noting whether the server answered. */
async function request(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    heard(false);
    throw error;
  }
  heard(answeredBy(response, init?.method));
  return response;
}

/** The header's words for the server: 'offline', 'checking' (not asked yet), 'reachable', 'unreachable'. */
export function reachState(onLine, answered) {
  if (!onLine) return 'offline';
  if (answered === null) return 'checking';
  return answered ? 'reachable' : 'unreachable';
}

// The light check: one small GET, at most once per CHECK_EVERY since the last exchange, and only
// when no sync is running or waiting to retry (those are exchanges themselves).
export const CHECK_EVERY = 120_000;
const CHECK_TIMEOUT = 10_000;

/** Milliseconds until the light check is due, given when the server was last heard from. */
export function checkDelay(lastHeardAt, now = Date.now()) {
  return Math.max(0, Math.min(CHECK_EVERY, lastHeardAt + CHECK_EVERY - now));
}

/** Ask the server whether it answers (no token, no data): true or false, within ten seconds. */
export async function checkServer() {
  try {
    const response = await request(new URL('health', API), {
      cache: 'no-store', signal: AbortSignal.timeout?.(CHECK_TIMEOUT), // older browsers: no limit but theirs
    });
    return response.ok && reach.answered === true;
  } catch {
    return false;
  }
}

function retriable(error) {
  return !(error instanceof AuthError) && (!(error instanceof HttpError)
    || error.status === 429 || error.status >= 500);
}

/** Exponential backoff with full jitter: 1 s, 2 s, 4 s ... capped at 5 minutes. */
export function backoffDelay(attempt, random = Math.random) {
  return Math.round(random() * Math.min(300_000, 1000 * 2 ** attempt));
}

/** The wait before trying again: what the server asked (a busy server's 503 says it to the
 * millisecond in its body, `retry_after_ms`, at least 0.1 s; else Retry-After, a busy server's
 * 503 or a 429, at least a second; at most five minutes), else the backoff. The server knows
 * its load: a growing backoff on top left it idle while phones it had turned away slept ever
 * longer. */
export function retryDelay(attempt, error, random = Math.random) {
  const precise = error?.body?.retry_after_ms;
  if (Number.isInteger(precise) && precise > 0) return Math.min(300_000, Math.max(100, precise));
  const asked = error?.retryAfter || 0;
  return asked > 0 ? Math.min(300_000, Math.max(1000, 1000 * asked)) : backoffDelay(attempt, random);
}

async function call(path, { method = 'GET', body } = {}) {
  const token = await getKv('token');
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await request(new URL(path, API), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  let json = null;
  try { json = await response.json(); } catch { /* a proxy's HTML error page */ }
  if (response.status === 401) throw new AuthError(json?.message?.en || 'unauthorized');
  if (!response.ok) {
    throw new HttpError(response.status, json, retryAfterSeconds(response.headers.get('Retry-After')));
  }
  return json;
}

/** A busy server's answer (admission control, or a limit): it asks for less, not for nothing. */
export const isBusy = (error) => error instanceof HttpError && (error.status === 503 || error.status === 429);

/** `fn()`, tried again after a retriable error, unless `stopped()` (the sync failed meanwhile). */
async function withRetry(fn, { attempts = 4, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), onBusy, stopped } = {}) {
  for (let attempt = 0; ; attempt++) {
    try { return await fn(); } catch (error) {
      if (isBusy(error)) onBusy?.();
      if (!retriable(error) || attempt + 1 >= attempts || stopped?.()) throw error;
      await sleep(retryDelay(attempt, error));
      if (stopped?.()) throw error;
    }
  }
}

// Batches a push keeps at the server at once, at most. With more than one, the phone is not idle
// while an answer crosses a slow network (3G: a few hundred ms each way), and a server with several
// worker processes works on them at the same time: with three, one is written while the next two
// are checked. Each record is in one batch only, so their order does not matter. The server says
// in each answer how many it has room for (`batches_at_once`): three for a phone syncing alone,
// two while it has sync slots free, else one. A sync starts with what the server's last answer said (one after the app opens),
// and after a busy answer goes on with one until the server says again that it has room.
export const IN_FLIGHT = 3;

/** How many batches a push keeps at the server at once now, as the server's answers said. */
export const pushLanes = {
  now: 1,
  answered(answer) { this.now = lanesAfter(answer); },
  busy() { this.now = 1; },
};

/** The batches to keep at the server at once after an answer: what it said it has room for
 * (a whole number, at most IN_FLIGHT; anything else, or nothing, is one). */
export function lanesAfter(answer) {
  const room = answer?.batches_at_once;
  return Number.isInteger(room) && room >= 1 ? Math.min(IN_FLIGHT, room) : 1;
}

/**
 * `work(item, stopped)` for each item in order of starting, at most `lanesNow()` at once (read
 * again whenever one ends, so the bound may rise or fall as the work goes). The first error stops
 * any more from starting (`stopped()` then says so to those at work, which need not try again),
 * and is thrown once those at work have ended.
 */
export function inLanes(items, work, lanesNow = () => 1) {
  return new Promise((resolve, reject) => {
    const waiting = [...items];
    let running = 0;
    let failure = null;
    const stopped = () => failure !== null;
    const next = () => {
      while (failure === null && waiting.length && running < Math.max(1, lanesNow())) {
        const item = waiting.shift();
        running += 1;
        Promise.resolve().then(() => work(item, stopped))
          .catch((error) => { failure ??= { error }; })
          .finally(() => { running -= 1; next(); });
      }
      if (running === 0) {
        if (failure) reject(failure.error);
        else resolve();
      }
    };
    next();
  });
}

export async function enroll(code) {
  const response = await request(new URL('enroll', API), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(response.status, json);
  await setKv('token', json.token);
  await setKv('device', { device_id: json.device_id, user: json.user, commune: json.commune });
  for (const village of json.villages || []) await put('villages', village);
  return json;
}

/** Split the queue into batches within the protocol's limits. */
export function batches(records) {
  const out = [];
  let current = [];
  let size = 0;
  for (const record of records) {
    const bytes = JSON.stringify(record).length * 3; // worst case UTF-8
    if (current.length && (current.length >= MAX_ITEMS || size + bytes > MAX_BYTES)) {
      out.push(current); current = []; size = 0;
    }
    current.push(record); size += bytes;
  }
  if (current.length) out.push(current);
  return out;
}

export { envelope }; // the push envelope, one for pushes and backup files (records.js)

/** Photos named by queued records go first: the server refuses a record whose photo it lacks. */
async function uploadBlobs(queue) {
  const hashes = new Set();
  for (const record of queue) collectHashes(record.data, hashes);
  for (const sha of hashes) {
    const stored = await get('blobs', sha);
    if (!stored || stored.uploaded) continue;
    await withRetry(async () => {
      const token = await getKv('token');
      const url = new URL(`blobs/${sha}`, API);
      const head = await request(url, { method: 'HEAD', headers: { Authorization: `Bearer ${token}` } });
      if (head.status === 401) throw new AuthError('unauthorized');
      if (!head.ok) {
        const response = await request(url, { method: 'PUT', body: stored.blob,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': stored.blob.type || 'application/octet-stream' } });
        if (response.status === 401) throw new AuthError('unauthorized');
        if (!response.ok) {
          throw new HttpError(response.status, await response.json().catch(() => null),
            retryAfterSeconds(response.headers.get('Retry-After')));
        }
      }
    });
    await put('blobs', { ...stored, uploaded: true });
  }
}

function collectHashes(value, out) {
  if (typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)) out.add(value);
  else if (Array.isArray(value)) value.forEach((v) => collectHashes(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => collectHashes(v, out));
  return out;
}

/** Refused only for files the server lacks though marked sent here (it lost them: a restore, an erasure). */
export const onlyMissingFiles = (errors) => {
  const lists = Object.values(errors || {});
  return lists.length > 0 && lists.every((l) => Array.isArray(l) && l.length && l.every((e) => e?.code === 'missing_blob'));
};

async function push(onProgress) {
  // A household added on this phone travels with its records until the server holds it.
  const queue = withHouseholds((await all('records')).filter((r) => r.state === 'finalized'), await all('households'));
  await uploadBlobs(queue);
  const counts = { applied: 0, duplicate: 0, conflict: 0, rejected: 0, total: queue.length };
  const progress = { done: 0, total: queue.length, onProgress };
  const lost = await sendBatches(queue, counts, progress, true);
  if (lost.length) { // once more, their files marked unsent (uploadBlobs asks the server first)
    for (const sha of collectHashes(lost.map((r) => r.data), new Set())) {
      const stored = await get('blobs', sha);
      if (stored) await put('blobs', { ...stored, uploaded: false });
    }
    await uploadBlobs(lost);
    progress.total += lost.length;
    await sendBatches(lost, counts, progress, false);
  }
  return counts;
}

/** Returns, when `resend`, the records refused only for lost files this phone holds, unchanged. */
async function sendBatches(queue, counts, progress, resend) {
  const lost = [];
  await inLanes(batches(queue), async (batch, stopped) => {
    const json = await withRetry(() => call('sync/push', { method: 'POST', body: { items: batch.map(envelope) } }),
      { onBusy: () => pushLanes.busy(), stopped });
    pushLanes.answered(json);
    for (const [i, result] of json.results.entries()) {
      const record = batch[i];
      // Only the revision the server answered about may change state.
      if (result.id !== record.id || result.rev !== record.rev) continue;
      if (resend && result.status === 'rejected' && onlyMissingFiles(result.errors)
          && (await Promise.all([...collectHashes(record.data, new Set())].map((h) => get('blobs', h)))).every(Boolean)) {
        lost.push(record);
        continue;
      }
      counts[result.status] += 1;
      const next = { ...record, sync_result: result, synced_at: new Date().toISOString() };
      if (result.status === 'applied' || result.status === 'duplicate') {
        next.state = 'synced';
        next.server_rev = record.rev;
      } else if (result.status === 'conflict') {
        next.state = 'conflict';
        next.server_rev = result.server_rev;
      } else {
        next.state = 'rejected';
        next.errors = result.errors;
      }
      await put('records', next);
    }
    progress.done += batch.length;
    progress.onProgress?.({ phase: 'push', done: progress.done, total: progress.total });
  }, () => pushLanes.now);
  return lost;
}

async function pull(onProgress) {
  let since = await getKv('since', 0);
  let pages = 0;
  for (;;) {
    const page = await withRetry(() => call(`sync/pull?since=${since}&limit=500`));
    await applyPullPage(page.changes, page.next_since, applyReview);
    since = page.next_since;
    pages += 1;
    onProgress?.({ phase: 'pull', pages });
    if (!page.has_more) return pages;
  }
}

/**
 * The files the forms' labels show, fetched once and kept with the photos (by hash, never
 * uploaded), so that a form shows them offline. One that fails waits for the next sync:
 * the form works without it meanwhile.
 */
async function fetchMedia() {
  const token = await getKv('token');
  for (const form of await all('forms')) {
    for (const [name, entry] of Object.entries(form.definition.media || {})) {
      if (await get('blobs', entry.sha256)) continue;
      try {
        const path = ['forms', form.form_id, form.version, 'media', name].map(encodeURIComponent).join('/');
        const response = await request(new URL(path, API), { headers: { Authorization: `Bearer ${token}` } });
        if (!response.ok) continue;
        const blob = await response.blob();
        if (await sha256Hex(blob) !== entry.sha256) continue;
        await put('blobs', { sha256: entry.sha256, blob, size: blob.size, uploaded: true, media: true });
      } catch { /* offline again: the next sync fetches it */ }
    }
  }
}

/** One full sync: push, pull, then what the server holds. Throws on failure after retries. */
export async function syncNow(onProgress) {
  const pushed = await push(onProgress);
  await pull(onProgress);
  await fetchMedia();
  onProgress?.({ phase: 'pulled' });
  const status = await withRetry(() => call('sync/status'));
  await setKv('server_status', { ...status, at: new Date().toISOString() });
  await report();
  return { pushed, status };
}

/** Tell the commune office how many records wait on this phone (best effort). */
async function report() {
  try {
    const records = await all('records');
    // The form versions held: the admin's Forms page shows which phones have a new version.
    const forms = (await all('forms')).map((f) => f.key);
    await call('device/report', { method: 'POST', body: { unsynced: waitingCount(records) + records.filter((r) => r.state === 'draft').length, app_version: APP_VERSION, forms } });
  } catch { /* an older server without the report endpoint: nothing to do */ }
}
