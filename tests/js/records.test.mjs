import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyReview, backupFile, householdStatus, prefill, recordsToRestore, unsynced, waitingCount, withHouseholds } from '../../pwa/js/records.js';
import { fitWithin } from '../../pwa/js/blobs.js';
import { Form, Rules } from '../../pwa/js/form.js';
import { readFileSync } from 'node:fs';

const rec = (over) => ({ id: 'r1', rev: 'a', state: 'synced', updated_at: '2026-11-20T08:00', data: {}, ...over });

test('a household reads as its newest visit says', () => {
  assert.deepEqual(householdStatus([]), { key: 'not_visited', date: null });
  const later = rec({ updated_at: '2026-11-21', data: { outcome: 'come_back', revisit_date: '2026-11-25' } });
  const earlier = rec({ updated_at: '2026-11-19', data: { outcome: 'completed' } });
  assert.deepEqual(householdStatus([later, earlier]), { key: 'come_back', date: '2026-11-25' });
  assert.equal(householdStatus([earlier]).key, 'visited');
  const help = rec({ data: { outcome: 'completed', members: [{ needs_help: ['vneid'] }, { needs_help: ['none'] }] } });
  assert.equal(householdStatus([help]).key, 'needs_help');
  const noHelp = rec({ data: { outcome: 'completed', members: [{ needs_help: ['none'] }] } });
  assert.equal(householdStatus([noHelp]).key, 'visited');
  assert.equal(householdStatus([rec({ data: { outcome: 'nobody_home' } })]).key, 'nobody_home');
  // Visited from another phone: the server's follow-up list says where it stands.
  assert.deepEqual(householdStatus([], { reason: 'come_back', date: '2026-12-01', topics: [] }),
    { key: 'come_back', date: '2026-12-01' });
  assert.equal(householdStatus([], { reason: 'needs_help', date: null, topics: ['vneid'] }).key, 'needs_help');
});

test('a review decision changes only the revision it is about', () => {
  const sent = rec({ rev: 'a' });
  assert.equal(applyReview(sent, { rev: 'a', review_state: 'has_issues', comment: '?' }).state, 'has_issues');
  assert.equal(applyReview(sent, { rev: 'a', review_state: 'approved' }).state, 'approved');
  assert.equal(applyReview(sent, { rev: 'old', review_state: 'has_issues' }).state, 'synced');
  const editing = rec({ state: 'draft' });
  assert.equal(applyReview(editing, { rev: 'a', review_state: 'approved' }).state, 'draft');
  assert.equal(applyReview(editing, { rev: 'a', review_state: 'approved' }).review.review_state, 'approved');
});

test("the office's own correction replaces the phone's copy unless she is editing it", () => {
  const edited = { rev: 'staff', review_state: 'edited', comment: 'sửa số nhà', data: { address: 'Số 14' } };
  const adopted = applyReview(rec({ rev: 'a', data: { address: 'Số 41' } }), edited);
  assert.equal(adopted.data.address, 'Số 14');
  assert.equal(adopted.server_rev, 'staff');
  assert.equal(adopted.state, 'synced');
  const busy = applyReview(rec({ rev: 'a', state: 'draft', data: { address: 'Số 40' } }), edited);
  assert.equal(busy.data.address, 'Số 40');
});

test('a settled conflict reaches both phones: each takes the kept answers and says whose they are', () => {
  // Phone A sent `a` (current); phone B sent `b` on the same base: a conflict, `b` kept aside.
  const winner = rec({ rev: 'a', state: 'synced', data: { address: 'Số 1' } });
  const loser = rec({ rev: 'b', state: 'conflict', server_rev: 'a', data: { address: 'Số 2' } });
  const kept = { rev: 'a', review_state: 'received', comment: '', data: { address: 'Số 1' },
    resolved: { rev: 'b', resolution: 'kept_current' } };
  const lost = applyReview(loser, kept);
  assert.equal(lost.state, 'resolved');
  assert.deepEqual([lost.rev, lost.server_rev, lost.data.address], ['a', 'a', 'Số 1']);
  assert.deepEqual(lost.set_aside, { rev: 'b', data: { address: 'Số 2' }, resolution: 'kept_current' });
  const won = applyReview(winner, kept);
  assert.equal(won.state, 'synced');
  assert.equal(won.set_aside, undefined);
  // A later decision is about the kept revision: it now applies to the losing phone too.
  assert.equal(applyReview(lost, { rev: 'a', review_state: 'approved' }).state, 'approved');
  // Taking the phone's version: it is B's answers in a new revision made by the office.
  const took = { rev: 'staff', review_state: 'edited', comment: '', data: { address: 'Số 2' },
    resolved: { rev: 'b', resolution: 'took_conflict' } };
  assert.equal(applyReview(loser, took).state, 'synced');
  assert.deepEqual([applyReview(winner, took).state, applyReview(winner, took).data.address], ['resolved', 'Số 2']);
  assert.equal(applyReview(winner, took).set_aside.data.address, 'Số 1');
  const merged = { ...took, data: { address: 'Số 3' }, resolved: { rev: 'b', resolution: 'merged' } };
  assert.equal(applyReview(loser, merged).state, 'resolved');
  assert.equal(applyReview(winner, merged).state, 'resolved');
  // While its conflict is open, a decision, an office edit or another conflict's settlement is
  // about another version: the phone still says Xung đột, with its own answers.
  assert.equal(applyReview(loser, { rev: 'a', review_state: 'approved' }).state, 'conflict');
  const edit = applyReview(loser, { rev: 'staff', review_state: 'edited', data: { address: 'Số 5' } });
  assert.deepEqual([edit.state, edit.data.address], ['conflict', 'Số 2']);
  const another = applyReview(loser, { ...kept, resolved: { rev: 'c', resolution: 'kept_current' } });
  assert.deepEqual([another.state, another.rev, another.data.address], ['conflict', 'b', 'Số 2']);
  // Answers the server does not hold yet are never overwritten.
  for (const state of ['draft', 'finalized', 'rejected']) {
    const busy = applyReview(rec({ rev: 'b', state, data: { address: 'Số 9' } }), kept);
    assert.deepEqual([busy.state, busy.data.address], [state, 'Số 9']);
  }
});

test('the queue counts finalized records; the backup holds everything not on the server', () => {
  const records = [rec({ id: '1', state: 'draft', rev: null }), rec({ id: '2', state: 'finalized' }),
    rec({ id: '3', state: 'synced' }), rec({ id: '4', state: 'rejected' }), rec({ id: '5', state: 'approved' })];
  assert.equal(waitingCount(records), 1);
  assert.deepEqual(unsynced(records).map((r) => r.id), ['1', '2', '4']);
  const file = backupFile(records, { device_id: 'd', user: { id: 7, username: 'v', display_name: 'V' } }, 'now');
  assert.equal(file.format, 'gocua-backup');
  assert.deepEqual(file.user, { id: 7, username: 'v' });
  assert.deepEqual(file.records.map((r) => r.id), ['2', '4']); // drafts have no revision to push
  assert.deepEqual(Object.keys(file.records[0]).sort(),
    ['base_rev', 'data', 'form_id', 'form_version', 'household_id', 'id', 'meta', 'rev', 'village_id']);
  assert.deepEqual(file.local.map((r) => r.id), ['1', '2', '4']);
});

test('a household added on the phone travels with its records, bounded as the register', () => {
  const households = [
    { id: 'new', village_id: 'v', code: '', head_name: 'Lò Thị Mai', address: 'Bản Pá', local: true },
    { id: 'long', village_id: 'v', code: '', head_name: 'A'.repeat(250), address: 'B'.repeat(350), local: true },
    { id: 'known', village_id: 'v', code: 'H2345AB', head_name: 'Hộ Cũ', address: 'Xóm' },
  ];
  const records = [rec({ id: '1', household_id: 'new', state: 'finalized' }), rec({ id: '2', household_id: 'known' }),
    rec({ id: '3', household_id: 'long' }), rec({ id: '4', household_id: null })];
  const out = withHouseholds(records, households);
  assert.deepEqual(out[0].household, { head_name: 'Lò Thị Mai', address: 'Bản Pá' });
  assert.equal(out[1].household, undefined); // the register holds it: nothing to send
  assert.deepEqual(out[2].household, { head_name: 'A'.repeat(200), address: 'B'.repeat(300) });
  assert.equal(out[3].household, undefined);
  // Once the server's household came back, a record keeps what it carried (a restored backup too).
  assert.deepEqual(withHouseholds([out[0]], [])[0].household, out[0].household);
  // The backup file's push envelopes carry it, so the office's import names the household.
  const file = backupFile(out, { device_id: 'd', user: { id: 7, username: 'v' } }, 'now');
  assert.deepEqual(file.records.find((r) => r.id === '1').household, out[0].household);
});

test('restoring takes what the phone lacks or holds older, never over a synced record', () => {
  const file = { format: 'gocua-backup', local: [rec({ id: 'a', state: 'finalized', updated_at: '2' }),
    rec({ id: 'b', state: 'draft', updated_at: '2' }), rec({ id: 'c', state: 'draft', updated_at: '2' })] };
  const existing = [rec({ id: 'b', state: 'draft', updated_at: '1' }), rec({ id: 'c', state: 'synced', updated_at: '1' })];
  assert.deepEqual(recordsToRestore(file, existing).map((r) => r.id), ['a', 'b']);
  assert.throws(() => recordsToRestore({ format: 'other' }, []), /backup/);
});

test('photos are scaled so the longer side is at most 1600 px, never enlarged', () => {
  assert.deepEqual(fitWithin(4000, 3000), { width: 1600, height: 1200 });
  assert.deepEqual(fitWithin(1200, 2400), { width: 800, height: 1600 });
  assert.deepEqual(fitWithin(640, 480), { width: 640, height: 480 });
});

test('prefill gives the household as the first answer where its question applies, until changed', () => {
  const form = new Form(JSON.parse(readFileSync(new URL('../../schemas/forms/household_survey.json', import.meta.url))));
  const rules = new Rules(form, { today: '2026-11-20' });
  const household = { head_name: 'Lò Thị Mai', address: 'Bản Pá' };
  const start = { outcome: 'completed' };
  assert.equal(prefill(rules, start, household), start); // part B does not apply yet
  const yes = { outcome: 'completed', consent: 'yes' };
  assert.deepEqual(prefill(rules, yes, household), { ...yes, head_name: 'Lò Thị Mai', address: 'Bản Pá' });
  assert.deepEqual(prefill(rules, { ...yes, head_name: 'Lò Văn Sáng' }, household).head_name, 'Lò Văn Sáng');
  assert.deepEqual(prefill(rules, yes, household, ['address']), { ...yes, head_name: 'Lò Thị Mai' });
  assert.equal(prefill(rules, yes, { head_name: '  ' }), yes);
  const own = new Form({ settings: { form_id: 'f', version: '1' }, survey: [
    { type: 'text', name: 'chu_ho' }, { type: 'integer', name: 'address' },
    { type: 'begin_repeat', name: 'people' }, { type: 'text', name: 'head_name' }, { type: 'end_repeat' },
  ] });
  assert.deepEqual(prefill(new Rules(own), {}, household), { chu_ho: 'Lò Thị Mai' }); // text, outside repeats
});
