// A line (geotrace) or a shape (geoshape) on the phone: the points taken, numbered with their
// accuracy, each removable; "add my location" and a point typed by hand; the length or area
// worked out by the form language's own distance() and area(); a small sketch of the points.
// No map library: the collector's first visit must stay light (bench/form_scale.py).
import { el } from './dom.js';
import { evaluate } from './expr.js';
import { answerOf, MAX_GEO_POINTS, pointTexts, readPoint } from './geo.js';

const SVG = 'http://www.w3.org/2000/svg';
const SKETCH = { width: 240, height: 160, margin: 12 };

/** A geolocation fix as ODK writes a point: "lat lon alt acc". */
export function pointOf(coords) {
  return `${coords.latitude.toFixed(6)} ${coords.longitude.toFixed(6)} ${Math.round(coords.altitude || 0)} ${Math.round(coords.accuracy)}`;
}

/** What the engine's distance() or area() gives the answer (metres, square metres). */
function measure(kind, answer) {
  const fn = kind === 'geoshape' ? 'area' : 'distance';
  try {
    return evaluate(`${fn}(\${g})`, { data: { g: answer }, fields: { g: [] } });
  } catch {
    return NaN;
  }
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** The points drawn to scale (longitude shrunk by the latitude's cosine), north up. */
function sketch(kind, points, label) {
  const box = svg('svg', { class: 'geo-sketch', viewBox: `0 0 ${SKETCH.width} ${SKETCH.height}`, role: 'img', 'aria-label': label });
  if (!points.length) return box;
  const squeeze = Math.cos((points.reduce((s, p) => s + p[0], 0) / points.length) * Math.PI / 180);
  const xs = points.map((p) => p[1] * squeeze);
  const ys = points.map((p) => -p[0]);
  const [minX, minY] = [Math.min(...xs), Math.min(...ys)];
  const span = Math.max(Math.max(...xs) - minX, Math.max(...ys) - minY) || 1;
  const scale = Math.min(SKETCH.width, SKETCH.height) - 2 * SKETCH.margin;
  const at = xs.map((x, i) => [SKETCH.margin + ((x - minX) / span) * scale, SKETCH.margin + ((ys[i] - minY) / span) * scale]);
  const line = at.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  box.append(svg(kind === 'geoshape' ? 'polygon' : 'polyline', { points: line, class: 'geo-line' }));
  at.forEach(([x, y]) => box.append(svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 4, class: 'geo-dot' })));
  return box;
}

/**
 * The control of one geotrace or geoshape question.
 * @param {{t: Function, lang: string}} view  the FormView (its words and language)
 * @returns {{el: HTMLElement, sync: Function}}
 */
export function geoControl(view, kind, id, value, set) {
  const { t } = view;
  const number = (x, digits) => x.toLocaleString(view.lang, { maximumFractionDigits: digits });
  const list = el('ol', { class: 'geo-points' });
  const total = el('p', { class: 'geo-total' });
  const status = el('output', { class: 'gps', 'aria-live': 'polite' });
  const picture = el('div', { class: 'geo-picture' });
  const texts = () => pointTexts(kind, value());
  const add = (point) => {
    const now = texts();
    if (now.length >= MAX_GEO_POINTS - (kind === 'geoshape' ? 1 : 0)) {
      status.textContent = t('form.geo_full');
      return false;
    }
    set(answerOf(kind, [...now, point]));
    status.textContent = t('form.geo_added', { n: now.length + 1 });
    return true;
  };

  const here = el('button', { id, type: 'button', class: 'secondary geo-here', text: t('form.geo_add_here') });
  here.addEventListener('click', () => {
    if (!navigator.geolocation) { status.textContent = t('form.gps_unavailable'); return; }
    status.textContent = t('form.gps_waiting');
    here.disabled = true;
    // A fresh fix for each point: a walk round a plot must not repeat the last one.
    navigator.geolocation.getCurrentPosition(
      // A fix that comes after the visit was left or finalized is dropped: adding it would
      // save an old copy of the record over what came since.
      (p) => { here.disabled = false; if (here.isConnected) add(pointOf(p.coords)); },
      () => { here.disabled = false; status.textContent = t('form.gps_failed'); },
      { enableHighAccuracy: true, timeout: 30000, maximumAge: 0 });
  });

  const lat = el('input', { id: `${id}-lat`, inputmode: 'decimal', autocomplete: 'off', class: 'geo-lat' });
  const lon = el('input', { id: `${id}-lon`, inputmode: 'decimal', autocomplete: 'off', class: 'geo-lon' });
  const typed = el('button', { type: 'button', class: 'secondary geo-typed', text: t('form.geo_add_typed') });
  typed.addEventListener('click', () => {
    // A comma is the Vietnamese decimal mark; each number has its own box, so it is one.
    const [a, b] = [lat.value, lon.value].map((v) => v.trim().replace(',', '.'));
    const point = readPoint(`${a} ${b}`);
    if (!point) { status.textContent = t('form.geo_bad_point'); return; }
    if (add(`${a} ${b} 0 0`)) { lat.value = ''; lon.value = ''; }
  });
  const byHand = el('details', { class: 'geo-by-hand' },
    el('summary', { text: t('form.geo_type_point') }),
    el('label', { for: lat.id, text: t('form.geo_lat') }), lat,
    el('label', { for: lon.id, text: t('form.geo_lon') }), lon, typed);

  let drawn = null;
  return {
    el: el('div', { class: `geo-box geo-${kind}` },
      kind === 'geoshape' ? el('p', { class: 'hint', text: t('form.geo_shape_closes') }) : null,
      list, total, picture, here, status, byHand),
    sync: () => {
      const answer = String(value() || '');
      if (answer === drawn) return;
      drawn = answer;
      const now = texts();
      const points = now.map(readPoint);
      list.replaceChildren(...now.map((text, i) => {
        const p = points[i];
        const where = p ? `${p[0]}, ${p[1]}` : text;
        // ODK Collect writes a point typed by hand with accuracy 0, as this does: no fix is exact.
        const accuracy = !p || p[3] === null ? ''
          : ` · ${p[3] === 0 ? t('form.geo_typed') : t('form.geo_accuracy', { meters: number(p[3], 0) })}`;
        const remove = el('button', { type: 'button', class: 'link geo-remove', text: t('form.geo_remove'),
          'aria-label': t('form.geo_remove_point', { n: i + 1 }),
          onclick: () => {
            const left = texts();
            left.splice(i, 1);
            set(answerOf(kind, left));
            status.textContent = t('form.geo_removed', { n: i + 1 });
          } });
        return el('li', { class: 'geo-point' }, el('span', { text: `${t('form.geo_point', { n: i + 1 })}: ${where}${accuracy}` }), remove);
      }));
      if (!now.length) list.append(el('li', { class: 'geo-empty', text: t('form.geo_none') }));
      const size = measure(kind, answer);
      const enough = now.length >= (kind === 'geoshape' ? 3 : 2) && Number.isFinite(size);
      total.textContent = !enough ? ''
        : t(kind === 'geoshape' ? 'form.geo_area' : 'form.geo_length', { size: number(size, kind === 'geoshape' ? 0 : 1) });
      const shown = points.filter(Boolean);
      picture.replaceChildren(shown.length > 1 ? sketch(kind, shown, t('form.geo_sketch', { n: shown.length })) : '');
    },
  };
}
