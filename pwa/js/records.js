// What a record's state means to a volunteer, and what a household's visits add up to.
// No DOM and no IndexedDB here, so node --test runs it as it is.

/** Local states, in the order a record moves through them. */
export const STATES = ['draft', 'finalized', 'synced', 'has_issues', 'approved', 'rejected', 'conflict', 'resolved'];
/** States in which the volunteer may change the answers. */
export const EDITABLE = new Set(['draft', 'rejected', 'has_issues']);
/** States whose current revision the server has acknowledged. `resolved`: the office settled a
 * conflict with another version than this phone's, which the phone now holds. */
export const ON_SERVER = new Set(['synced', 'has_issues', 'approved', 'resolved']);
/** States whose answers the server does not hold yet: a decision never overwrites them. */
const UNSENT = new Set(['draft', 'finalized', 'rejected']);

function stateFor(review) {
  return review.review_state === 'has_issues' ? 'has_issues' : review.review_state === 'approved' ? 'approved' : 'synced';
}

export function waitingCount(records) {
  return records.filter((r) => r.state === 'finalized').length;
}

/** Records not yet safe on the server: what a backup file must carry. */
export function unsynced(records) {
  return records.filter((r) => !ON_SERVER.has(r.state));
}

function needsHelp(data) {
  const members = Array.isArray(data.members) ? data.members : [];
  const asked = members.some((m) => Array.isArray(m.needs_help) && m.needs_help.some((h) => h !== 'none'));
  const support = Array.isArray(data.support) ? data.support : [];
  return asked || support.some((s) => s.support_result === 'revisit');
}

/**
 * A household's state for the list: not visited, visited, come back (with the date), nobody
 * home, or members who still need help. The newest visit decides.
 */
export function householdStatus(visits, followup = null) {
  const latest = [...visits].sort((a, b) => (a.updated_at || '').localeCompare(b.updated_at || '')).pop();
  if (!latest) {
    // Another phone's visit, as the server's follow-up list has it.
    if (followup?.reason) return { key: followup.reason, date: followup.date || null };
    return { key: 'not_visited', date: null };
  }
  const data = latest.data || {};
  if (data.outcome === 'come_back') return { key: 'come_back', date: data.revisit_date || null };
  if (data.outcome && data.outcome !== 'completed') return { key: data.outcome, date: null };
  if (data.outcome === 'completed' && needsHelp(data)) return { key: 'needs_help', date: null };
  return { key: latest.state === 'draft' ? 'in_progress' : 'visited', date: null };
}

/** Apply a review decision pulled from the server to the local copy of the record. */
export function applyReview(record, review) {
  const next = { ...record, review };
  const settles = Boolean(review.resolved && review.data && review.rev);
  // Her revision waits on the server as a conflict: only the office settling that very revision
  // moves it (an edit or a decision meanwhile is about another version, and so is another
  // conflict's settlement).
  if (record.state === 'conflict') return settles && review.resolved.rev === record.rev ? applyResolution(next, record, review) : next;
  if (settles && !UNSENT.has(record.state)) return applyResolution(next, record, review);
  // The office corrected the record itself: the phone takes the office's version as its own,
  // unless the volunteer is editing it right now (her finalized edit will come back a conflict
  // for the office to resolve, never lost).
  if (review.data && review.rev && !UNSENT.has(record.state)) {
    return { ...next, data: review.data, rev: review.rev, server_rev: review.rev, base_rev: null, state: stateFor(review) };
  }
  // Only a decision about the revision the phone last sent changes what the phone shows.
  if (review.rev && record.rev && review.rev !== record.rev) return next;
  if (UNSENT.has(record.state)) return next;
  if (review.review_state === 'has_issues') next.state = 'has_issues';
  else if (review.review_state === 'approved') next.state = 'approved';
  else if (ON_SERVER.has(record.state)) next.state = 'synced';
  return next;
}

/**
 * The office settled a conflict on this record (`review.resolved`: which conflict revision, and
 * `kept_current`, `took_conflict` or `merged`). Whichever phone this is, the one whose revision
 * was current or the one whose revision conflicted, it takes the server's answers and revision,
 * so that later decisions about the record reach it. When the server now keeps answers other
 * than this phone's, the state says so (`resolved`) and the phone's own answers stay beside
 * (`set_aside`); the server holds them too, as the conflict revision.
 */
function applyResolution(next, record, review) {
  const { rev: conflictRev, resolution } = review.resolved;
  const kept = record.rev === review.rev || (record.rev === conflictRev && resolution === 'took_conflict');
  const out = { ...next, data: review.data, rev: review.rev, server_rev: review.rev, base_rev: null,
    state: kept ? stateFor(review) : 'resolved' };
  if (!kept && record.rev !== review.rev) out.set_aside = { rev: record.rev, data: record.data, resolution };
  return out;
}

/**
 * What the register knows of a household, and the question names that take it as their first
 * answer: the register import's own column names, English and Vietnamese
 * (schemas/household_names.json; tests/js/household_names.test.mjs holds this copy equal to it).
 */
export const HOUSEHOLD_QUESTIONS = {
  head_name: ['head_name', 'chu_ho', 'head', 'ten_chu_ho', 'ho_ten_chu_ho', 'ho_va_ten_chu_ho'],
  address: ['address', 'dia_chi', 'so_nha', 'dia_chi_so_nha', 'so_nha_dia_diem'],
};

/**
 * `data` with the household's head and address given as the answer to each `text` question
 * named for them (HOUSEHOLD_QUESTIONS, outside any repeat) that applies now and has no answer,
 * except those in `own`: the volunteer changed them herself (emptied too), they stay hers.
 * `rules` is the form's Rules; returns `data` itself when nothing is given.
 */
export function prefill(rules, data, household, own = []) {
  let out = data;
  for (const [field, names] of Object.entries(HOUSEHOLD_QUESTIONS)) {
    const value = String(household?.[field] ?? '').trim();
    if (!value) continue;
    for (const name of names) {
      const node = rules.form.nodes.get(name);
      if (!node || node.kind !== 'field' || node.type !== 'text' || node.repeats.length) continue;
      if (own.includes(name) || !(out[name] === undefined || out[name] === '') || !applies(rules, node, out)) continue;
      if (out === data) out = { ...data };
      out[name] = value;
    }
  }
  return out;
}

/** The question and every group around it are relevant. */
function applies(rules, node, data) {
  for (let n = node; n?.parent; n = n.parent) if (!rules.relevant(n, data, [])) return false;
  return true;
}

/** A new household's head and address on the register (sync/protocol.py holds the same). */
export const MAX_HEAD_NAME = 200;
export const MAX_ADDRESS = 300;

/**
 * A record as the protocol sends it (a push, a backup file): its fields only, and `household`,
 * the name and address typed in *Thêm hộ mới*, when it carries one (see withHouseholds).
 */
export function envelope(record) {
  const { id, rev, base_rev, form_id, form_version, household_id, village_id, data, meta, household } = record;
  const out = { id, rev, base_rev: base_rev || null, form_id, form_version, household_id: household_id || null, village_id, data, meta };
  if (household && household_id) out.household = { head_name: household.head_name, address: household.address || '' };
  return out;
}

/**
 * Records whose household was added on this phone (`local`: the server may not hold it yet),
 * each with that household's name and address as `household`, within the register's limits.
 * A visit that ends at the door asks no name in its answers, so this is what names the
 * household on the register. A record that already carries one keeps it (restored from a
 * backup file, or its household since came back from the server).
 */
export function withHouseholds(records, households) {
  const local = new Map(households.filter((h) => h.local && h.head_name).map((h) => [h.id, h]));
  return records.map((record) => {
    const household = local.get(record.household_id);
    if (!household) return record;
    return { ...record, household: { head_name: household.head_name.slice(0, MAX_HEAD_NAME),
      address: (household.address || '').slice(0, MAX_ADDRESS) } };
  });
}

/** The backup file of everything not yet safe on the server (the staff site can import it). */
export function backupFile(records, device, now = new Date().toISOString()) {
  const pending = unsynced(records);
  return {
    format: 'gocua-backup',
    version: 1,
    device_id: device?.device_id || null,
    user: device?.user ? { id: device.user.id, username: device.user.username } : null,
    exported_at: now,
    records: pending.filter((r) => r.rev).map(envelope),
    local: pending,
  };
}

/** Records from a backup file that this phone lacks or holds in an older version. */
export function recordsToRestore(file, existing) {
  if (!file || file.format !== 'gocua-backup' || !Array.isArray(file.local)) {
    throw new Error('not a Gõ Cửa backup file');
  }
  const byId = new Map(existing.map((r) => [r.id, r]));
  return file.local.filter((r) => {
    const mine = byId.get(r.id);
    return !mine || (!ON_SERVER.has(mine.state) && (mine.updated_at || '') < (r.updated_at || ''));
  });
}

/**
 * A stored UTC time (an ISO string) as the volunteer reads it: in the phone's own zone, day first,
 * `30/11/2026 04:15` (vi-VN or en-GB). Anything that is not a time is given back as it is.
 */
export function localTime(iso, lang = 'vi') {
  const moment = typeof iso === 'string' && iso.length >= 16 ? new Date(iso) : null;
  if (!moment || Number.isNaN(moment.getTime())) return iso || '';
  const parts = Object.fromEntries(new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(moment).map((p) => [p.type, p.value]));
  return `${parts.day}/${parts.month}/${parts.year} ${parts.hour}:${parts.minute}`;
}

/**
 * A calendar date (`2026-12-01`: a return visit's day) as the volunteer reads it, day first as
 * `localTime` writes it: `01/12/2026`. A date has no zone, so nothing is converted. Anything
 * else is given back as it is.
 */
export function localDay(ymd) {
  const match = typeof ymd === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd) : null;
  return match ? `${match[3]}/${match[2]}/${match[1]}` : ymd || '';
}
