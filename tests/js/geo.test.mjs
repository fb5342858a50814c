// Lines and shapes on the phone (pwa/js/geo.js through pwa/js/form.js) against the shared case
// file (schemas/geo_cases.json), which schemas/geo.py and validate.py pass too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Form, Rules } from '../../pwa/js/form.js';
import { answerOf, geoProblem, pointTexts } from '../../pwa/js/geo.js';

const { cases } = JSON.parse(readFileSync(new URL('../../schemas/geo_cases.json', import.meta.url), 'utf8'));
const message = (key) => ({ vi: `vi:${key}`, en: `en:${key}` });
const form = new Form({
  settings: { form_id: 'geo', version: '1' },
  survey: [
    { type: 'geotrace', name: 'path', label: 'Path' },
    { type: 'geoshape', name: 'plot', label: 'Plot' },
    { type: 'start-geopoint', name: 'where' },
  ],
  choices: [],
});
const valueOf = (c) => ('repeat' in c ? Array(c.repeat.times).fill(c.repeat.point).join(';') : c.value);

for (const c of cases) {
  test(`geo answer: ${c.name}`, () => {
    assert.equal(geoProblem(c.kind, valueOf(c)), c.problem);
    const key = c.kind === 'geotrace' ? 'path' : 'plot';
    const errors = new Rules(form, { today: '2026-11-30' }).check({ [key]: valueOf(c) }, message);
    assert.deepEqual((errors[key] || []).map((e) => e.code), c.problem ? [c.problem] : []);
  });
}

test('a start-geopoint is never asked, may be empty, and must be a point', () => {
  const rules = new Rules(form, { today: '2026-11-30' });
  assert.deepEqual(rules.check({}, message), {});
  assert.deepEqual(rules.check({ where: '21.0285 105.8048 12 4' }, message), {});
  assert.deepEqual(rules.check({ where: '21 400' }, message).where.map((e) => e.code), ['not_geopoint']);
});

test('a shape closes itself: the volunteer never repeats the first point', () => {
  const corners = ['10 20 0 5', '10 20.001 0 5', '10.001 20.001 0 5'];
  const answer = answerOf('geoshape', corners);
  assert.equal(answer, `${corners.join(';')};10 20 0 5`);
  assert.equal(geoProblem('geoshape', answer), null);
  assert.deepEqual(pointTexts('geoshape', answer), corners);
  assert.equal(answerOf('geotrace', corners.slice(0, 2)), corners.slice(0, 2).join(';'));
  assert.deepEqual(pointTexts('geotrace', ' 1 2 ; 3 4;'), ['1 2', '3 4']);
  // Too few points are kept (a draft loses nothing); the check asks for more.
  assert.equal(answerOf('geoshape', ['10 20']), '10 20');
  assert.equal(geoProblem('geoshape', answerOf('geoshape', corners.slice(0, 2))), 'not_geoshape');
});
