// The collector's screens: enroll, the village's households and my records, and the form.
import { all, byIndex, get, getKv, put, setKv } from './db.js';
import { Form, Rules } from './form.js';
import { lang, loadMessages, message, setLang, t } from './i18n.js';
import { FormView } from './render.js';
import { el } from './dom.js';
import { AuthError, HttpError, enroll, syncNow } from './sync.js';

const main = document.getElementById('main');
const state = { device: null, village: null, search: '', view: null, syncing: false, notice: null };
let saving = Promise.resolve();

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function localDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function toast(text, kind = 'info') {
  const box = el('div', { class: `toast ${kind}`, role: 'status', text });
  document.getElementById('toasts').append(box);
  setTimeout(() => box.remove(), 6000);
}

// ---- header -------------------------------------------------------------------------------
async function updateHeader() {
  const records = await all('records');
  const waiting = records.filter((r) => r.state === 'finalized').length;
  const badge = document.getElementById('badge');
  badge.textContent = String(waiting);
  badge.hidden = waiting === 0;
  badge.title = t('app.waiting_count', { count: waiting });
  const net = document.getElementById('net');
  net.textContent = navigator.onLine ? t('app.online') : t('app.offline');
  net.className = navigator.onLine ? 'net online' : 'net offline';
  document.getElementById('lang').textContent = lang() === 'vi' ? 'EN' : 'VI';
}

// ---- enroll -------------------------------------------------------------------------------
function enrollView(error) {
  const input = el('input', { id: 'enroll-code', autocomplete: 'off', autocapitalize: 'characters', inputmode: 'text' });
  const submit = async () => {
    try { await doEnroll(input.value); } catch (e) { enrollView(errorText(e)); }
  };
  main.replaceChildren(el('section', { class: 'card' },
    el('h1', { text: t('app.enroll_title') }),
    el('p', { text: t('app.enroll_help') }),
    error ? el('p', { class: 'error', role: 'alert', text: error }) : null,
    el('label', { for: 'enroll-code', text: t('app.enroll_code') }), input,
    el('button', { type: 'button', class: 'primary', text: t('app.enroll_button'), onclick: submit })));
}

async function doEnroll(code) {
  await enroll(code.trim());
  state.device = await getKv('device');
  toast(t('app.enrolled', { name: state.device.user.display_name }));
  await runSync('enroll');
}

function errorText(e) {
  if (e instanceof HttpError && e.body?.message) return e.body.message[lang()] || e.body.message.vi;
  if (e instanceof AuthError) return t('app.revoked');
  return t('app.network_error');
}

// ---- home ---------------------------------------------------------------------------------
async function homeView() {
  state.view = null;
  const villages = (await all('villages')).filter((v) => v.active !== 0);
  villages.sort((a, b) => a.name.localeCompare(b.name, 'vi'));
  if (!state.village && villages.length) state.village = villages[0].id;
  const records = await all('records');
  const households = state.village ? await byIndex('households', 'village_id', state.village) : [];
  const status = await getKv('server_status');
  const q = state.search.trim().toLocaleLowerCase('vi');
  const shown = households
    .filter((h) => !q || `${h.head_name} ${h.address} ${h.code}`.toLocaleLowerCase('vi').includes(q))
    .sort((a, b) => a.head_name.localeCompare(b.head_name, 'vi'));
  const visits = new Map();
  for (const r of records) visits.set(r.household_id, [...(visits.get(r.household_id) || []), r]);

  const search = el('input', { type: 'search', id: 'search', placeholder: t('app.search'), value: state.search,
    oninput: (e) => { state.search = e.target.value; clearTimeout(homeView.timer); homeView.timer = setTimeout(homeView, 200); } });
  main.replaceChildren(
    el('section', { class: 'card sync' },
      el('div', { class: 'who', text: `${state.device.user.display_name} · ${state.device.commune.name}` }),
      el('button', { type: 'button', class: 'primary', id: 'sync', disabled: state.syncing || null,
        text: state.syncing ? t('app.syncing') : t('app.sync'), onclick: () => runSync('button') }),
      el('progress', { id: 'sync-progress', hidden: !state.syncing || null }),
      status ? el('p', { class: 'safe', id: 'safe', text: t('app.safe_on_server', { count: status.records }) }) : null,
      state.notice ? el('p', { class: `notice ${state.notice.kind}`, role: 'status', text: state.notice.text }) : null),
    el('nav', { class: 'villages', 'aria-label': t('records.village') },
      ...villages.map((v) => el('button', { type: 'button', class: v.id === state.village ? 'chip active' : 'chip',
        'aria-pressed': String(v.id === state.village), text: v.name,
        onclick: () => { state.village = v.id; homeView(); } }))),
    el('section', { class: 'households' },
      el('h2', { text: t('app.households') }), search,
      el('ul', { class: 'list', id: 'household-list' }, ...shown.map((h) => {
        const done = (visits.get(h.id) || []);
        const label = done.length ? t(`app.state_${done[done.length - 1].state}`) : t('app.not_visited');
        return el('li', {}, el('button', { type: 'button', class: 'row', 'data-household': h.id,
          onclick: () => openVisit(h) },
        el('span', { class: 'name', text: h.head_name || h.code }),
        el('span', { class: 'sub', text: [h.address, h.code].filter(Boolean).join(' · ') }),
        el('span', { class: `pill state-${done.length ? done[done.length - 1].state : 'none'}`, text: label })));
      }))),
    el('section', { class: 'records' },
      el('h2', { text: t('app.my_records') }),
      records.length ? el('ul', { class: 'list', id: 'record-list' }, ...records
        .sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''))
        .map((r) => el('li', {}, el('button', { type: 'button', class: 'row', 'data-record': r.id,
          onclick: () => openRecord(r.id) },
        el('span', { class: 'name', text: r.data.head_name || r.household_name || r.id.slice(0, 8) }),
        el('span', { class: 'sub', text: (r.updated_at || '').slice(0, 16).replace('T', ' ') }),
        el('span', { class: `pill state-${r.state}`, text: t(`app.state_${r.state}`) })))))
        : el('p', { class: 'empty', text: t('app.no_records') })));
  await updateHeader();
}

// ---- the form -----------------------------------------------------------------------------
async function currentForm() {
  const forms = await all('forms');
  forms.sort((a, b) => (a.version < b.version ? 1 : -1));
  return forms[0] || null;
}

async function openVisit(household) {
  const existing = (await byIndex('records', 'household_id', household.id)).find((r) => r.state === 'draft');
  if (existing) return openRecord(existing.id);
  const stored = await currentForm();
  if (!stored) { toast(t('app.no_form'), 'error'); return; }
  const form = new Form(stored.definition);
  const now = new Date().toISOString();
  const data = {};
  for (const node of form.nodes.values()) {
    if (node.type === 'start') data[node.name] = now;
    if (node.type === 'today') data[node.name] = localDate();
  }
  const record = {
    id: uuid(), rev: null, base_rev: null, form_id: form.formId, form_version: form.version,
    household_id: household.id, village_id: household.village_id, household_name: household.head_name,
    data, meta: { started_at: now, visit_date: localDate(), device_id: state.device.device_id },
    state: 'draft', created_at: now, updated_at: now,
  };
  await put('records', record);
  askPersistence();
  return openRecord(record.id);
}

async function openRecord(id) {
  const record = await get('records', id);
  const stored = await get('forms', `${record.form_id}@${record.form_version}`);
  if (!stored) { toast(t('app.no_form'), 'error'); return; }
  const form = new Form(stored.definition);
  const rules = new Rules(form, { today: record.meta.visit_date });
  const editable = ['draft', 'rejected'].includes(record.state);
  const body = el('div', { class: 'form-body' });
  const summary = el('div', { class: 'summary', role: 'alert', hidden: true });
  const view = new FormView({
    form, rules, data: record.data, lang: lang(), root: body, t,
    onChange: (data) => save({ ...record, data }),
  });
  state.view = { view, record };
  const save = (next) => {
    Object.assign(record, next, { updated_at: new Date().toISOString() });
    if (record.state === 'rejected') record.state = 'draft';
    const copy = structuredClone(record);
    saving = saving.then(() => put('records', copy)).then(() => flashSaved());
    return saving;
  };
  const finalize = async () => {
    const data = rules.settle(view.data);
    const errors = rules.check(data, message);
    const count = Object.keys(errors).length;
    if (count) {
      summary.hidden = false;
      summary.textContent = t('app.missing', { count });
      view.showErrors(errors);
      const first = body.querySelector('.question.invalid');
      first?.scrollIntoView({ block: 'center' });
      return;
    }
    for (const node of form.nodes.values()) if (node.type === 'end') data[node.name] = new Date().toISOString();
    await save({ data, state: 'finalized', rev: uuid(), base_rev: record.server_rev || null, errors: null });
    await saving;
    toast(t('app.finalized'));
    await homeView();
    runSync('finalize');
  };
  const back = async () => { await saving; await homeView(); };
  main.replaceChildren(
    el('div', { class: 'form-head' },
      el('button', { type: 'button', class: 'link', text: `← ${t('app.back')}`, onclick: back }),
      el('h1', { text: record.household_name || form.title }),
      el('span', { id: 'saved', class: 'saved', text: editable ? t('app.autosave') : t(`app.state_${record.state}`) })),
    record.state === 'rejected' && record.errors ? el('p', { class: 'error', text: t('app.server_rejected') }) : null,
    summary, body,
    editable ? el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', id: 'save-draft', text: t('app.save_draft'), onclick: back }),
      el('button', { type: 'button', class: 'primary', id: 'finalize', text: t('app.finalize'), onclick: finalize })) : null);
  view.mount();
  if (!editable) body.querySelectorAll('input, select, textarea, button').forEach((n) => { n.disabled = true; });
  if (record.state === 'rejected' && record.errors) view.showErrors(record.errors);
  window.scrollTo(0, 0);
}

function flashSaved() {
  const box = document.getElementById('saved');
  if (box) box.textContent = t('app.saved_at', { time: new Date().toLocaleTimeString(lang()) });
}

async function askPersistence() {
  // Ask once records exist: the browser may then keep them under storage pressure.
  if (navigator.storage?.persist && !(await getKv('persist_asked'))) {
    await setKv('persist_asked', true);
    await navigator.storage.persist();
  }
}

// ---- sync ---------------------------------------------------------------------------------
async function runSync(reason) {
  if (state.syncing || !state.device) return;
  state.syncing = true;
  if (!state.view) await homeView();
  try {
    const { pushed } = await syncNow((p) => {
      const bar = document.getElementById('sync-progress');
      if (bar && p.phase === 'push') { bar.max = p.total; bar.value = p.done; }
    });
    const time = new Date().toLocaleTimeString(lang(), { hour: '2-digit', minute: '2-digit' });
    state.notice = { kind: 'ok', text: pushed.total ? t('app.sync_done', { ...pushed, time }) : t('app.sync_nothing', { time }) };
  } catch (e) {
    state.notice = { kind: 'error', text: errorText(e) };
    if (reason === 'button') toast(errorText(e), 'error');
  } finally {
    state.syncing = false;
    if (!state.view) await homeView(); else await updateHeader();
  }
}

// ---- start --------------------------------------------------------------------------------
async function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  const reg = await navigator.serviceWorker.register('sw.js', { scope: './' });
  const applyWhenIdle = () => {
    if (!reg.waiting) return;
    if (state.view) { toast(t('app.update_waiting')); return; }
    reg.waiting.postMessage('skip-waiting');
  };
  reg.addEventListener('updatefound', () => reg.installing?.addEventListener('statechange', applyWhenIdle));
  applyWhenIdle();
}

async function start() {
  await loadMessages();
  setLang(await getKv('lang', 'vi'));
  document.getElementById('lang').addEventListener('click', async () => {
    setLang(lang() === 'vi' ? 'en' : 'vi');
    await setKv('lang', lang());
    if (state.view) await openRecord(state.view.record.id); else if (state.device) await homeView(); else enrollView();
  });
  window.addEventListener('online', () => { updateHeader(); runSync('online'); });
  window.addEventListener('offline', updateHeader);
  registerWorker().catch(() => {});
  const code = new URLSearchParams(location.hash.slice(1)).get('enroll');
  state.device = await getKv('device');
  if (code) {
    history.replaceState(null, '', location.pathname);
    try { await doEnroll(code); } catch (e) { enrollView(errorText(e)); return; }
  }
  if (!state.device) { enrollView(); await updateHeader(); return; }
  await homeView();
  runSync('open');
}

start();
