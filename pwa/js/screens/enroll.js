// The first screen on a new phone: the code from the QR link, or typed.
import { el } from '../dom.js';
import { t } from '../i18n.js';
import { main, register, state } from '../nav.js';

function show(error = null) {
  const onCode = state.actions.enroll;
  const input = el('input', { id: 'enroll-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
  const submit = () => onCode(input.value);
  main().replaceChildren(...[el('section', { class: 'card' },
    el('h1', { text: t('app.enroll_title') }),
    el('p', { text: t('app.enroll_help') }),
    error ? el('p', { class: 'error', role: 'alert', id: 'enroll-error', text: error }) : null,
    el('label', { for: 'enroll-code', text: t('app.enroll_code') }), input,
    el('button', { type: 'button', class: 'primary', id: 'enroll-button', text: t('app.enroll_button'), onclick: submit }))].filter(Boolean));
}

register('enroll', show);
