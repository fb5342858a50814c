// XLSForm's rank question on the phone (pwa/js/rank.js, pwa/js/form.js) against the shared case
// file (schemas/rank_cases.json), which schemas/rank.py and validate.py pass too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules } from '../../pwa/js/form.js';
import { moved, rankProblem, rankState, shownOrder } from '../../pwa/js/rank.js';

const cases = JSON.parse(readFileSync(new URL('../../schemas/rank_cases.json', import.meta.url), 'utf8'));
const message = (key) => ({ vi: `vi:${key}`, en: `en:${key}` });

for (const c of cases.order) {
  test(`rank order: ${c.name}`, () => {
    assert.equal(rankProblem(c.offered, c.value), c.problem);
  });
}

for (const c of cases.records) {
  test(`rank record: ${c.name}`, () => {
    const errors = new Rules(new Form(cases.form), { today: '2026-11-20' }).check(c.data, message);
    const codes = Object.fromEntries(Object.entries(errors).map(([path, list]) => [path, list.map((e) => e.code)]));
    assert.deepEqual(codes, c.errors);
  });
}

test('the widget shows the answer first, then what it lacks in the list order', () => {
  assert.deepEqual(shownOrder(['a', 'b', 'c'], undefined), ['a', 'b', 'c']);
  assert.deepEqual(shownOrder(['a', 'b', 'c'], ['c', 'a', 'b']), ['c', 'a', 'b']);
  // A filter now offers d and no longer b: b leaves, d joins at the end.
  assert.deepEqual(shownOrder(['a', 'c', 'd'], ['c', 'b', 'a']), ['c', 'a', 'd']);
});

test('moving a choice up or down keeps every other in its place', () => {
  assert.deepEqual(moved(['a', 'b', 'c'], 2, 1), ['a', 'c', 'b']);
  assert.deepEqual(moved(['a', 'b', 'c'], 0, 1), ['b', 'a', 'c']);
  assert.deepEqual(moved(['a', 'b', 'c'], 0, -1), ['a', 'b', 'c']);
});

test('the expression language reads a rank as ODK does: names space-separated, in order', () => {
  const form = new Form(cases.form);
  const rules = new Rules(form);
  const data = { crops: ['beans', 'rice', 'maize', 'cassava'] };
  assert.ok(rules.bool("selected-at(${crops}, 1) = 'rice'", data, [], null, false));
  assert.ok(rules.bool('count-selected(${crops}) = 4', data, [], null, false));
  assert.ok(rules.bool("selected(${crops}, 'maize')", data, [], null, false));
});

test('an answer a filter has since lengthened is to be kept again, not taken as whole', () => {
  assert.equal(rankState(['a', 'b'], undefined), 'unanswered');
  assert.equal(rankState(['a', 'b'], []), 'unanswered');
  assert.equal(rankState(['a', 'b'], ['b', 'a']), 'whole');
  assert.equal(rankState(['a', 'b', 'c'], ['b', 'a']), 'changed');
});
