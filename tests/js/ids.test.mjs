// The ids the phone makes (pwa/js/ids.js): UUIDs of version 7, the server's pattern, ordered by
// the time they were made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuid } from '../../pwa/js/ids.js';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('an id is a lower-case UUID of version 7 and the RFC 9562 variant', () => {
  for (let i = 0; i < 1000; i += 1) assert.match(uuid(), SHAPE);
  // Whatever the random bytes, the version and variant bits are set.
  assert.match(uuid(0, (b) => b.fill(0xff)), SHAPE);
  assert.match(uuid(0, (b) => b.fill(0)), SHAPE);
});

test('its first 48 bits are the time it was made, in milliseconds', () => {
  const at = Date.UTC(2026, 10, 30, 17, 45, 12, 345);
  const id = uuid(at);
  assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
  // The time is the clock's when none is given.
  const before = Date.now();
  const now = parseInt(uuid().replace(/-/g, '').slice(0, 12), 16);
  assert.ok(now >= before && now <= Date.now());
});

test('ids made later sort after earlier ones, as text too', () => {
  const day = Date.UTC(2026, 10, 30, 0, 0, 0);
  const made = [];
  for (let minute = 0; minute < 24 * 60; minute += 7) made.push(uuid(day + minute * 60000));
  assert.deepEqual([...made].sort(), made);
  // One millisecond apart, the random part cannot reorder them.
  assert.ok(uuid(day + 1, (b) => b.fill(0)) > uuid(day, (b) => b.fill(0xff)));
});

test('ids made in the same millisecond differ', () => {
  const at = Date.now();
  const ids = new Set();
  for (let i = 0; i < 10000; i += 1) ids.add(uuid(at));
  assert.equal(ids.size, 10000);
});
