// The admin's preview of a checked form, inside a phone-sized frame of the Forms page: the
// collector's own modules (pwa/js) render it, so what the admin sees is what a volunteer gets.
// The definition comes from the page that holds the frame; answers stay in this frame's memory
// (nothing is saved on the server or in the collector's IndexedDB).
import { el } from '/app/js/dom.js';
import { Form, Rules } from '/app/js/form.js';
import { loadMessages, message, setLang, t } from '/app/js/i18n.js';
import { FormView } from '/app/js/render.js';

const root = document.getElementById('preview');

async function start() {
  await loadMessages();
  setLang(root.dataset.lang);
  const definition = JSON.parse(window.parent.document.getElementById('preview-definition').textContent);
  // The form is not published yet, so no phone holds its files: the page that checked it gives
  // an address for each.
  const media = JSON.parse(window.parent.document.getElementById('preview-media')?.textContent || '{}');
  // A workbook may name no version yet: publishing gives it one.
  const settings = { ...definition.settings, version: definition.settings.version || 'preview' };
  const form = new Form({ ...definition, settings });
  const rules = new Rules(form);
  const body = el('div', { class: 'form-body' });
  const title = el('p', { class: 'steps-title', id: 'step-title', role: 'heading', 'aria-level': '2' });
  const prev = el('button', { type: 'button', class: 'secondary', id: 'prev', text: `← ${t('app.previous')}` });
  const next = el('button', { type: 'button', class: 'secondary', id: 'next', text: `${t('app.next')} →` });
  const touched = new Set();
  const view = new FormView({
    form, rules, data: rules.defaults(form.root), lang: root.dataset.lang, root: body, t,
    onChange: (data, path) => {
      if (path) touched.add(path);
      view.showErrors(rules.check(data, message), touched);
      update();
    },
  });
  view.mediaUrl = async (name) => media[name] || null;
  const update = () => {
    const visible = view.visiblePages();
    if (!visible.includes(view.current) && visible.length) view.showPage(visible[0]);
    const at = visible.indexOf(view.current);
    title.textContent = t('app.step', { at: at + 1, total: visible.length, title: view.pages[view.current]?.title || '' });
    prev.disabled = at <= 0;
    next.disabled = at >= visible.length - 1;
  };
  const move = (step) => {
    const visible = view.visiblePages();
    const to = visible[visible.indexOf(view.current) + step];
    if (to !== undefined) { view.showPage(to); update(); window.scrollTo(0, 0); }
  };
  prev.addEventListener('click', () => move(-1));
  next.addEventListener('click', () => move(1));
  root.replaceChildren(el('div', { class: 'form-head' }, el('h1', { text: form.title })), title, body, el('div', { class: 'step-nav' }, prev, next));
  // A photo taken here would be kept in this browser's copy of the collector's storage (the
  // same origin): the preview takes none, and says nothing is stored.
  body.addEventListener('click', (e) => { if (e.target.matches?.('input[type=file]')) e.preventDefault(); }, true);
  body.addEventListener('change', (e) => {
    if (!e.target.matches?.('input[type=file]')) return;
    e.stopPropagation();
    e.target.value = '';
    const note = e.target.parentElement.querySelector('.photo-note');
    if (note) note.textContent = root.dataset.noPhoto;
  }, true);
  view.mount();
  update();
  root.dataset.ready = '1';
}

start().catch((error) => {
  root.replaceChildren(el('p', { class: 'error', id: 'preview-error', text: String(error) }));
});
