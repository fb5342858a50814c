// The collector's controller: starts the app, keeps the header true, runs sync when it should
// (on opening, on regaining the network, after finalizing, by the button) and keeps data safe.
import { all, getKv, put, setKv } from './db.js';
import { toast } from './dom.js';
import { lang, loadMessages, setLang, t } from './i18n.js';
import { go, state } from './nav.js';
import { backupFile, recordsToRestore, waitingCount, withHouseholds } from './records.js';
import { AuthError, HttpError, backoffDelay, enroll, syncNow } from './sync.js';
import './screens/enroll.js';
import './screens/home.js';
import './screens/visit.js';

let retryTimer = null;
let failures = 0;

async function updateHeader() {
  const records = await all('records');
  const waiting = waitingCount(records);
  const badge = document.getElementById('badge');
  badge.textContent = String(waiting);
  badge.hidden = waiting === 0;
  badge.title = t('app.waiting_count', { count: waiting });
  const net = document.getElementById('net');
  net.textContent = navigator.onLine ? t('app.online') : t('app.offline');
  net.className = navigator.onLine ? 'net online' : 'net offline';
  const switcher = document.getElementById('lang');
  switcher.textContent = lang() === 'vi' ? 'EN' : 'VI';
  // The name read out starts with the letters shown: a voice-control user says what she sees.
  switcher.setAttribute('aria-label', lang() === 'vi' ? 'EN · English' : 'VI · Tiếng Việt');
}

function errorText(e) {
  if (e instanceof HttpError && e.body?.message) return e.body.message[lang()] || e.body.message.vi;
  if (e instanceof AuthError) return t('app.revoked');
  return t('app.network_error');
}

async function refresh() {
  if (state.screen === 'home') await go('home');
  await updateHeader();
}

async function sync(reason) {
  if (state.syncing || !state.device || state.revoked) return;
  clearTimeout(retryTimer);
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
    const time = new Date().toLocaleTimeString(lang(), { hour: '2-digit', minute: '2-digit' });
    state.notice = { kind: 'ok', text: pushed.total ? t('app.sync_done', { ...pushed, time }) : t('app.sync_nothing', { time }) };
    navigator.serviceWorker?.getRegistration().then((r) => r?.update()).catch(() => {});
  } catch (e) {
    if (e instanceof AuthError) state.revoked = true;
    state.notice = { kind: 'error', text: errorText(e) };
    if (reason === 'button') toast(errorText(e), 'error');
    if (!(e instanceof AuthError)) {
      // Try again by itself later, further apart each time, up to five minutes.
      retryTimer = setTimeout(() => sync('retry'), Math.max(5000, backoffDelay(++failures)));
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
    go('enroll', errorText(e));
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
  registerWorker().catch(() => {});
  const code = new URLSearchParams(location.hash.slice(1)).get('enroll');
  state.device = await getKv('device');
  if (code) {
    history.replaceState(null, '', location.pathname);
    await doEnroll(code);
    return;
  }
  if (!state.device) { go('enroll'); await updateHeader(); return; }
  await go('home');
  await updateHeader();
  sync('open');
}

start();
