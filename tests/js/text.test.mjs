// The phone's search folding (pwa/js/text.js) against the shared case file
// (schemas/fold_cases.json), which schemas/text.py must pass too; and the home screen's filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { filterHouseholds, fold, searchIndex } from '../../pwa/js/text.js';

const suite = JSON.parse(readFileSync(new URL('../../schemas/fold_cases.json', import.meta.url), 'utf8'));

test('fold: enough cases', () => assert.ok(suite.cases.length >= 20));

for (const c of suite.cases) {
  test(`fold: ${c.name}`, () => {
    assert.equal(fold(c.input), c.expected);
    assert.equal(fold(c.expected), c.expected, 'folding twice changes nothing');
  });
}

const households = [
  { id: 'a', head_name: 'Lê Văn Cường', address: 'Số 5, ngõ 12', code: 'HH-0001' },
  { id: 'b', head_name: 'Đặng Thị Dung', address: 'Xóm Đồng', code: 'HH-0002' },
  { id: 'c', head_name: 'Nguyễn An', address: '', code: 'HH-0003' },
];

function ids(query) {
  return filterHouseholds(households, searchIndex(households), query).map((h) => h.id);
}

test('home filter: no accents, any case, đ as d', () => {
  assert.deepEqual(ids('cuong'), ['a']);
  assert.deepEqual(ids('Le Van'), ['a']);
  assert.deepEqual(ids('so 5'), ['a']);
  assert.deepEqual(ids('dang'), ['b']);
  assert.deepEqual(ids('DONG'), ['b']);
  assert.deepEqual(ids('  le   van  '), ['a']);
  assert.deepEqual(ids('Cường'), ['a']);
  assert.deepEqual(ids('hh-0003'), ['c']);
  assert.deepEqual(ids(''), ['a', 'b', 'c']);
  assert.deepEqual(ids('xyz'), []);
});
