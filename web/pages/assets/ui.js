// ui.js: small DOM helpers shared by the pages: building elements, dialogs
// (confirmation and show-once secrets), copying, dates, form errors and the
// organization chooser. No framework; text is always set as text, never HTML.

import { postJSON } from './api.js';

// h builds an element. attrs: class, text, on<Event> handlers, boolean and
// string attributes (false/null/undefined leave the attribute out). Children
// are nodes or strings; null and false are skipped.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let uid = 0;
export const nextID = (prefix) => `${prefix}-${++uid}`;

// ---- Dates ----

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  return iso ? dateFmt.format(new Date(iso)) : '';
}

export function formatDateTime(iso) {
  return iso ? fullFmt.format(new Date(iso)) : '';
}

export function relativeTime(iso) {
  if (!iso) return '';
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 0) return formatDate(iso);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 7 * 86400) {
    const days = Math.floor(seconds / 86400);
    return days === 1 ? 'yesterday' : `${days} days ago`;
  }
  return formatDate(iso);
}

// time is a <time> element showing a date (or a relative time) with the
// full date and time as its tooltip.
export function time(iso, { relative = false, empty = '—' } = {}) {
  if (!iso) return h('span', { class: 'muted', text: empty });
  return h('time', { datetime: iso, title: formatDateTime(iso), text: relative ? relativeTime(iso) : formatDate(iso) });
}

// ---- Live status ----

// announce shows a short message in the page's status region (read out by
// screen readers) and clears it after a while.
let announceTimer = 0;
export function announce(message, tone = 'ok') {
  const region = document.getElementById('page-status');
  if (!region) return;
  region.className = `alert toast alert-${tone}`;
  region.textContent = message;
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => { region.textContent = ''; }, 8000);
}

// ---- Dialogs ----

// openDialog shows a <dialog> modally. The browser keeps focus inside it and
// closes it on Escape; when it closes, focus goes back where it was.
export function openDialog(dialog) {
  const opener = document.activeElement;
  const restore = () => {
    dialog.removeEventListener('close', restore);
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  };
  dialog.addEventListener('close', restore);
  dialog.showModal();
}

// confirmDialog asks a yes/no question; it resolves true only for the
// confirming button.
export function confirmDialog({ title, body, confirm, danger = true }) {
  return new Promise((resolve) => {
    const titleID = nextID('confirm-title');
    const bodyID = nextID('confirm-body');
    let answer = false;
    const dialog = h('dialog', { 'aria-labelledby': titleID, 'aria-describedby': bodyID, class: 'confirm' },
      h('div', { class: 'dialog-body' },
        h('h2', { id: titleID, text: title }),
        h('p', { id: bodyID, text: body }),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn', autofocus: true, text: 'Cancel', onClick: () => dialog.close() }),
          h('button', {
            type: 'button', class: danger ? 'btn btn-danger-solid' : 'btn btn-primary', text: confirm,
            onClick: () => { answer = true; dialog.close(); },
          }))));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    openDialog(dialog);
  });
}

// copyText writes text to the clipboard; false when the browser refused.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    return false;
  }
}

// secretDialog shows secrets once: each item in a read-only field with its own
// Copy button. When the dialog closes it leaves the page, and with it the
// only copies of the secrets (the items are dropped too). It resolves when
// closed.
//   items: [{ label, value, multiline }]
export function secretDialog({ title, intro, items, note, details }) {
  return new Promise((resolve) => {
    const titleID = nextID('secret-title');
    const noteID = nextID('secret-note');
    const rows = items.map((item) => {
      const id = nextID('secret');
      const statusID = `${id}-status`;
      const field = item.multiline
        ? h('textarea', { id, class: 'snippet', readonly: true, rows: 10, spellcheck: 'false', 'aria-describedby': noteID })
        : h('input', { id, type: 'text', readonly: true, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': noteID });
      field.value = item.value;
      field.addEventListener('focus', () => field.select());
      const status = h('p', { id: statusID, class: 'copied', role: 'status', 'aria-live': 'polite' });
      const copy = h('button', {
        type: 'button', class: 'btn btn-primary', text: 'Copy', 'aria-describedby': statusID,
        'aria-label': `Copy ${item.label.toLowerCase()}`,
        onClick: async () => {
          if (await copyText(field.value)) {
            status.textContent = 'Copied to the clipboard.';
          } else {
            field.focus();
            field.select();
            status.textContent = 'Copying was blocked: the text is selected, press Ctrl+C (or ⌘C).';
          }
        },
      });
      return h('div', { class: 'field' },
        h('label', { for: id, text: item.label }),
        h('div', { class: 'secret-row' }, field, copy),
        status);
    });
    const dialog = h('dialog', { 'aria-labelledby': titleID, 'aria-describedby': noteID, class: 'secret-dialog' },
      h('div', { class: 'dialog-body' },
        h('h2', { id: titleID, text: title }),
        intro ? h('p', { text: intro }) : null,
        h('p', { id: noteID, class: 'once-note', text: note || 'Copy it now: it will not be shown again.' }),
        rows,
        details || null,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn', text: 'Done', onClick: () => dialog.close() }))));
    dialog.addEventListener('close', () => {
      // Drop every copy the page holds: the fields' values and the dialog.
      dialog.querySelectorAll('input, textarea').forEach((f) => { f.value = ''; });
      dialog.remove();
      items.length = 0;
      resolve();
    });
    document.body.append(dialog);
    openDialog(dialog);
    const firstCopy = dialog.querySelector('.secret-row .btn');
    if (firstCopy) firstCopy.focus();
  });
}

// ---- Forms ----

// clearErrors removes the errors shown in a form.
export function clearErrors(form) {
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.error-text').forEach((el) => { el.textContent = ''; });
  const alert = form.querySelector('.form-error');
  if (alert) alert.textContent = '';
}

// showError puts an error next to what caused it: under the field the server
// named (extensions.field, e.g. "name" or "input.name"; the form marks its
// fields with data-field and their error slots with data-error-for), or at
// the top of the form.
export function showError(form, err) {
  const field = err.field ? String(err.field).split('.').pop() : '';
  const slot = field && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  const input = field && form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (slot && input && !slot.closest('[hidden]')) {
    slot.textContent = err.message;
    input.setAttribute('aria-invalid', 'true');
    const target = input.matches('fieldset') ? input.querySelector('input') : input;
    if (target) target.focus();
    return;
  }
  const alert = form.querySelector('.form-error');
  if (alert) {
    alert.textContent = err.message;
    alert.focus();
  }
}

// busy disables a form's buttons while a request runs.
export function busy(form, on) {
  form.querySelectorAll('button').forEach((b) => { b.disabled = on; });
  form.setAttribute('aria-busy', on ? 'true' : 'false');
}

// ---- The organization chooser (sign-in, password reset, switching) ----

// renderChooser fills list with one button per organization; choosing one
// opens it (POST /login/organization) and goes where the server says.
export function renderChooser(list, organizations, onError) {
  list.textContent = '';
  for (const org of organizations) {
    list.append(h('li', {},
      h('button', {
        type: 'button', class: 'choice',
        onClick: async (ev) => {
          const button = ev.currentTarget;
          button.disabled = true;
          try {
            const res = await postJSON('/login/organization', { organizationId: org.id });
            window.location.assign(res.next || '/settings');
          } catch (err) {
            button.disabled = false;
            onError(err);
          }
        },
      },
      h('span', {}, h('strong', { text: org.name }), h('span', { class: 'muted small', text: org.slug })),
      h('span', { class: 'badge badge-role', text: org.role }))));
  }
}
