// Small DOM helpers: every string goes in as text, never as HTML.
import { t } from './i18n.js';

/** Creates an element: h('dd', {class: 'x', dataset: {field: 'epid'}}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Announces a short message to screen readers. */
export function announce(text) {
  const s = $('copy-status');
  s.textContent = '';
  // A fresh text node after clearing makes live regions re-read it.
  setTimeout(() => { s.textContent = text; }, 10);
}

/** Copies text to the clipboard (with a fallback for older browsers). */
export async function copyText(text, what) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' }, text);
    document.body.append(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
  }
  document.body.dataset.copied = text;
  announce(t(ok ? 'copy.done' : 'copy.failed', { what }));
  return ok;
}

/** A copy button for the text `text`, labelled for screen readers. */
export function copyButton(text, what, label = t('copy')) {
  return h('button', {
    type: 'button', class: 'copy', 'aria-label': t('copy.what', { what }),
    onclick: async (ev) => {
      const b = ev.currentTarget;
      if (await copyText(text, what)) {
        b.textContent = t('copied');
        setTimeout(() => { b.textContent = label; }, 1500);
      }
    },
  }, label);
}

/** Calls fn after `ms` of quiet. */
export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
