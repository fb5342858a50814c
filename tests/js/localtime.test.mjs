import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

// The phone shows times in its own zone: each case runs in a child node with TZ set before any
// Date is made, as a phone in that zone would.
const RECORDS = new URL('../../pwa/js/records.js', import.meta.url).href;

function shown(tz, iso, lang) {
  const script = `import(${JSON.stringify(RECORDS)}).then((m) => process.stdout.write(m.localTime(${JSON.stringify(iso)}, ${JSON.stringify(lang)})));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
}

test('a UTC time reads in the phone\'s zone, day first, in both languages', () => {
  assert.equal(shown('Asia/Ho_Chi_Minh', '2026-11-29T21:15:00Z', 'vi'), '30/11/2026 04:15');
  assert.equal(shown('Asia/Ho_Chi_Minh', '2026-11-29T21:15:00.000Z', 'en'), '30/11/2026 04:15');
  assert.equal(shown('Asia/Ho_Chi_Minh', '2026-11-30T17:00:00Z', 'vi'), '01/12/2026 00:00');
  assert.equal(shown('Europe/London', '2026-11-29T21:15:00Z', 'vi'), '29/11/2026 21:15');
});

test('what is not a time is left as it is', () => {
  assert.equal(shown('Asia/Ho_Chi_Minh', '', 'vi'), '');
  assert.equal(shown('Asia/Ho_Chi_Minh', '2026-11-30', 'vi'), '2026-11-30');
  assert.equal(shown('Asia/Ho_Chi_Minh', 'nonsense-nonsense', 'vi'), 'nonsense-nonsense');
});

function day(tz, ymd) {
  const script = `import(${JSON.stringify(RECORDS)}).then((m) => process.stdout.write(m.localDay(${JSON.stringify(ymd)})));`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
}

test('a calendar date reads day first and is the same day in every zone', () => {
  for (const tz of ['Asia/Ho_Chi_Minh', 'America/Los_Angeles', 'Pacific/Kiritimati', 'UTC']) {
    assert.equal(day(tz, '2026-12-01'), '01/12/2026');
  }
  assert.equal(day('UTC', ''), '');
  assert.equal(day('UTC', '2026-12-01T10:00:00Z'), '2026-12-01T10:00:00Z');
  assert.equal(day('UTC', 'hôm nay'), 'hôm nay');
});
