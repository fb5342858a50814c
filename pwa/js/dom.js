// The one DOM helper: el('button', {class, text, onclick, ...attrs}, ...children).
/** @returns {HTMLElement} */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** A short message in the top bar, under the status; errors stay longer. */
export function toast(text, kind = 'info') {
  const box = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
  const shelf = document.getElementById('toasts');
  shelf?.append(box);
  // They take room in the header: the three newest at most.
  while (shelf && shelf.children.length > 3) shelf.firstElementChild.remove();
  setTimeout(() => box.remove(), kind === 'error' ? 10000 : 5000);
}

/** The phone's local date as YYYY-MM-DD (what today() means during a visit). */
export function localDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
