// The volunteer's home: sync state, her villages' households with where each one stands,
// her records with where each one is, and keeping data safe.
import { all, byIndex, getKv, put, setKv } from '../db.js';
import { el, toast } from '../dom.js';
import { uuid } from '../ids.js';
import { lang, say, t } from '../i18n.js';
import { go, main, register, state } from '../nav.js';
import { MAX_ADDRESS, MAX_HEAD_NAME, householdStatus, localDay, localTime, waitingCount } from '../records.js';
import { canScan, scanCode } from '../scan.js';
import { APP_VERSION } from '../sync.js';
import { filterHouseholds, searchIndex } from '../text.js';

// Each household's folded search text, kept while the app runs (searchIndex refolds one only
// when its name, address or code changed).
const folded = new Map();

// Renders run concurrently (a sync's pull redraws the home while a search redraws it too): each
// reads IndexedDB first, and only the newest may draw, or an older one finishing last would put
// back an unfiltered list under a filled search box (or the home over a visit just opened).
let drawing = 0;

// Search answers each keystroke from what the last render read (no IndexedDB, no sorting) and
// redraws the list alone, so the box keeps the focus and the phone's keyboard stays up. A long
// list shows its first rows and a button for more: 5,000 rows take a slow phone a second to draw.
const PAGE = 12;
const byName = new Intl.Collator('vi');
let listing = { village: null, households: [], index: [], visits: new Map(), rows: new Map(), limit: PAGE, shown: [] };

function pill(key, text) { return el('span', { class: `pill state-${key}`, text }); }

function statusText(status) {
  const text = t(`app.household_${status.key}`);
  return status.date ? `${text} ${localDay(status.date)}` : text;
}

/** The last sync's outcome, in the current language, its time in the phone's zone. */
function noticeText(notice) {
  return say(notice.key ? { ...notice, params: { ...notice.params, time: localTime(notice.at, lang()) } } : notice);
}

async function show() {
  const mine = ++drawing;
  const { sync: onSync, backup: onBackup, restore: onRestore } = state.actions;
  const villages = (await all('villages')).filter((v) => v.active !== 0)
    .sort((a, b) => a.name.localeCompare(b.name, 'vi'));
  // The village chosen last, kept on the phone for its volunteer: reopening the app finds it.
  if (!state.village) state.village = await getKv(villageKey());
  if (!state.village || !villages.some((v) => v.id === state.village)) state.village = villages[0]?.id || null;
  const records = await all('records');
  const households = state.village ? await byIndex('households', 'village_id', state.village) : [];
  const status = await getKv('server_status');
  const visits = new Map();
  for (const r of records) visits.set(r.household_id, [...(visits.get(r.household_id) || []), r]);
  const sorted = households.sort((a, b) => byName.compare(a.head_name, b.head_name));
  const waiting = waitingCount(records);
  const safety = await safetyCard(onBackup, onRestore);
  if (mine !== drawing || state.screen !== 'home') return;
  // Coming from another screen (Lưu nháp, a finished visit, enrollment), the home opens at its
  // top, not wherever the long form was scrolled to; a redraw (a sync, a search) stays put.
  const arriving = !main().querySelector('#home');

  // From here on nothing waits: the box and the list are made with what is typed now.
  // A redraw of the same village keeps the rows she asked for (More): a sync ending while
  // she reads must not fold the list back to its first page.
  const limit = !arriving && listing.village === state.village ? listing.limit : PAGE;
  listing = { village: state.village, households: sorted, index: searchIndex(sorted, folded), visits, rows: new Map(), limit, shown: [] };
  const typing = document.activeElement?.id === 'search';
  let list = householdList();
  const search = el('input', { type: 'search', id: 'search', placeholder: t('app.search'), value: state.search,
    'aria-label': t('app.search'),
    oninput: (e) => {
      state.search = e.target.value;
      listing.limit = PAGE;
      const next = householdList(list);
      if (next !== list) { list.replaceWith(next); list = next; }
    } });

  main().replaceChildren(...[
    el('section', { class: 'card sync', id: 'home' },
      el('h1', { text: state.device.commune.name }),
      el('div', { class: 'who', text: state.device.user.display_name }),
      state.revoked ? el('div', { class: 'notice error', role: 'alert', id: 'revoked' },
        el('p', { text: t('app.revoked') }),
        el('button', { type: 'button', class: 'primary', text: t('app.backup_save'), onclick: onBackup })) : null,
      el('button', { type: 'button', class: 'primary', id: 'sync', disabled: state.syncing || state.revoked || null,
        text: state.syncing ? t('app.syncing') : waiting ? t('app.sync_count', { count: waiting }) : t('app.sync'),
        onclick: () => onSync('button') }),
      el('progress', { id: 'sync-progress', hidden: !state.syncing || null, max: state.progress?.total || 1, value: state.progress?.done || 0 }),
      status ? el('p', { class: 'safe', id: 'safe', text: t('app.safe_on_server', { count: status.records }) }) : null,
      state.notice ? el('p', { class: `notice ${state.notice.kind}`, id: 'sync-notice', role: 'status', text: noticeText(state.notice) }) : null),
    el('nav', { class: 'villages', 'aria-label': t('records.village') },
      ...villages.map((v) => el('button', { type: 'button', class: v.id === state.village ? 'chip active' : 'chip',
        'aria-pressed': String(v.id === state.village), text: v.name,
        onclick: () => { chooseVillage(v.id); go('home'); } }))),
    el('section', { class: 'households' },
      el('h2', { text: t('app.households') }),
      // The tools above the box: under it come the matches, in the part of the screen the
      // phone's keyboard leaves free.
      el('div', { class: 'tools' },
        canScan() ? el('button', { type: 'button', class: 'secondary', text: t('app.scan'),
          onclick: async () => openByCode(await scanCode(t)) }) : null,
        el('button', { type: 'button', class: 'secondary', id: 'type-code', text: t('app.type_code'), onclick: askCode }),
        el('button', { type: 'button', class: 'secondary', id: 'add-household', text: t('app.add_household'), onclick: addHousehold })),
      search,
      list),
    el('section', { class: 'records' },
      el('h2', { text: t('app.my_records') }),
      records.length ? el('ul', { class: 'list', id: 'record-list' }, ...records
        .sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''))
        .map((r) => el('li', {}, el('button', { type: 'button', class: 'row', 'data-record': r.id, onclick: () => go('visit', r.id) },
          el('span', { class: 'name', text: r.data.head_name || r.household_name || r.id.slice(0, 8) }),
          el('span', { class: 'sub', text: localTime(r.updated_at, lang()) }),
          pill(r.state, t(`app.state_${r.state}`))))))
        : el('p', { class: 'empty', text: t('app.no_records') })),
    safety].filter(Boolean));
  if (arriving) window.scrollTo(0, 0);
  // A sync that redraws the home while the volunteer types leaves her in the box.
  if (typing) { search.focus(); search.setSelectionRange(search.value.length, search.value.length); }
}

function villageKey() { return `village:${state.device?.user?.id ?? ''}`; }

function chooseVillage(id) {
  state.village = id;
  setKv(villageKey(), id).catch(() => {}); // only a convenience: the list works without it
}

/** The households matching the search box, the first `listing.limit` of them drawn, into
 * `list` when it is the list already on the screen (its rows that still match stay where they
 * are, so the phone lays out only the rows that change), or into a new list. */
function householdList(list = null) {
  const { households, index } = listing;
  const shown = filterHouseholds(households, index, state.search);
  if (!shown.length) return el('p', { class: 'empty', text: state.search.trim() ? t('app.no_match') : t('app.no_households') });
  if (list?.id !== 'household-list') {
    list = el('ul', { class: 'list', id: 'household-list' });
    list.addEventListener('click', (e) => {
      if (e.target.closest('#more-households')) showMore(list);
    });
  }
  listing.shown = shown;
  list.dataset.total = shown.length;
  fill(list, shown.slice(0, listing.limit).map(householdRow));
  return list;
}

// A row is made once a render, and the next keystrokes that show it again reuse it.
function householdRow(h) {
  const { visits, rows } = listing;
  if (rows.has(h.id)) return rows.get(h.id);
  const s = householdStatus(visits.get(h.id) || [], h.followup);
  const item = el('li', {}, el('button', { type: 'button', class: 'row', 'data-household': h.id, onclick: () => openHousehold(h) },
    el('span', { class: 'name', text: h.head_name || h.code }),
    el('span', { class: 'sub', text: [h.address, h.code].filter(Boolean).join(' · ') }),
    pill(s.key, statusText(s))));
  rows.set(h.id, item);
  return item;
}

/** `list` made to hold `items` in order, then the button for more when some are left: rows
 * already in place are not touched, others are moved or added, the rest removed. */
function fill(list, items) {
  let at = list.firstChild;
  for (const item of items) {
    if (at === item) at = at.nextSibling;
    else list.insertBefore(item, at);
  }
  while (at) { const next = at.nextSibling; at.remove(); at = next; }
  const left = listing.shown.length - items.length;
  if (left > 0) {
    list.append(el('li', {}, el('button', { type: 'button', class: 'secondary', id: 'more-households',
      text: t('app.more_households', { count: Math.min(left, PAGE) }) })));
  }
}

function showMore(list) {
  const first = Math.min(listing.limit, listing.shown.length);
  listing.limit += PAGE;
  fill(list, listing.shown.slice(0, listing.limit).map(householdRow));
  list.children[first]?.querySelector('button')?.focus(); // where the new rows start
}

async function safetyCard(onBackup, onRestore) {
  const file = el('input', { type: 'file', accept: 'application/json,.json', id: 'restore-file', hidden: true,
    onchange: (e) => e.target.files[0] && onRestore(e.target.files[0]) });
  const used = el('p', { class: 'sub', id: 'storage' });
  navigator.storage?.estimate?.().then((e) => {
    used.textContent = t('app.storage_used', { mb: (e.usage / 1048576).toFixed(1) });
  }).catch(() => {});
  const standalone = matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
  const ios = /iphone|ipad|ipod/i.test(navigator.userAgent);
  return el('section', { class: 'card safety' },
    el('h2', { text: t('app.safety') }),
    standalone ? null : el('p', { class: 'notice warn', id: 'install-hint', text: ios ? t('app.install_ios') : t('app.install_hint') }),
    used,
    el('div', { class: 'tools' },
      el('button', { type: 'button', class: 'secondary', id: 'backup', text: t('app.backup_save'), onclick: onBackup }),
      el('button', { type: 'button', class: 'secondary', id: 'restore', text: t('app.backup_restore'), onclick: () => file.click() })),
    file,
    el('p', { class: 'sub', text: t('app.version', { version: APP_VERSION }) }));
}

async function openHousehold(household) {
  const drafts = (await byIndex('records', 'household_id', household.id)).filter((r) => r.state === 'draft');
  if (drafts.length) return go('visit', drafts[0].id);
  return go('visit', null, household);
}

async function openByCode(code) {
  if (!code) return;
  const wanted = code.trim().toUpperCase();
  const found = (await all('households')).find((h) => h.code === wanted || h.id === code.trim());
  if (!found) { toast(t('app.code_not_found', { code: wanted }), 'error'); return; }
  chooseVillage(found.village_id);
  await openHousehold(found);
}

function askCode() {
  const input = el('input', { id: 'code-input', autocomplete: 'off', autocapitalize: 'characters' });
  sheet(t('app.type_code'), [el('label', { for: 'code-input', text: t('app.household_code') }), input],
    () => openByCode(input.value));
}

function addHousehold() {
  // The register's limits: the name and address travel with the visit (records.js: withHouseholds).
  const head = el('input', { id: 'new-head', autocomplete: 'off', maxlength: MAX_HEAD_NAME });
  const address = el('input', { id: 'new-address', autocomplete: 'off', maxlength: MAX_ADDRESS });
  // The error sits in the dialog under its field and is the field's description, so a screen
  // reader reads it with the field; a toast would show behind the dialog.
  const needed = el('p', { class: 'error', id: 'new-head-error', role: 'alert', hidden: true, text: t('app.new_head_needed') });
  head.addEventListener('input', () => {
    if (!head.value.trim()) return;
    needed.hidden = true;
    head.removeAttribute('aria-invalid');
    head.removeAttribute('aria-describedby');
  });
  sheet(t('app.add_household'), [
    el('label', { for: 'new-head', text: t('app.new_head') }), head, needed,
    el('label', { for: 'new-address', text: t('app.new_address') }), address,
  ], async () => {
    if (!head.value.trim()) {
      needed.hidden = false;
      head.setAttribute('aria-invalid', 'true');
      head.setAttribute('aria-describedby', needed.id);
      head.focus();
      return false;
    }
    const household = { id: uuid(), village_id: state.village, code: '', head_name: head.value.trim(),
      address: address.value.trim(), local: true };
    await put('households', household);
    await go('visit', null, household);
    return true;
  });
}

/** A simple bottom sheet with a form; `onOk` returning false keeps it open. */
function sheet(title, fields, onOk) {
  // A form may not be the dialog itself (ARIA): the dialog holds it.
  const box = el('form', { class: 'sheet' },
    el('h2', { text: title }), ...fields,
    el('div', { class: 'tools' },
      el('button', { type: 'button', class: 'secondary', text: t('app.close'), onclick: () => dialog.remove() }),
      el('button', { type: 'submit', class: 'primary', id: 'sheet-ok', text: t('app.ok') })));
  box.addEventListener('submit', async (e) => {
    e.preventDefault();
    if ((await onOk()) !== false) dialog.remove();
  });
  const dialog = el('div', { role: 'dialog', 'aria-label': title }, box);
  document.body.append(dialog);
  fields.find((f) => f.tagName === 'INPUT')?.focus();
}

register('home', show);
