import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CHECK_EVERY, HttpError, IN_FLIGHT, answeredBy, backoffDelay, batches, checkDelay, envelope, inLanes, isBusy,
  lanesAfter, onlyMissingFiles, pushLanes, reachState, retryAfterSeconds, retryDelay,
} from '../../pwa/js/sync.js';

test('batches keep to 100 records and under 1 MB', () => {
  const small = Array.from({ length: 250 }, (_, i) => ({ id: String(i), data: {} }));
  assert.deepEqual(batches(small).map((b) => b.length), [100, 100, 50]);
  const big = Array.from({ length: 5 }, (_, i) => ({ id: String(i), data: { notes: 'x'.repeat(200_000) } }));
  for (const batch of batches(big)) {
    assert.ok(JSON.stringify(batch).length * 3 <= 1_000_000 || batch.length === 1);
  }
  assert.equal(batches(big).flat().length, 5);
});

test('backoff grows with the attempt, has jitter and stops at five minutes', () => {
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(3, () => 1), 8000);
  assert.equal(backoffDelay(30, () => 1), 300_000);
  assert.equal(backoffDelay(3, () => 0.5), 4000);
});

test('a busy server\'s Retry-After is the wait before trying again, within a second and five minutes', () => {
  const busy = new HttpError(503, { code: 'server_busy' }, retryAfterSeconds('4'));
  assert.equal(retryDelay(0, busy, () => 0), 4000); // the backoff alone would not wait at all
  assert.equal(retryDelay(0, busy, () => 1), 4000);
  assert.equal(retryDelay(6, busy, () => 1), 4000); // nor grow to a minute while the server waits
  assert.equal(retryDelay(0, new HttpError(429, null, retryAfterSeconds('3600')), () => 0), 300_000);
  assert.equal(retryDelay(0, new HttpError(503, null, retryAfterSeconds('0.01')), () => 0), 1000);
  assert.equal(retryDelay(3, new HttpError(500, null), () => 1), 8000); // no Retry-After: the backoff
  assert.equal(retryDelay(2, new Error('network'), () => 0.5), 2000);
  for (const header of [null, '', 'soon', '-5', 'Wed, 21 Oct 2026 07:28:00 GMT']) {
    assert.equal(retryAfterSeconds(header), 0, String(header));
  }
});

test('a busy server\'s wait to the millisecond in its body comes before its Retry-After', () => {
  const busy = (ms, header) => new HttpError(503, { code: 'server_busy', retry_after_ms: ms }, retryAfterSeconds(header));
  assert.equal(retryDelay(0, busy(350, '1'), () => 1), 350); // under a second: the header cannot say it
  assert.equal(retryDelay(4, busy(2500, '3'), () => 0), 2500);
  assert.equal(retryDelay(0, busy(5, '1'), () => 0), 100); // a tenth of a second at least
  assert.equal(retryDelay(0, busy(9_000_000, '30'), () => 0), 300_000);
  for (const odd of [0, -40, 1.5, '300', null, true]) {
    assert.equal(retryDelay(0, busy(odd, '2'), () => 0), 2000, String(odd)); // the header then
  }
});

test('a record of a household added on the phone carries its name and address', () => {
  const record = { id: 'a', rev: 'b', form_id: 'f', form_version: '1', village_id: 'v', household_id: 'h',
    data: { outcome: 'nobody_home' }, meta: {}, state: 'finalized', household: { head_name: 'Lò Thị Mai', address: 'Bản Pá' } };
  assert.deepEqual(envelope(record).household, { head_name: 'Lò Thị Mai', address: 'Bản Pá' });
  assert.equal('household' in envelope({ ...record, household: undefined }), false);
});

test('the envelope carries only the protocol fields', () => {
  const record = { id: 'a', rev: 'b', form_id: 'f', form_version: '1', village_id: 'v', data: {},
    meta: {}, state: 'finalized', household_name: 'X', errors: null };
  assert.deepEqual(Object.keys(envelope(record)).sort(),
    ['base_rev', 'data', 'form_id', 'form_version', 'household_id', 'id', 'meta', 'rev', 'village_id']);
});

test('the header tells no network, not asked yet, answering and not answering apart', () => {
  assert.equal(reachState(false, true), 'offline');
  assert.equal(reachState(false, null), 'offline');
  assert.equal(reachState(true, null), 'checking');
  assert.equal(reachState(true, true), 'reachable');
  assert.equal(reachState(true, false), 'unreachable');
});

test('the light check waits its interval after the last exchange, and no longer', () => {
  const now = 10_000_000;
  assert.equal(checkDelay(now, now), CHECK_EVERY);
  assert.equal(checkDelay(now - 30_000, now), CHECK_EVERY - 30_000);
  assert.equal(checkDelay(now - 10 * CHECK_EVERY, now), 0);
  assert.equal(checkDelay(now + 60_000, now), CHECK_EVERY); // a clock set back: still bounded
  assert.ok(CHECK_EVERY >= 60_000, 'never more than one check a minute');
});

test('only the server\'s own answers count as the server answering', () => {
  const json = { 'Content-Type': 'application/json' };
  assert.equal(answeredBy(new Response('{"ok":true}', { status: 200, headers: json })), true);
  assert.equal(answeredBy(new Response('{}', { status: 401, headers: json })), true); // revoked, but there
  assert.equal(answeredBy(new Response('{}', { status: 500, headers: json })), true);
  // A proxy whose server is down, and a Wi-Fi login page that answers every address.
  for (const status of [502, 503, 504]) {
    assert.equal(answeredBy(new Response('<h1>Bad Gateway</h1>', { status, headers: { 'Content-Type': 'text/html' } })), false);
  }
  // The server itself, busy (admission control): it answered, and says when to come back.
  const busy = { 'Content-Type': 'application/json', 'Retry-After': '3' };
  assert.equal(answeredBy(new Response('{"code":"server_busy"}', { status: 503, headers: busy })), true);
  assert.equal(answeredBy(new Response('{}', { status: 503, headers: json })), false);
  assert.equal(answeredBy(new Response('<form>Đăng nhập Wi-Fi</form>', { status: 200, headers: { 'Content-Type': 'text/html' } })), false);
  assert.equal(answeredBy(new Response(null, { status: 404 }), 'HEAD'), true); // a photo the server lacks
});

test('a record refused only for files the server lacks is sent again with them, no other', () => {
  const missing = [{ code: 'missing_blob', message: 'x' }];
  assert.equal(onlyMissingFiles({ house_photo: missing }), true);
  assert.equal(onlyMissingFiles({ house_photo: missing, 'members[0].member_photo': missing }), true);
  // Any other fault is the volunteer's to mend: left refused, with its message.
  assert.equal(onlyMissingFiles({ house_photo: missing, birth_year: [{ code: 'constraint' }] }), false);
  assert.equal(onlyMissingFiles({ house_photo: [...missing, { code: 'file_too_large' }] }), false);
  assert.equal(onlyMissingFiles({ house_photo: [] }), false);
  for (const odd of [undefined, null, {}, { a: 'missing_blob' }, { a: [null] }]) {
    assert.equal(onlyMissingFiles(odd), false, JSON.stringify(odd));
  }
});

/** Work whose end the test decides: `started` in order, each ended by `finish(item)`. */
function controlledWork() {
  const started = [];
  const ends = new Map();
  let atOnce = 0;
  let most = 0;
  const work = (item) => new Promise((resolve, reject) => {
    started.push(item);
    atOnce += 1;
    most = Math.max(most, atOnce);
    ends.set(item, (error) => { atOnce -= 1; if (error) reject(error); else resolve(); });
  });
  const turn = () => new Promise((r) => setImmediate(r));
  return { work, started, finish: async (item, error) => { ends.get(item)(error); await turn(); }, most: () => most, turn };
}

test('a push keeps as many batches at the server as it has room for, each sent once, in order', async () => {
  assert.equal(IN_FLIGHT, 3);
  const w = controlledWork();
  let lanes = 1;
  const done = inLanes([1, 2, 3, 4, 5], w.work, () => lanes);
  await w.turn();
  assert.deepEqual(w.started, [1]); // a sync starts with one
  lanes = 2; // its answer said the server has room for two
  await w.finish(1);
  assert.deepEqual(w.started, [1, 2, 3]);
  await w.finish(3); // the later one answered first: the next goes at once
  assert.deepEqual(w.started, [1, 2, 3, 4]);
  for (const item of [2, 4, 5]) await w.finish(item);
  await done;
  assert.deepEqual(w.started, [1, 2, 3, 4, 5]);
  assert.equal(w.most(), 2);
});

test('when the server has room for one again, the batches at work finish and the rest go one by one', async () => {
  const w = controlledWork();
  let lanes = 2;
  const done = inLanes([1, 2, 3, 4, 5], w.work, () => lanes);
  await w.turn();
  assert.deepEqual(w.started, [1, 2]);
  lanes = 1; // a busy answer, or an answer with room for one
  await w.finish(2);
  assert.deepEqual(w.started, [1, 2]); // one still at work: nothing new
  await w.finish(1);
  assert.deepEqual(w.started, [1, 2, 3]);
  for (const item of [3, 4]) {
    await w.finish(item);
    assert.equal(w.started.length, item + 1);
  }
  await w.finish(5);
  await done;
  assert.equal(w.most(), 2);
});

test('a batch that fails stops the push from sending more, once the other batch has its answer', async () => {
  const w = controlledWork();
  const told = [];
  let settled = false;
  const done = inLanes([1, 2, 3, 4], (item, stopped) => { told.push(stopped); return w.work(item); }, () => 2)
    .then(() => 'ok', (error) => error).finally(() => { settled = true; });
  await w.turn();
  assert.equal(told[1](), false);
  await w.finish(1, new Error('no network'));
  assert.equal(told[1](), true); // the batch still at work hears it: it does not try again
  assert.deepEqual(w.started, [1, 2]); // nothing new after the failure
  assert.equal(settled, false); // the other batch's answer still counts: it is waited for
  await w.finish(2, new Error('a later one'));
  assert.equal((await done).message, 'no network'); // the first failure is the one told
  assert.deepEqual(w.started, [1, 2]);
  assert.equal(await inLanes([], w.work), undefined); // nothing to send: done at once
});

test('the server\'s answer says how many batches to keep at it, never more than IN_FLIGHT nor fewer than one', () => {
  // The same cases as bench/phones.py: room_in (tests/unit/test_admission_gate.py).
  const { cases } = JSON.parse(readFileSync(new URL('../../sync/batches_at_once_cases.json', import.meta.url), 'utf8'));
  for (const { answer, room } of cases) assert.equal(lanesAfter(answer), Math.min(IN_FLIGHT, room), JSON.stringify(answer));
  assert.equal(lanesAfter(undefined), 1);
});

test('a busy answer is the server\'s 503 or a 429, no other error', () => {
  assert.equal(isBusy(new HttpError(503, { code: 'server_busy' }, 2)), true);
  assert.equal(isBusy(new HttpError(429, null, 5)), true);
  for (const status of [400, 413, 422, 500]) assert.equal(isBusy(new HttpError(status, null)), false);
  assert.equal(isBusy(new TypeError('Failed to fetch')), false);
});

test('the push keeps what the server last said, and one after a busy answer', () => {
  const before = pushLanes.now;
  try {
    pushLanes.now = 1;
    pushLanes.answered({ results: [], batches_at_once: 2 });
    assert.equal(pushLanes.now, 2); // kept for the next sync too
    pushLanes.busy();
    assert.equal(pushLanes.now, 1);
    pushLanes.answered({ results: [] }); // a server that says nothing: one at a time
    assert.equal(pushLanes.now, 1);
    pushLanes.answered({ results: [], batches_at_once: 2 });
    pushLanes.answered({ results: [], batches_at_once: 1 }); // full again
    assert.equal(pushLanes.now, 1);
  } finally {
    pushLanes.now = before;
  }
});
