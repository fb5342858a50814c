import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, batches, envelope } from '../../pwa/js/sync.js';

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
