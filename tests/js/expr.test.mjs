// The JavaScript expression engine against the shared case file (schemas/expression_cases.json),
// plus what the file cannot say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  evaluate, evaluateBool, ExpressionError, parse, references, toBoolean, toNumber, toString,
} from '../../pwa/js/expr.js';
import { digest } from '../../pwa/js/digest.js';

const casesUrl = new URL('../../schemas/expression_cases.json', import.meta.url);
const suite = JSON.parse(readFileSync(casesUrl, 'utf8'));

function contextFor(c) {
  return {
    data: c.data ?? suite.data,
    fields: c.fields ?? suite.fields,
    position: c.position ?? [],
    current: c.current ?? null,
    today: c.today ?? null,
    now: c.now ?? null,
    choices: c.choices ?? null,
    files: c.files ?? null,
  };
}

// Runs fn with the process in another local zone, as a phone set to that zone would be
// (Node reads process.env.TZ again each time it is set).
function inZone(zone, fn) {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TZ; else process.env.TZ = before;
  }
}

function close(a, b) {
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return a === b || Math.abs(a - b) <= Math.max(1e-12, 1e-12 * scale);
}

// Types must agree: 1 is not true, '1' is not 1.
function matches(actual, expect) {
  if (expect !== null && typeof expect === 'object') {
    if ('nan' in expect) return typeof actual === 'number' && Number.isNaN(actual);
    if ('inf' in expect) return actual === expect.inf * Infinity;
    return Array.isArray(actual) && actual.length === expect.nodeset.length
      && actual.every((a, i) => matches(a, expect.nodeset[i]));
  }
  if (typeof expect === 'number') return typeof actual === 'number' && close(actual, expect);
  return actual === expect;
}

const caseId = (c) => c.expr
  + (c.position ? '@' + c.position.map(([r, i]) => r + i).join('.') : '')
  + (c.tz ? `@${c.tz}` : '') + (c.current ? `@.=${c.current}` : '');

for (const c of suite.cases) {
  test(`case ${caseId(c)}`, () => {
    const ctx = contextFor(c);
    if ('error' in c) {
      assert.throws(() => evaluate(c.expr, ctx), (err) => {
        assert.ok(err instanceof ExpressionError, String(err));
        assert.equal(err.code, c.error, err.message);
        return true;
      });
      return;
    }
    const actual = inZone(c.tz ?? suite.tz, () => evaluate(c.expr, ctx));
    assert.ok(matches(actual, c.expect),
      `${JSON.stringify(c.expr)} gave ${String(actual)} (${typeof actual})`);
  });
}

test('syntax errors name the position', () => {
  assert.throws(() => parse('${a} + * 3'), (err) => err.code === 'syntax' && err.position === 7
    && /position 7/.test(err.message));
});

test('unknown functions and fields are named', () => {
  assert.throws(() => parse('frobnicate(1)'), /frobnicate\(\)/);
  assert.throws(() => evaluate('${ghost} > 1', { data: {}, fields: {} }),
    (err) => err.code === 'unknown_field' && err.message.includes('${ghost}'));
});

test('names inherited from Object.prototype are not fields, functions or answers', () => {
  assert.throws(() => evaluate('${constructor}', { data: {}, fields: {} }),
    (err) => err.code === 'unknown_field');
  assert.throws(() => parse('toString(1)'), (err) => err.code === 'unknown_function');
  assert.equal(evaluate('${constructor}', { data: {}, fields: { constructor: [] } }), '');
});

test('deep nesting is a syntax error, not a crash', () => {
  assert.throws(() => parse('('.repeat(500) + '1' + ')'.repeat(500)),
    (err) => err.code === 'syntax');
});

test('parse is cached and references lists the ${names}', () => {
  assert.equal(parse('1 + ${a}'), parse('1 + ${a}'));
  assert.deepEqual(references("${a} + count(${r}) > . and selected(${b}, 'x')"),
    new Set(['a', 'r', 'b']));
});

test('evaluateBool reads relevance like ODK', () => {
  const ctx = { data: { n: 0, s: 'x', m: [{ v: '' }] }, fields: { n: [], s: [], m: [], v: ['m'] } };
  assert.equal(evaluateBool('${n}', ctx), false);
  assert.equal(evaluateBool('${s}', ctx), true);
  assert.equal(evaluateBool('${v}', ctx), true);
});

test('conversion helpers', () => {
  assert.equal(toNumber('  4.5 '), 4.5);
  assert.ok(Number.isNaN(toNumber('')));
  assert.equal(toNumber([7, 8]), 7);
  assert.equal(toString(3), '3');
  assert.equal(toString(1e-7), '1e-7');
  assert.equal(toString([]), '');
  assert.equal(toBoolean('false'), true);
  assert.equal(toBoolean(NaN), false);
  assert.equal(toBoolean(['']), true);
});

test('today() and now() default to the clock', () => {
  const ctx = { data: {}, fields: {} };
  assert.match(evaluate('today()', ctx), /^\d{4}-\d{2}-\d{2}$/);
  assert.match(evaluate('now()', ctx),
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/);
});

test('a context may leave out position, current, today and now', () => {
  assert.equal(evaluate('${x} + 1', { data: { x: 1 }, fields: { x: [] } }), 2);
});

test('digest() is the hash node:crypto gives, across block boundaries and for any text', () => {
  const names = { 'MD5': 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384',
    'SHA-512': 'sha512' };
  // 55/56 and 111/112 bytes are where the length stops fitting in the last 64/128-byte block.
  for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 113, 127, 128, 129, 1000]) {
    const text = 'aễ\u{1F600}'.repeat(length).slice(0, length);
    for (const [ours, theirs] of Object.entries(names)) {
      for (const encoding of ['hex', 'base64']) {
        const want = createHash(theirs).update(text, 'utf8').digest(encoding);
        assert.equal(digest(text, ours, encoding), want, `${ours} of ${length} characters`);
      }
    }
  }
});

test('uuid() is a version 4 UUID and uuid(n) n letters, different each time', () => {
  const ctx = { data: {}, fields: {} };
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const id = evaluate('uuid()', ctx);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
    assert.match(evaluate('uuid(20)', ctx), /^[0-9A-Za-z]{20}$/);
  }
  assert.equal(seen.size, 200);
  assert.equal(evaluate('string-length(uuid(1000000))', ctx), 1024);
});
