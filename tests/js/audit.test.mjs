// The audit log the phone keeps with a draft and writes as ODK Collect's audit.csv
// (pwa/js/audit.js): its events, its columns, its bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Form } from '../../pwa/js/form.js';
import { AuditLog, LOG_FULL, MAX_AUDIT_BYTES, auditNode, nodePath, tracksChanges, valueAt } from '../../pwa/js/audit.js';

const form = new Form({
  settings: { form_id: 'a', version: '1' },
  survey: [
    { type: 'text', name: 'head', label: 'Head' },
    { type: 'begin_group', name: 'home', label: 'Home' },
    { type: 'integer', name: 'rooms', label: 'Rooms' },
    { type: 'end_group' },
    { type: 'begin_repeat', name: 'members', label: 'Members' },
    { type: 'text', name: 'name', label: 'Name' },
    { type: 'end_repeat' },
    { type: 'audit', name: 'audit', parameters: 'track-changes=true' },
  ],
  choices: [],
});

test('the audit question and its track-changes parameter are found', () => {
  const node = auditNode(form);
  assert.equal(node.name, 'audit');
  assert.equal(tracksChanges(node), true);
  assert.equal(tracksChanges({ row: { parameters: 'track-changes=false' } }), false);
  assert.equal(tracksChanges({ row: {} }), false);
});

test('a question is named by its XPath, groups and repeat positions from 1', () => {
  assert.equal(nodePath(form, 'head'), '/data/head');
  assert.equal(nodePath(form, 'rooms'), '/data/home/rooms');
  assert.equal(nodePath(form, 'members[1].name'), '/data/members[2]/name');
  assert.equal(valueAt({ members: [{}, { name: 'Lan' }] }, 'members[1].name'), 'Lan');
});

test('events become ODK columns, with old and new values where the answer changed', () => {
  const log = new AuditLog(undefined, { track: true });
  log.mark('form start', 1000);
  log.enter('head', '/data/head', undefined, 1100);
  log.leave('Nguyễn Văn "Ba", con', 2100);
  log.enter('rooms', '/data/home/rooms', 3, 2200);
  log.enter('members[0].name', '/data/members[1]/name', '', 2500); // left unchanged
  log.leave('', 2600);
  log.mark('form finalize', 3000);
  assert.equal(log.csv(), [
    'event,node,start,end,old-value,new-value',
    'form start,,1000,,,',
    'question,/data/head,1100,2100,,"Nguyễn Văn ""Ba"", con"',
    'question,/data/home/rooms,2200,2500,,',
    'question,/data/members[1]/name,2500,2600,,',
    'form finalize,,3000,,,',
    '',
  ].join('\n'));
  // Without track-changes: four columns.
  const plain = new AuditLog(undefined);
  plain.enter('head', '/data/head', '', 1);
  plain.leave('x', 2);
  assert.equal(plain.csv(), 'event,node,start,end\nquestion,/data/head,1,2\n');
});

test('the log kept with the draft goes on where it stopped', () => {
  const first = new AuditLog(undefined);
  first.mark('form start', 1);
  const kept = structuredClone(first.state);
  const again = new AuditLog(kept);
  again.mark('form resume', 2);
  assert.deepEqual(again.state.events.map((e) => e.event), ['form start', 'form resume']);
});

test('past its events bound the log stops with a last marker row', () => {
  const log = new AuditLog(undefined, { max: 4 });
  for (let i = 0; i < 10; i++) log.mark('form save', i);
  assert.deepEqual(log.state.events.map((e) => e.event), ['form save', 'form save', 'form save', LOG_FULL]);
  assert.equal(log.state.full, true);
  assert.ok(log.csv().endsWith(`${LOG_FULL},,3,\n`));
});

test('past its size bound the file stops with the marker, within the bound', () => {
  const log = new AuditLog(undefined, { track: true });
  const long = 'x'.repeat(100_000);
  for (let i = 0; i < 20; i++) {
    log.enter(`q${i}`, `/data/q${i}`, '', i);
    log.leave(long, i + 1);
  }
  const csv = log.csv();
  const bytes = new TextEncoder().encode(csv).length;
  assert.ok(bytes <= MAX_AUDIT_BYTES, bytes);
  assert.ok(csv.endsWith(`${LOG_FULL},,9,,,\n`), csv.slice(-40));
});
