// The form on the screen: builds the questions once, then on every answer settles the data
// (calculations, relevance) and only shows, hides or adds what changed, so typing is never
// interrupted by a redraw. Words with ${name} references (labels, hints, choice labels) are
// filled in where they are shown and again after every answer (pwa/js/labels.js), as text.
import { entryName, inputMode, isEmpty, isOsm, MAX_OSM_LENGTH, MAX_TEXT_LENGTH, pickedRepeat, rangeParameters } from './form.js';
import { el } from './dom.js';
import { fill, NO_INSTANCE } from './labels.js';
import { FileTooLarge, formatSize, photoUrl, storeFile, storePhoto, stored } from './blobs.js';
import { moved, rankState, shownOrder } from './rank.js';
import { canScan, scanCode } from './scan.js';
import { geoControl, pointOf } from './geowidget.js';
import { fold } from './text.js';

const HIDDEN_TYPES = new Set(['calculate', 'hidden', 'start', 'end', 'today', 'deviceid', 'username', 'phonenumber', 'email', 'simserial', 'subscriberid', 'audit', 'start-geopoint', 'background-geopoint']);

// A list longer than this (a file of 10,000 households) is searched, not drawn whole: drawing
// and laying out every choice cost seconds on a slow phone (bench/form_scale.py).
export const LONG_LIST = 60;
// How many matches a searched list shows at once.
export const LONG_LIST_SHOWN = 20;

function scopeAt(data, position) {
  let scope = data;
  for (const [name, index] of position) {
    scope = scope[name]?.[index];
    if (!scope) return null;
  }
  return scope;
}

export class FormView {
  /**
   * @param {{form: import('./form.js').Form, rules: import('./form.js').Rules, data: object,
   *   lang: string, root: HTMLElement, onChange: (data: object) => void, t: Function,
   *   prefill?: (data: object, path: string|null) => object}} opts  `prefill` gives answers
   *   known before the visit (the household's name) to settled data; `path` was just answered.
   */
  constructor({ form, rules, data, lang, root, onChange, t, prefill = null }) {
    Object.assign(this, { form, rules, lang, root, onChange, t, prefill });
    this.data = this.#settled(data || {}, null);
    this.items = [];
    this.repeats = [];
    this.pages = [];
    this.texts = [];
    this.current = 0;
  }

  /**
   * `raw` filled in for the answers at `position`; when it has references, `show` is called
   * with the new text after every answer (until the repeat instance at `path` is rebuilt).
   */
  #live(raw, position, path, show) {
    if (raw.includes('${')) {
      this.texts.push({ path, update: () => show(fill(raw, this.form, this.data, position)) });
    }
    return fill(raw, this.form, this.data, position);
  }

  /** A text node showing `raw` filled in, kept up to date. */
  #liveText(raw, position, path) {
    const node = document.createTextNode('');
    node.data = this.#live(raw, position, path, (text) => { node.data = text; });
    return node;
  }

  /** The label of the question at `path`, filled in for its repeat instance. */
  labelOf(path) {
    const item = this.items.find((i) => i.path === path);
    if (!item) return null;
    const position = item.node.kind === 'repeat' ? [...item.position, [item.node.name, NO_INSTANCE]] : item.position;
    return fill(this.form.label(item.node, this.lang), this.form, this.data, position);
  }

  /**
   * Build every question once. Each top-level group or repeat is a page of its own; questions
   * between them share a page, so a 360 px screen shows one part of the visit at a time.
   */
  mount() {
    this.root.replaceChildren();
    this.items = [];
    this.repeats = [];
    this.pages = [];
    this.texts = [];
    for (const child of this.form.root.children) {
      const own = child.kind !== 'field';
      let page = this.pages[this.pages.length - 1];
      if (own || !page || page.own) {
        page = { own, title: this.form.title, el: el('div', { class: 'page' }) };
        if (own) {
          const shown = page;
          const position = child.kind === 'repeat' ? [[child.name, NO_INSTANCE]] : [];
          page.title = this.#live(this.form.label(child, this.lang), position, child.name, (text) => { shown.title = text; });
        }
        this.pages.push(page);
        this.root.append(page.el);
      }
      this.#levelNodes([child], page.el, [], '');
    }
    this.refresh();
    this.showPage(this.visiblePages()[0] ?? 0);
  }

  /** Indexes of the pages that have something to show now. */
  visiblePages() {
    return this.pages.map((p, i) => [p, i])
      .filter(([p]) => p.el.querySelector(':scope > :not([hidden]):is(.question, .group, .repeat)'))
      .map(([, i]) => i);
  }

  showPage(index) {
    this.current = index;
    this.pages.forEach((p, i) => { p.el.hidden = i !== index; });
  }

  /** The page holding the question at `path`. */
  pageOf(path) {
    const item = this.items.find((i) => i.path === path);
    return item ? this.pages.findIndex((p) => p.el.contains(item.el)) : -1;
  }

  #level(node, container, position, prefix) {
    this.#levelNodes(node.children, container, position, prefix);
  }

  #levelNodes(children, container, position, prefix) {
    for (const child of children) {
      const label = this.form.label(child, this.lang);
      if (child.kind === 'group') {
        const box = el('fieldset', { class: 'group', 'data-name': child.name },
          el('legend', {}, this.#liveText(label, position, prefix + child.name)));
        container.append(box);
        this.items.push({ node: child, el: box, position, path: prefix + child.name });
        this.#level(child, box, position, prefix);
      } else if (child.kind === 'repeat') {
        // The repeat's own heading speaks for every instance: an instance's answers are ''.
        const every = [...position, [child.name, NO_INSTANCE]];
        const box = el('section', { class: 'repeat', 'data-name': child.name },
          el('h3', {}, this.#liveText(label, every, prefix + child.name)));
        const list = el('div', { class: 'instances' });
        box.append(list);
        const repeat = { node: child, el: box, list, position, path: prefix + child.name, count: -1 };
        if (!child.row.repeat_count) {
          const add = el('button', { type: 'button', class: 'secondary', 'data-add': child.name,
            text: this.t('form.add_repeat', { name: this.#live(label, every, repeat.path, (text) => { add.textContent = this.t('form.add_repeat', { name: text }); }) }),
            onclick: () => this.#addInstance(repeat) });
          box.append(add);
        }
        this.repeats.push(repeat);
        this.items.push({ node: child, el: box, position, path: repeat.path });
        container.append(box);
      } else if (!HIDDEN_TYPES.has(child.type)) {
        const item = this.#field(child, position, prefix + child.name);
        container.append(item.el);
        this.items.push(item);
      }
    }
  }

  #buildInstances(repeat) {
    const instances = scopeAt(this.data, repeat.position)?.[repeat.node.name] || [];
    const prefix = `${repeat.path}[`;
    this.items = this.items.filter((i) => !i.path.startsWith(prefix));
    this.texts = this.texts.filter((t) => !t.path.startsWith(prefix));
    repeat.list.replaceChildren();
    instances.forEach((_, index) => {
      const position = [...repeat.position, [repeat.node.name, index]];
      const box = el('div', { class: 'instance', 'data-index': index },
        el('h4', {}, this.#liveText(this.form.label(repeat.node, this.lang), position, `${prefix}${index}]`),
          ` ${index + 1}`));
      if (!repeat.node.row.repeat_count) {
        box.append(el('button', { type: 'button', class: 'link', text: this.t('form.remove'),
          onclick: () => this.#removeInstance(repeat, index) }));
      }
      repeat.list.append(box);
      this.#level(repeat.node, box, position, `${repeat.path}[${index}].`);
    });
    repeat.count = instances.length;
  }

  #addInstance(repeat) {
    const scope = scopeAt(this.data, repeat.position);
    (scope[repeat.node.name] ||= []).push(this.rules.defaults(repeat.node));
    this.#changed();
  }

  #removeInstance(repeat, index) {
    scopeAt(this.data, repeat.position)[repeat.node.name].splice(index, 1);
    repeat.count = -1; // indexes shift: rebuild
    this.#changed();
  }

  #set(position, name, value, path) {
    const scope = scopeAt(this.data, position);
    if (!scope) return;
    if (isEmpty(value)) delete scope[name]; else scope[name] = value;
    this.#changed(path);
  }

  /**
   * An answer given by the phone itself, not by a question on the screen (a start-geopoint's
   * or background-geopoint's fix, come late): settled and passed to onChange as an answer
   * typed would be.
   */
  setAnswer(name, value) {
    this.#set([], name, value, null);
  }

  #settled(data, path) {
    const settled = this.rules.settle(data);
    const filled = this.prefill ? this.prefill(settled, path) : settled;
    return filled === settled ? settled : this.rules.settle(filled);
  }

  #changed(path = null) {
    this.data = this.#settled(this.data, path);
    this.refresh();
    this.onChange(this.data, path);
  }

  /** Show what applies, hide what does not, add or drop repeat instances. */
  refresh() {
    for (const repeat of this.repeats) {
      const scope = scopeAt(this.data, repeat.position);
      const count = scope?.[repeat.node.name]?.length ?? 0;
      if (count !== repeat.count && scope) this.#buildInstances(repeat);
    }
    for (const item of this.items) {
      const shown = this.rules.relevant(item.node, this.data, item.position);
      item.el.hidden = !shown;
      item.sync?.();
    }
    for (const text of this.texts) text.update();
  }

  #field(node, position, path) {
    const id = `q-${path.replace(/[^\w-]/g, '_')}`;
    const required = String(node.row.required || '').trim() && !['no', 'false', 'false()'].includes(String(node.row.required).trim().toLowerCase());
    const wrap = el('div', { class: `question type-${node.type}`, 'data-name': node.name, 'data-path': path });
    const label = el('label', { for: id, class: 'label' }, this.#liveText(this.form.label(node, this.lang), position, path));
    if (required) label.append(el('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }));
    wrap.append(label);
    const media = this.#labelMedia(node.row);
    if (media) wrap.append(media);
    const hint = this.form.text(node.row, 'hint', this.lang);
    if (hint) wrap.append(el('p', { class: 'hint' }, this.#liveText(hint, position, path)));
    const value = () => scopeAt(this.data, position)?.[node.name];
    const set = (v) => this.#set(position, node.name, v, path);
    const control = this.#control(node, id, value, set, position, path);
    if (control.el) wrap.append(control.el);
    wrap.append(el('div', { class: 'errors', 'aria-live': 'polite' }));
    return { node, el: wrap, position, path, sync: control.sync };
  }

  #control(node, id, value, set, position, path) {
    const appearance = String(node.row.appearance || '');
    switch (node.type) {
      case 'note':
        return {};
      case 'select_one':
      case 'select_multiple':
        return this.#choices(node, id, value, set, appearance, position, path);
      case 'acknowledge': {
        const box = el('input', { id, type: 'checkbox', onchange: (e) => set(e.target.checked ? 'OK' : '') });
        return { el: el('label', { class: 'choice' }, box, el('span', { text: 'OK' })), sync: () => { box.checked = value() === 'OK'; } };
      }
      case 'geopoint':
        return this.#geopoint(id, value, set);
      case 'geotrace': case 'geoshape':
        return geoControl(this, node.type, id, value, set);
      case 'image':
        return this.#photo(id, value, set);
      case 'osm':
        return this.#osm(node, id, value, set);
      case 'audio': case 'video': case 'file':
        return this.#file(node.type, id, value, set);
      case 'barcode': {
        const typed = this.#input(node, id, value, set, appearance);
        if (!canScan()) return typed;
        const scan = el('button', { type: 'button', class: 'secondary', text: this.t('app.scan'),
          onclick: async () => { const code = await scanCode(this.t); if (code) set(code); } });
        return { el: el('div', { class: 'scan-box' }, typed.el, scan), sync: typed.sync };
      }
      case 'range':
        return this.#range(node, id, value, set);
      case 'rank':
        return this.#rank(node, id, value, set, position);
      case 'integer': {
        const repeat = pickedRepeat(this.form, node);
        return repeat ? this.#entries(id, value, set, repeat, position) : this.#input(node, id, value, set, appearance);
      }
      default:
        return this.#input(node, id, value, set, appearance);
    }
  }

  /**
   * An integer that numbers one entry of `repeat` ("which member was helped"): the entries
   * offered by their names (the repeat's first text question), "Member N" while unnamed. The
   * answer stays the number; the list is redrawn only when a name or the count changes.
   */
  #entries(id, value, set, repeat, position) {
    const box = el('div', { class: 'choices', role: 'radiogroup', id });
    let drawn = null;
    return {
      el: box,
      sync: () => {
        const entries = scopeAt(this.data, position.slice(0, repeat.repeats.length))?.[repeat.name] || [];
        const names = entries.map((entry, i) => entryName(repeat, entry)
          || this.t('form.repeat_entry', { n: i + 1 }));
        const key = names.join('\n');
        if (key !== drawn) {
          drawn = key;
          box.replaceChildren(...names.map((name, i) => el('label', { class: 'choice' },
            el('input', { type: 'radio', name: id, value: String(i + 1), onchange: () => set(i + 1) }),
            el('span', { text: name }))));
        }
        const chosen = String(value() ?? '');
        for (const input of box.querySelectorAll('input')) input.checked = input.value === chosen;
      },
    };
  }

  /**
   * A slider over the range's steps, start at its left (ODK lets end be below start). A slider
   * always shows some value, so the question stays unanswered, and says so, until the volunteer
   * moves or taps it; the clear button makes it unanswered again.
   */
  #range(node, id, value, set) {
    const bounds = rangeParameters(node.row.parameters);
    if (typeof bounds === 'string') return this.#input(node, id, value, set, ''); // refused at import
    const { start, end, step } = bounds;
    const sign = end < start ? -1 : 1;
    // The slider counts steps, so that they are counted from start as ODK's are, not from min.
    const count = Math.floor(Math.abs(end - start) / step + 1e-9);
    // toPrecision drops binary noise: 0.1 * 3 is 0.30000000000000004.
    const at = (i) => Number((start + sign * i * step).toPrecision(12));
    const indexOf = (v) => Math.round((v - start) / (sign * step));
    const slider = el('input', { id, type: 'range', min: '0', max: String(count), step: '1', value: '0' });
    const shown = el('output', { for: id, class: 'range-value' });
    const clear = el('button', { type: 'button', class: 'link range-clear', text: this.t('form.range_clear') });
    const box = el('div', { class: 'range-box' },
      el('div', { class: 'range-row' }, slider, shown),
      el('div', { class: 'range-ends', 'aria-hidden': 'true' },
        el('span', { text: String(start) }), el('span', { text: String(end) })),
      clear);
    const answered = () => typeof value() === 'number';
    const show = () => {
      const has = answered();
      const words = has ? String(value()) : this.t('form.range_unanswered');
      box.classList.toggle('unanswered', !has);
      shown.textContent = words;
      slider.setAttribute('aria-valuetext', words);
      clear.hidden = !has;
    };
    const choose = () => set(at(Number(slider.value)));
    slider.addEventListener('input', () => {
      shown.textContent = String(at(Number(slider.value)));
    });
    slider.addEventListener('change', choose);
    // A tap on the thumb where it already stands fires no change, yet is the volunteer's answer.
    slider.addEventListener('click', () => { if (!answered()) choose(); });
    clear.addEventListener('click', () => { set(''); slider.focus(); });
    return {
      el: box,
      sync: () => {
        if (answered()) slider.value = String(Math.min(count, Math.max(0, indexOf(value()))));
        else if (document.activeElement !== slider) slider.value = '0';
        show();
      },
    };
  }

  /**
   * A rank: the offered choices as a numbered list, each with buttons to move it up or down
   * (never drag alone: big targets, usable with a screen reader, which hears the new place). It
   * stays unanswered, and says so, until the volunteer moves one or keeps the order shown;
   * the clear button makes it unanswered again. Focus follows the moved choice.
   */
  #rank(node, id, value, set, position) {
    const list = el('ol', { class: 'rank-list', id, 'aria-label': this.form.label(node, this.lang) });
    const state = el('p', { class: 'hint rank-state', 'aria-live': 'polite' });
    const keep = el('button', { type: 'button', class: 'secondary rank-confirm', text: this.t('form.rank_confirm') });
    const clear = el('button', { type: 'button', class: 'link rank-clear', text: this.t('form.rank_clear') });
    const box = el('div', { class: 'rank-box' }, list, state, el('div', { class: 'rank-actions' }, keep, clear));
    const words = (c) => fill(this.form.text(c, 'label', this.lang) || c.name, this.form, this.data, position);
    const offered = () => this.rules.allowedChoices(node, this.data, position);
    const order = () => shownOrder(offered().map((c) => c.name), value());
    let drawn = null;
    let focusAfter = null; // [choice name, 'up' | 'down'] to focus once redrawn
    const move = (from, to) => {
      const now = order();
      const next = moved(now, from, to);
      const choice = offered().find((c) => c.name === now[from]);
      focusAfter = [now[from], to < from ? 'up' : 'down'];
      set(next);
      state.textContent = this.t('form.rank_moved', { label: words(choice), n: next.indexOf(now[from]) + 1, count: next.length });
    };
    keep.addEventListener('click', () => set(order()));
    clear.addEventListener('click', () => { set(''); state.textContent = this.t('form.rank_unanswered'); });
    const draw = (names) => {
      const byName = new Map(offered().map((c) => [c.name, c]));
      list.replaceChildren(...names.map((name, i) => {
        const c = byName.get(name);
        const label = words(c);
        const up = el('button', { type: 'button', class: 'secondary rank-up', 'data-move': 'up', text: '▲',
          'aria-label': this.t('form.rank_up', { label }), disabled: i === 0, onclick: () => move(i, i - 1) });
        const down = el('button', { type: 'button', class: 'secondary rank-down', 'data-move': 'down', text: '▼',
          'aria-label': this.t('form.rank_down', { label }), disabled: i === names.length - 1, onclick: () => move(i, i + 1) });
        const item = el('li', { class: 'rank-item', 'data-choice': name },
          el('span', { class: 'rank-number', 'aria-hidden': 'true', text: `${i + 1}.` }),
          el('span', { class: 'rank-label', text: label }));
        const media = this.#labelMedia(c);
        if (media) item.append(media);
        item.append(up, down);
        return item;
      }));
    };
    return {
      el: box,
      sync: () => {
        const names = order();
        const byName = new Map(offered().map((c) => [c.name, c]));
        // Labels may name answers (${...}): a changed word is redrawn like a changed order.
        const key = [...names, ...names.map((n) => words(byName.get(n)))].join('\n');
        if (key !== drawn) {
          drawn = key;
          draw(names);
        }
        if (focusAfter) {
          const [name, way] = focusAfter;
          focusAfter = null;
          const item = list.querySelector(`[data-choice="${CSS.escape(name)}"]`);
          const button = item?.querySelector(`[data-move="${way}"]:not([disabled])`) || item?.querySelector('button:not([disabled])');
          button?.focus();
        }
        // An answer a filter has since lengthened stays until she keeps the order now shown.
        const standing = rankState(offered().map((c) => c.name), value());
        const answered = standing !== 'unanswered';
        box.classList.toggle('unanswered', !answered);
        keep.hidden = standing === 'whole';
        clear.hidden = !answered;
        if (!answered && !state.textContent) state.textContent = this.t('form.rank_unanswered');
        if (answered && state.textContent === this.t('form.rank_unanswered')) state.textContent = '';
      },
    };
  }

  #input(node, id, value, set, appearance) {
    const types = { date: 'date', time: 'time', datetime: 'datetime-local' };
    const numeric = node.type === 'integer' || node.type === 'decimal';
    const input = appearance.includes('multiline')
      ? el('textarea', { id, rows: 3 })
      : el('input', { id, type: types[node.type] || 'text', inputmode: inputMode(node), autocomplete: 'off' });
    if (/^(yes|true)/i.test(String(node.row.read_only || ''))) input.readOnly = true;
    if (!numeric && !types[node.type]) input.maxLength = MAX_TEXT_LENGTH; // the checker's limit
    const parse = (raw) => {
      const text = raw.trim();
      if (!numeric || text === '') return node.type === 'text' ? raw : text;
      const n = Number(text.replace(',', '.'));
      if (node.type === 'integer') return /^-?\d+$/.test(text) ? n : text; // a bad entry stays visible, flagged
      return Number.isFinite(n) ? n : text;
    };
    // 'change', not 'input': the form settles when a person finishes an answer, not per key.
    input.addEventListener('change', () => set(parse(input.value)));
    return { el: input, sync: () => { if (document.activeElement !== input) input.value = value() ?? ''; } };
  }

  #choices(node, id, value, set, appearance, position, path) {
    const multiple = node.type === 'select_multiple';
    const choices = this.form.choiceList(node);
    const words = (c) => this.#liveText(this.form.text(c, 'label', this.lang) || c.name, position, path);
    const filtered = !!String(node.row.choice_filter || '').trim();
    // A cascading select shows only the choices its filter offers for the answers so far.
    const offer = (elements) => {
      if (!filtered) return;
      const allowed = new Set(this.rules.allowedChoices(node, this.data, position).map((c) => c.name));
      elements.forEach((e, i) => { e.hidden = !allowed.has(choices[i].name); });
    };
    if (!multiple && appearance.includes('minimal')) {
      const select = el('select', { id, onchange: (e) => set(e.target.value) },
        el('option', { value: '', text: '—' }),
        ...choices.map((c) => el('option', { value: c.name }, words(c))));
      const options = [...select.options].slice(1);
      return { el: select, sync: () => { offer(options); select.value = value() ?? ''; } };
    }
    if (choices.length > LONG_LIST) return this.#longChoices(node, id, value, set, choices, position);
    const box = el('div', { class: 'choices', role: multiple ? 'group' : 'radiogroup', id });
    const labels = [];
    const inputs = choices.map((c) => {
      const input = el('input', { type: multiple ? 'checkbox' : 'radio', name: id, value: c.name });
      input.addEventListener('change', () => {
        if (!multiple) { set(c.name); return; }
        const chosen = new Set(value() || []);
        if (input.checked) chosen.add(c.name); else chosen.delete(c.name);
        set(choices.map((x) => x.name).filter((n) => chosen.has(n)));
      });
      const label = el('label', { class: 'choice' }, input, el('span', {}, words(c)));
      const media = this.#labelMedia(c);
      if (media) label.append(media);
      labels.push(label);
      box.append(label);
      return input;
    });
    return {
      el: box,
      sync: () => {
        offer(labels);
        const v = value();
        for (const input of inputs) input.checked = multiple ? (v || []).includes(input.value) : v === input.value;
      },
    };
  }

  /**
   * A long list as a search box over it: the chosen choices, then the first LONG_LIST_SHOWN
   * that match what is typed (case, tone marks and đ folded) among those the choice_filter
   * offers. Only those few are drawn; a redraw happens on a keystroke or when the answer or the
   * offered choices change, never on an unrelated answer.
   */
  #longChoices(node, id, value, set, choices, position) {
    const multiple = node.type === 'select_multiple';
    const filtered = !!String(node.row.choice_filter || '').trim();
    const search = el('input', { id, type: 'search', autocomplete: 'off', 'data-long-list': '1',
      placeholder: this.t('form.search_choices', { count: choices.length }) });
    const list = el('div', { class: 'choices', role: multiple ? 'group' : 'radiogroup',
      'aria-label': this.form.label(node, this.lang) });
    const note = el('p', { class: 'hint long-list-note', 'aria-live': 'polite' });
    const words = (c) => fill(this.form.text(c, 'label', this.lang) || c.name, this.form, this.data, position);
    let folded = null; // each choice's words, folded once, at the first search
    let offered = choices;
    let drawn = null;
    const chosenNames = () => {
      const v = value();
      return new Set(multiple ? (Array.isArray(v) ? v : []) : (v === undefined || v === null ? [] : [String(v)]));
    };
    const pick = (c, checked) => {
      if (!multiple) { set(c.name); return; }
      const chosen = chosenNames();
      if (checked) chosen.add(c.name); else chosen.delete(c.name);
      set(choices.map((x) => x.name).filter((n) => chosen.has(n)));
    };
    const draw = () => {
      const chosen = chosenNames();
      const query = fold(search.value);
      if (query && !folded) folded = new Map(choices.map((c) => [c, fold(words(c))]));
      const shown = choices.filter((c) => chosen.has(c.name));
      let more = 0;
      for (const c of offered) {
        if (chosen.has(c.name) || (query && !folded.get(c).includes(query))) continue;
        if (shown.length - chosen.size < LONG_LIST_SHOWN) shown.push(c); else more += 1;
      }
      const key = `${query}\n${[...chosen].join('\n')}\n${shown.length}\n${more}`;
      if (key === drawn) return;
      drawn = key;
      list.replaceChildren(...shown.map((c) => {
        const input = el('input', { type: multiple ? 'checkbox' : 'radio', name: `${id}-choice`, value: c.name });
        input.checked = chosen.has(c.name);
        input.addEventListener('change', () => pick(c, input.checked));
        return el('label', { class: 'choice' }, input, el('span', { text: words(c) }));
      }));
      note.textContent = more
        ? this.t('form.more_choices', { count: more })
        : (shown.length ? '' : this.t('form.no_choice_matches'));
    };
    search.addEventListener('input', draw);
    return {
      el: el('div', { class: 'long-list' }, search, list, note),
      sync: () => {
        if (filtered) {
          const allowed = this.rules.allowedChoices(node, this.data, position);
          if (allowed !== offered && (allowed.length !== offered.length || allowed.some((c, i) => c !== offered[i]))) {
            offered = allowed;
            drawn = null;
          }
        }
        draw();
      },
    };
  }

  #geopoint(id, value, set) {
    const out = el('output', { class: 'gps' });
    const button = el('button', { id, type: 'button', class: 'secondary', text: this.t('form.gps_get') });
    button.addEventListener('click', () => {
      if (!navigator.geolocation) { out.textContent = this.t('form.gps_unavailable'); return; }
      out.textContent = this.t('form.gps_waiting');
      navigator.geolocation.getCurrentPosition(
        (p) => { if (button.isConnected) set(pointOf(p.coords)); }, // as the line's points
        () => { out.textContent = this.t('form.gps_failed'); },
        { enableHighAccuracy: true, timeout: 30000, maximumAge: 60000 });
    });
    return {
      el: el('div', { class: 'gps-box' }, button, out),
      sync: () => {
        const v = value();
        if (v) {
          const accuracy = String(v).split(' ')[3];
          out.textContent = this.t('form.gps_accuracy', { meters: accuracy ?? '?' });
          button.textContent = this.t('form.gps_retry');
        }
      },
    };
  }

  #photo(id, value, set) {
    const input = el('input', { id, type: 'file', accept: 'image/*', capture: 'environment' });
    const preview = el('img', { class: 'photo', alt: '', hidden: true });
    const note = el('output', { class: 'photo-note' });
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (!file) return;
      note.textContent = this.t('form.photo_saving');
      try { set(await storePhoto(file)); } catch { note.textContent = this.t('form.photo_failed'); }
    });
    let shown = null;
    return {
      el: el('div', { class: 'photo-box' }, input, note, preview),
      sync: async () => {
        const sha = value();
        if (!sha || sha === shown) return;
        shown = sha;
        const url = await photoUrl(sha);
        if (url) { preview.src = url; preview.hidden = false; note.textContent = this.t('form.photo_saved'); }
      },
    };
  }

  /**
   * OpenMapKit's question: a browser cannot edit OpenStreetMap itself, so the volunteer chooses
   * the .osm file a mapping app saved, and its text is the answer (bounded; see isOsm). The
   * tags the form asks for are listed so the volunteer knows what to set in that app.
   */
  #osm(node, id, value, set) {
    const input = el('input', { id, type: 'file', accept: '.osm,.xml,application/xml,text/xml' });
    const tags = this.form.osmTags(node).map((t) => this.form.text(t, 'label', this.lang) || t.name);
    const help = el('p', { class: 'hint', text: this.t('form.osm_help') });
    const wanted = tags.length ? el('p', { class: 'hint osm-tags', text: this.t('form.osm_tags', { tags: tags.join(', ') }) }) : null;
    const note = el('output', { class: 'photo-note', 'aria-live': 'polite' });
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (!file) return;
      // Refused before it is read whole: a file four bytes a character longer is no .osm here.
      const text = file.size <= MAX_OSM_LENGTH * 4 ? await file.text().catch(() => '') : '';
      const parsed = text && new DOMParser().parseFromString(text, 'application/xml');
      const wellFormed = parsed && !parsed.querySelector('parsererror') && parsed.documentElement.nodeName === 'osm';
      if (!wellFormed || !isOsm(text)) {
        note.textContent = this.t('form.osm_failed');
        input.value = '';
        return;
      }
      set(text);
    });
    return {
      el: el('div', { class: 'osm-box' }, help, wanted, input, note),
      sync: () => {
        const v = value();
        if (typeof v === 'string' && v) note.textContent = this.t('form.osm_saved', { chars: [...v].length });
      },
    };
  }

  /**
   * Where a label's file is read from: the files kept on the phone for the form, by hash. The
   * Forms page's preview, which keeps none, sets its own (name, entry) => Promise<url | null>.
   */
  mediaUrl = (name, entry) => photoUrl(entry.sha256);

  /**
   * The picture, sound or film a label shows (XLSForm's image, audio and video columns), in
   * the chosen language, from the files kept on the phone for the form; null when it has none.
   * A file the phone does not hold (not fetched yet, or published without) is left out.
   */
  #labelMedia(row) {
    const files = this.form.definition.media || {};
    const shown = ['image', 'audio', 'video']
      .map((kind) => [kind, this.form.text(row, kind, this.lang)])
      .filter(([, name]) => name && files[name]);
    if (!shown.length) return null;
    const big = this.form.text(row, 'big-image', this.lang);
    const box = el('span', { class: 'label-media' });
    for (const [kind, name] of shown) {
      const tag = kind === 'image' ? 'img' : kind;
      const media = el(tag, { 'data-media': name, hidden: true, ...(tag === 'img' ? { alt: '' } : { controls: true, preload: 'metadata' }) });
      const holder = tag === 'img' && big && files[big] ? this.#zoomable(media, big, files[big]) : media;
      holder.hidden = true;
      box.append(holder);
      this.mediaUrl(name, files[name]).then((url) => {
        if (url) { media.src = url; media.hidden = false; holder.hidden = false; }
      });
    }
    return box;
  }

  /** ODK's big-image: a tap on the label's picture opens the bigger one over the form. */
  #zoomable(img, name, entry) {
    const button = el('button', { type: 'button', class: 'media-zoom', 'data-big-media': name, 'aria-label': this.t('form.big_image') }, img);
    button.addEventListener('click', async (event) => {
      event.preventDefault(); // inside a choice's label: the tap opens the picture, not the choice
      const url = await this.mediaUrl(name, entry);
      if (!url) return;
      const close = el('button', { type: 'button', class: 'secondary', text: this.t('app.close') });
      const dialog = el('dialog', { class: 'media-big', 'aria-label': this.t('form.big_image') },
        el('img', { src: url, alt: '', 'data-media': name }), close);
      close.addEventListener('click', () => dialog.close());
      dialog.addEventListener('close', () => { dialog.remove(); button.focus(); });
      document.body.append(dialog);
      dialog.showModal();
    });
    return button;
  }

  /** A recording, a film or any file, as the phone's picker gives it, kept as it is. */
  #file(kind, id, value, set) {
    const accept = { audio: 'audio/*', video: 'video/*' }[kind];
    const input = el('input', { id, type: 'file', ...(accept ? { accept, capture: '' } : {}) });
    const note = el('output', { class: 'photo-note' });
    const player = kind === 'file' ? null : el(kind, { class: 'file-player', controls: true, hidden: true });
    input.addEventListener('change', async () => {
      const file = input.files?.[0];
      if (!file) return;
      note.textContent = this.t('form.file_saving');
      try {
        set(await storeFile(file, kind));
      } catch (error) {
        note.textContent = error instanceof FileTooLarge
          ? this.t('form.file_too_large', { size: formatSize(error.size), max: formatSize(error.max) })
          : this.t('form.file_failed');
      }
      input.value = '';
    });
    let shown = null;
    return {
      el: el('div', { class: 'photo-box' }, input, note, ...(player ? [player] : [])),
      sync: async () => {
        const sha = value();
        if (!sha || sha === shown) return;
        shown = sha;
        const found = await stored(sha);
        if (!found) return;
        note.textContent = this.t('form.file_saved', { name: found.name || '', size: formatSize(found.size ?? found.blob.size) });
        if (player) { player.src = URL.createObjectURL(found.blob); player.hidden = false; }
      },
    };
  }

  /** Put each error under its question (only `paths` when given); returns the first. */
  showErrors(errors, paths = null) {
    let first = null;
    for (const item of this.items) {
      const box = item.el.querySelector(':scope > .errors');
      if (!box) continue;
      if (paths && !paths.has(item.path)) continue;
      const list = errors[item.path] || [];
      box.replaceChildren(...list.map((e) => el('p', { class: 'error', text: e[this.lang] || e.vi })));
      item.el.classList.toggle('invalid', list.length > 0);
      if (list.length && !first) first = item.el;
    }
    return first;
  }
}
