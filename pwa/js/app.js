// The collector's controller: starts the app, keeps the header true, runs sync when it should
// (on opening, on regaining the network, after finalizing, by the button) and keeps data safe.
import { all, getKv, put, setKv } from './db.js';
import { toast } from './dom.js';
import { lang, loadMessages, say, setLang, t } from './i18n.js';
import { go, state } from './nav.js';
import { backupFile, recordsToRestore, waitingCount, withHouseholds } from './records.js';
import {
  AuthError, CHECK_EVERY, HttpError, checkDelay, checkServer, enroll, reach, reachEvents, reachState, retryDelay, syncNow,
} from './sync.js';
import './screens/enroll.js';
import './screens/home.js';
import './screens/visit.js';

let retryTimer = null;
let failures = 0;
let checkTimer = null;

// The light check of the server (sync.js: checkServer) when nothing else asked it lately. Never
// while the app is hidden, the phone has no network, or a sync runs or waits to retry: those are
// exchanges themselves, and a server that is down is then asked only by the sync's backoff.
function scheduleCheck(delay = checkDelay(reach.at)) {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => {
    if (document.hidden || !navigator.onLine || state.syncing || retryTimer || !state.device) {
      scheduleCheck(CHECK_EVERY);
      return;
    }
    checkServer(); // hearing back (or not) schedules the next one
  }, delay);
}

async function updateHeader() {
  const waiting = waitingCount(await all('records'));
  const badge = document.getElementById('badge');
  badge.textContent = t(waiting === 1 ? 'app.waiting_one' : 'app.waiting_count', { count: waiting });
  badge.dataset.count = String(waiting);
  const net = document.getElementById('net');
  const now = reachState(navigator.onLine, reach.answered);
  net.textContent = t(`app.server_${now}`);
  net.className = `net ${now}`;
  net.dataset.state = now;
  const switcher = document.getElementById('lang');
  // The accessible name starts with the visible text (WCAG 2.5.3), then says what it does.
  switcher.textContent = lang() === 'vi' ? 'EN' : 'VI';
  switcher.setAttribute('aria-label', lang() === 'vi' ? 'EN – English' : 'VI – Tiếng Việt');
}

/** A failed sync as a message kept by its code, rendered in whatever language is current. */
function errorMessage(e) {
  if (e instanceof HttpError && e.body?.message?.vi) return { vi: e.body.message.vi, en: e.body.message.en || e.body.message.vi };
  if (e instanceof AuthError) return { key: 'app.revoked' };
  return { key: 'app.network_error' };
}

async function refresh() {
  if (state.screen === 'home') await go('home');
  await updateHeader();
}

async function sync(reason) {
  if (state.syncing || !state.device || state.revoked) return;
  clearTimeout(retryTimer);
  retryTimer = null;
  state.syncing = true;
  state.progress = null;
  if (state.screen === 'home') await go('home');
  try {
    const { pushed } = await syncNow((p) => {
      // Show the households as soon as they are here; the status check can come after.
      if (p.phase === 'pulled' && state.screen === 'home') go('home');
      if (p.phase !== 'push') return;
      state.progress = p;
      const bar = document.getElementById('sync-progress');
      if (bar) { bar.max = p.total || 1; bar.value = p.done; }
    });
    failures = 0;
    // Kept as a code and a time: the home renders it in the language and zone of the moment.
    state.notice = { kind: 'ok', key: pushed.total ? 'app.sync_done' : 'app.sync_nothing', params: { ...pushed },
      at: new Date().toISOString() };
    navigator.serviceWorker?.getRegistration().then((r) => r?.update()).catch(() => {});
  } catch (e) {
    if (e instanceof AuthError) state.revoked = true;
    state.notice = { kind: 'error', ...errorMessage(e) };
    if (reason === 'button') toast(say(errorMessage(e)), 'error');
    if (!(e instanceof AuthError)) {
      // Try again by itself later, further apart each time, up to five minutes; or when a busy
      // server said to (its Retry-After, sync.js: retryDelay), but not within five seconds.
      retryTimer = setTimeout(() => { retryTimer = null; sync('retry'); }, Math.max(5000, retryDelay(++failures, e)));
    }
  } finally {
    state.syncing = false;
    await refresh();
  }
}

async function doEnroll(code) {
  try {
    await enroll(code.trim());
  } catch (e) {
    go('enroll', say(errorMessage(e)));
    return;
  }
  state.device = await getKv('device');
  state.revoked = false;
  toast(t('app.enrolled', { name: state.device.user.display_name }));
  await go('home');
  await sync('enroll');
}

async function backup() {
  const records = withHouseholds(await all('records'), await all('households'));
  const file = backupFile(records, state.device);
  const blob = new Blob([JSON.stringify(file)], { type: 'application/json' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `gocua-backup-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  toast(t('app.backup_saved', { count: file.local.length }));
}

async function restore(fileObject) {
  try {
    const file = JSON.parse(await fileObject.text());
    const restored = recordsToRestore(file, await all('records'));
    for (const record of restored) await put('records', record);
    toast(t('app.backup_restored', { count: restored.length }));
  } catch {
    toast(t('app.backup_bad'), 'error');
  }
  await refresh();
}

async function persist() {
  // Ask once records exist: the browser may then keep them under storage pressure.
  if (navigator.storage?.persist && !(await getKv('persist_asked'))) {
    await setKv('persist_asked', true);
    await setKv('persisted', await navigator.storage.persist());
  }
}

async function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  const reg = await navigator.serviceWorker.register('sw.js', { scope: './' });
  // An update never interrupts an open form: it waits, says so, and applies on the home screen.
  const applyWhenIdle = () => {
    if (!reg.waiting) return;
    if (state.screen === 'visit') { toast(t('app.update_waiting')); return; }
    reg.waiting.postMessage('skip-waiting');
  };
  reg.addEventListener('updatefound', () => reg.installing?.addEventListener('statechange', applyWhenIdle));
  const hadController = !!navigator.serviceWorker.controller;
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading || !hadController) return;
    reloading = true;
    location.reload();
  });
  document.addEventListener('gocua:home', applyWhenIdle);
  applyWhenIdle();
}

async function start() {
  await loadMessages();
  setLang(await getKv('lang', 'vi')); // Vietnamese first; English by the switch
  state.actions = { enroll: doEnroll, sync, backup, restore, persist };
  // The visit's steps stick right under the header, whose height changes with its messages.
  const bar = document.getElementById('bar');
  new ResizeObserver(() => document.documentElement.style.setProperty('--bar-height', `${bar.offsetHeight}px`)).observe(bar);
  document.getElementById('lang').addEventListener('click', async () => {
    setLang(lang() === 'vi' ? 'en' : 'vi');
    await setKv('lang', lang());
    if (state.visit) await go('visit', state.visit.record.id);
    else if (state.device) await go('home');
    else go('enroll');
    await updateHeader();
  });
  window.addEventListener('online', () => { updateHeader(); sync('online'); });
  window.addEventListener('offline', updateHeader);
  document.addEventListener('gocua:home', updateHeader);
  reachEvents.addEventListener('change', () => { updateHeader(); scheduleCheck(); });
  reachEvents.addEventListener('heard', () => scheduleCheck());
  document.addEventListener('visibilitychange', () => { if (!document.hidden) scheduleCheck(); });
  registerWorker().catch(() => {});
  const code = new URLSearchParams(location.hash.slice(1)).get('enroll');
  state.device = await getKv('device');
  if (code) {
    history.replaceState(null, '', location.pathname);
    await doEnroll(code);
    return;
  }
  if (!state.device) {
    go('enroll');
    await updateHeader();
    checkServer(); // whether enrolling can work now; nothing else asks the server on this screen
    return;
  }
  // A visit open when the page was reloaded or the phone closed the app opens again where it was.
  const open = await getKv('open_visit');
  await (open ? go('visit', open) : go('home'));
  await updateHeader();
  sync('open');
}

start();
