// One visit: the form a part at a time, every answer saved on the phone as it is given,
// and Finalize, which checks with the same rules as the server before queueing the record.
import { all, get, getKv, put, setKv } from '../db.js';
import { AuditLog, auditNode, nodePath, tracksChanges, valueAt } from '../audit.js';
import { formatSize, storeFile } from '../blobs.js';
import { el, localDate, toast } from '../dom.js';
import { uuid } from '../ids.js';
import { Form, isEmpty, Rules } from '../form.js';
import { lang, message, t } from '../i18n.js';
import { go, main, register, state } from '../nav.js';
import { EDITABLE, HOUSEHOLD_QUESTIONS, prefill } from '../records.js';
import { FormView } from '../render.js';
import { pointOf } from '../geowidget.js';

/** The kv key of the record open on the screen: app.js opens it again at start. */
const OPEN_VISIT = 'open_visit';

/**
 * The newest version of each form the commune gives its volunteers (a form the admin stopped
 * or archived is not offered for new visits; drafts already begun keep their own version).
 */
async function latestForms() {
  const newest = new Map();
  for (const f of await all('forms')) {
    const known = newest.get(f.form_id);
    if (!known || known.version.localeCompare(f.version, 'en', { numeric: true }) < 0) newest.set(f.form_id, f);
  }
  const states = await Promise.all([...newest.keys()].map((id) => getKv(`form_state:${id}`, 'active')));
  return [...newest.values()].filter((f, i) => states[i] === 'active');
}

/** The form's title, and what its attached files weigh on the phone when it has some. */
function withSize(f) {
  const title = new Form(f.definition).title;
  const bytes = Object.values(f.definition.media || {}).reduce((sum, m) => sum + m.size, 0);
  return bytes ? t('app.form_media', { title, size: formatSize(bytes) }) : title;
}

/** One form: it; several: the volunteer picks (the default survey first). */
function chooseForm(forms) {
  if (forms.length < 2) return Promise.resolve(forms[0] || null);
  return new Promise((resolve) => {
    const sheet = el('div', { class: 'sheet', role: 'dialog', id: 'choose-form', 'aria-label': t('app.choose_form') },
      el('h2', { text: t('app.choose_form') }),
      ...forms.map((f) => el('button', { type: 'button', class: 'secondary', 'data-form': f.form_id,
        text: withSize(f), onclick: () => { sheet.remove(); resolve(f); } })),
      el('button', { type: 'button', class: 'link', text: t('app.close'), onclick: () => { sheet.remove(); resolve(null); } }));
    document.body.append(sheet);
  });
}

async function newRecord(household) {
  const forms = await latestForms();
  if (!forms.length) { toast(t('app.no_form'), 'error'); return null; }
  const stored = await chooseForm(forms);
  if (!stored) return null;
  const form = new Form(stored.definition);
  const now = new Date().toISOString();
  const data = new Rules(form).defaults(form.root);
  for (const node of form.nodes.values()) {
    if (node.type === 'start') data[node.name] = now;
    if (node.type === 'today') data[node.name] = localDate();
    if (node.type === 'deviceid') data[node.name] = state.device.device_id;
    if (node.type === 'username') data[node.name] = state.device.user.username;
  }
  const record = {
    id: uuid(), rev: null, base_rev: null, form_id: form.formId, form_version: form.version,
    household_id: household.id, village_id: household.village_id, household_name: household.head_name,
    data, meta: { started_at: now, visit_date: localDate(), device_id: state.device.device_id },
    state: 'draft', created_at: now, updated_at: now,
  };
  await put('records', record);
  state.actions.persist?.();
  return record;
}

/**
 * Where the phone is, put in `names` with no question shown: start-geopoint as the visit opens
 * (`fresh` false: kept once taken), background-geopoint each time its trigger is answered
 * (`fresh`: a new fix replaces the last). The form never waits; no permission or no fix leaves
 * the answer as it was, and a fix that comes late still lands in this draft while it is open
 * (never in another record, nor in one finalized or being finalized meanwhile).
 */
function takePoint(record, names, fresh) {
  if (!names.length || !navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((p) => {
    const open = state.visit;
    if (!open || open.closing || open.record.id !== record.id || open.record.state !== 'draft') return;
    for (const name of names) {
      if (fresh || isEmpty(open.view.data[name])) open.view.setAnswer(name, pointOf(p.coords));
    }
  }, () => {}, { enableHighAccuracy: true, timeout: 120000, maximumAge: fresh ? 0 : 60000 });
}

/** The background-geopoints of each question a trigger names (the form check allows only
 * `${name}` of a question outside any repeat, for a point outside any repeat). */
function triggers(form) {
  const out = new Map();
  for (const node of form.nodes.values()) {
    const named = node.type === 'background-geopoint' && /^\$\{([^}]+)\}$/.exec(String(node.row.trigger || '').trim());
    if (named && !node.repeats.length) out.set(named[1], [...(out.get(named[1]) || []), node.name]);
  }
  return out;
}

/** Open a record by id, or start a new visit to `household`. */
async function show(id, household = null) {
  // The same visit drawn again (the language switched): its audit log goes on, not resumed.
  const redrawn = id && state.visit?.record.id === id ? state.visit : null;
  const record = id ? await get('records', id) : await newRecord(household);
  const started = !id;
  if (!record) return go('home');
  const stored = await get('forms', `${record.form_id}@${record.form_version}`);
  if (!stored) { toast(t('app.no_form'), 'error'); return go('home'); }
  const form = new Form(stored.definition);
  const rules = new Rules(form, { today: record.meta.visit_date });
  const editable = EDITABLE.has(record.state);
  const touched = new Set();
  const body = el('div', { class: 'form-body' });
  const summary = el('div', { class: 'summary', id: 'summary', role: 'alert', hidden: true });
  // What the part being left still misses, told once: a second "Next" goes on (drafts may be
  // incomplete; the volunteer must only know).
  const partNotice = el('div', { class: 'summary', id: 'part-missing', role: 'alert', hidden: true });
  let warned = null;
  const saved = el('span', { id: 'saved', class: 'saved', text: editable ? t('app.autosave') : t(`app.state_${record.state}`) });
  let saving = Promise.resolve();

  const save = (changes) => {
    Object.assign(record, changes, { updated_at: new Date().toISOString() });
    // A record sent back by the server or a reviewer becomes a draft again once touched.
    if (record.state !== 'draft' && record.state !== 'finalized' && changes.data) record.state = 'draft';
    const copy = structuredClone(record);
    saved.dataset.pending = String(Number(saved.dataset.pending || 0) + 1);
    saving = saving.then(() => put('records', copy)).then(() => {
      saved.textContent = t('app.saved_at', { time: new Date().toLocaleTimeString(lang()) });
    }).catch(() => toast(t('app.save_failed'), 'error')).finally(() => {
      // Tests and the volunteer alike can see when every answer has reached the phone's disk.
      saved.dataset.pending = String(Number(saved.dataset.pending) - 1);
    });
    return saving;
  };

  // Where the volunteer is in this record (its part, the question answered last): a reload, the
  // app reopened after the phone closed it, or the draft opened again from the list goes back there.
  const placeKey = `place:${record.id}`;
  const place = await getKv(placeKey, null) || {};
  const remember = (changes) => {
    Object.assign(place, changes);
    setKv(placeKey, { page: place.page, path: place.path }).catch(() => {});
  };
  await setKv(OPEN_VISIT, record.id);

  // What the register (or *Thêm hộ mới*) knows of the household is the first answer to the
  // questions named for it, until the volunteer changes one herself (records.js: prefill).
  const listed = record.household_id ? await get('households', record.household_id) : null;
  const known = { head_name: listed?.head_name || record.household_name || '', address: listed?.address || '' };
  const named = new Set(Object.values(HOUSEHOLD_QUESTIONS).flat());
  const given = (data, path) => {
    if (named.has(path) && !(record.own_answers ||= []).includes(path)) record.own_answers.push(path);
    return prefill(rules, data, known, record.own_answers || []);
  };

  const pointsOf = triggers(form);
  // ODK takes the point when the trigger's value changes, not each time its box is left.
  const triggerValues = new Map([...pointsOf.keys()].map((k) => [k, JSON.stringify(record.data[k])]));
  const view = new FormView({
    form, rules, data: record.data, lang: lang(), root: body, t, prefill: editable ? given : null,
    onChange: (data, path) => {
      if (path) { touched.add(path); remember({ page: view.current, path }); }
      if (path && pointsOf.has(path) && JSON.stringify(data[path]) !== triggerValues.get(path)) {
        triggerValues.set(path, JSON.stringify(data[path]));
        takePoint(record, pointsOf.get(path), true);
      }
      save({ data });
      // Say what is wrong next to the question as soon as it is answered, not only at the end.
      const errors = rules.check(data, message);
      view.showErrors(errors, touched);
      if (!partNotice.hidden) tellMissing(errors);
      steps.update();
    },
  });
  state.visit = { record, view };

  // The form's audit log (audit.js), kept with the draft: each question entered and left, as
  // focus moves into it, with old and new values when the form asks for them.
  const audited = editable ? auditNode(form) : null;
  if (audited && redrawn?.log) {
    if (redrawn.log.openPath) redrawn.log.leave(valueAt(redrawn.view.data, redrawn.log.openPath), Date.now());
    record.audit = redrawn.log.state;
  }
  const log = audited ? new AuditLog(record.audit, { track: tracksChanges(audited) }) : null;
  state.visit.log = log;
  if (log) {
    record.audit = log.state;
    if (!redrawn?.log) log.mark(started ? 'form start' : 'form resume', Date.now());
    body.addEventListener('focusin', (event) => {
      const path = event.target.closest?.('[data-path]')?.dataset.path;
      if (!path || path === log.openPath) return;
      if (log.openPath) log.leave(valueAt(view.data, log.openPath), Date.now());
      log.enter(path, nodePath(form, path), valueAt(view.data, path), Date.now());
      save({});
    });
  }
  /** The log's `event` (form save, form exit, form finalize), the open question left first. */
  const logged = (...events) => {
    if (!log) return;
    const now = Date.now();
    if (log.openPath) log.leave(valueAt(view.data, log.openPath), now);
    for (const event of events) log.mark(event, now);
  };

  const steps = pager(view, (page) => {
    warned = null;
    partNotice.hidden = true;
    remember({ page, path: null });
  }, (page) => {
    // Leaving a part: say once what it still misses.
    if (!editable || warned === page) return true;
    warned = page;
    return !tellMissing(rules.check(view.data, message));
  });

  /** Show the question at `path`: its part, scrolled to, its first control focused. */
  const goTo = (path) => {
    const page = view.pageOf(path);
    if (page !== view.current) steps.open(page);
    const question = body.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (!question) return;
    question.scrollIntoView({ block: 'center' });
    question.querySelector('input, select, textarea, button')?.focus({ preventScroll: true });
  };
  const listOf = (paths) => el('ul', { class: 'missing' }, ...paths.map((p) => el('li', {}, el('button', {
    type: 'button', class: 'link', 'data-goto': p, text: questionLabel(form, p, view), onclick: () => goTo(p) }))));

  /** The required questions of the warned part still unanswered, told; false when none are. */
  const tellMissing = (errors) => {
    const paths = Object.keys(errors).filter((p) => view.pageOf(p) === warned && errors[p].some((e) => e.code === 'required'));
    partNotice.hidden = !paths.length;
    if (!paths.length) return false;
    paths.forEach((p) => touched.add(p));
    view.showErrors(errors, touched);
    partNotice.replaceChildren(el('p', { text: t('app.part_missing', { count: paths.length }) }),
      listOf(paths), el('p', { text: t('app.part_missing_next') }));
    return true;
  };

  const finalize = async () => {
    const data = rules.settle(view.data);
    const errors = rules.check(data, message);
    const paths = Object.keys(errors);
    if (paths.length) {
      view.showErrors(errors);
      summary.hidden = false;
      // Every problem listed, each a way to its question: the count is the list's length.
      summary.replaceChildren(el('p', { text: t('app.missing', { count: paths.length }) }), listOf(paths));
      steps.open(view.pageOf(paths[0]));
      summary.scrollIntoView({ block: 'start' });
      return;
    }
    for (const node of form.nodes.values()) if (node.type === 'end') data[node.name] = new Date().toISOString();
    // From here the answers are the ones finalized: a GPS fix arriving while the audit log is
    // stored would be saved into the draft, then lost under the finalized copy.
    if (state.visit) state.visit.closing = true;
    if (log) {
      logged('form save', 'form finalize', 'form exit');
      // The log as ODK Collect's attachment, a file of the record as a photo is (blobs.js).
      const file = new File([log.csv()], 'audit.csv', { type: 'text/csv' });
      try {
        data[audited.name] = await storeFile(file, 'audit');
      } catch {
        // The phone's storage refused the file: the record goes without its log, never stays.
      }
    }
    await save({ data, state: 'finalized', rev: uuid(), base_rev: record.server_rev || null, errors: null });
    await saving;
    toast(t('app.finalized'));
    await go('home');
    state.actions.sync('finalize');
  };
  const back = async () => {
    if (log) { logged('form save', 'form exit'); save({}); }
    await saving;
    await go('home');
  };

  main().replaceChildren(...[
    el('div', { class: 'form-head' },
      el('button', { type: 'button', class: 'link', id: 'back', text: `← ${t('app.back')}`, onclick: back }),
      el('h1', { text: record.household_name || record.data.head_name || form.title }),
      saved),
    reviewNote(record),
    record.state === 'rejected' && record.errors ? el('p', { class: 'error', text: t('app.server_rejected') }) : null,
    summary, steps.el, body, partNotice, steps.nav,
    editable ? el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', id: 'save-draft', text: t('app.save_draft'), onclick: back }),
      el('button', { type: 'button', class: 'primary', id: 'finalize', text: t('app.finalize'), onclick: finalize })) : null].filter(Boolean));
  view.mount();
  steps.update();
  if (!id) {
    takePoint(record, [...form.nodes.values()]
      .filter((n) => n.type === 'start-geopoint' && !n.repeats.length).map((n) => n.name), false);
  }
  if (!editable) body.querySelectorAll('input, select, textarea, button').forEach((n) => { n.disabled = true; });
  if (record.errors) view.showErrors(record.errors);
  window.scrollTo(0, 0);
  if (Number.isInteger(place.page)) {
    // The part may no longer apply (an answer elsewhere changed): the nearest earlier one that does.
    const visible = view.visiblePages();
    const page = visible.filter((p) => p <= place.page).pop() ?? visible[0];
    if (page !== undefined && page !== view.current) { view.showPage(page); steps.update(); }
    const question = place.path && page === place.page ? body.querySelector(`[data-path="${CSS.escape(place.path)}"]`) : null;
    if (question && !question.hidden) question.scrollIntoView({ block: 'center' });
  }
}

// Leaving the visit for the home screen, by any way, closes it (unless a visit opened meanwhile).
document.addEventListener('gocua:home', () => {
  if (state.screen === 'home') setKv(OPEN_VISIT, null).catch(() => {});
});

function reviewNote(record) {
  const review = record.review;
  if (!review || !review.comment) return null;
  return el('div', { class: `notice review ${record.state}`, id: 'review-comment', role: 'note' },
    el('strong', { text: t(`app.review_${review.review_state}`, { by: review.by || '' }) }),
    el('p', { text: review.comment }));
}

function questionLabel(form, path, view) {
  const name = path.replace(/^.*\./, '').replace(/\[\d+\]$/, '');
  const node = form.nodes.get(name);
  const member = /\[(\d+)\]/.exec(path);
  // The label as the question shows it, ${references} filled in for its member.
  const label = view.labelOf(path) ?? (node ? form.label(node, lang()) : name);
  return member ? `${label} (${Number(member[1]) + 1})` : label;
}

/**
 * The parts of the form as steps: where you are, and Previous / Next; `onOpen(page)` on a move,
 * `mayLeave(page)` before Next leaves one (false: stay).
 */
function pager(view, onOpen, mayLeave) {
  const bar = el('progress', { class: 'steps-bar', id: 'progress', max: 1, value: 0 });
  // The part's title heads the part: the repeats' headings under it are level 3.
  const title = el('p', { class: 'steps-title', id: 'step-title', role: 'heading', 'aria-level': '2' });
  const prev = el('button', { type: 'button', class: 'secondary', id: 'prev', text: `← ${t('app.previous')}` });
  const next = el('button', { type: 'button', class: 'secondary', id: 'next', text: `${t('app.next')} →` });
  const api = {
    el: el('div', { class: 'steps' }, title, bar),
    nav: el('div', { class: 'step-nav' }, prev, next),
    open(index) {
      if (index === undefined || index < 0) return;
      view.showPage(index);
      api.update();
      onOpen(index);
      window.scrollTo(0, 0);
    },
    update() {
      const visible = view.visiblePages();
      if (!visible.includes(view.current) && visible.length) view.showPage(visible[0]);
      const at = visible.indexOf(view.current);
      title.textContent = t('app.step', { at: at + 1, total: visible.length, title: view.pages[view.current]?.title || '' });
      bar.max = Math.max(1, visible.length);
      bar.value = at + 1;
      prev.disabled = at <= 0;
      next.disabled = at >= visible.length - 1;
    },
  };
  prev.addEventListener('click', () => { const v = view.visiblePages(); api.open(v[v.indexOf(view.current) - 1]); });
  next.addEventListener('click', () => {
    if (!mayLeave(view.current)) return;
    const v = view.visiblePages();
    api.open(v[v.indexOf(view.current) + 1]);
  });
  return api;
}

register('visit', show);
