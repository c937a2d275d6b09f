// Key checker view (#key): a pasted product key → valid or not (a typo's
// suspect group of five named), and what it is for: a GVLK with its product
// and commands, a KMS host key (CSVLK), or a product key that will never
// activate against a KMS host. The classification is the lookup module's
// `check_key` (the core's pkey decoder, in wasm), which answers JSON:
//   {valid, suspect_group (1–5) | null, kind: "gvlk"|"csvlk"|"other"|"invalid"|"legacy",
//    sku: {id, name} | null, group: int | null}
// This file only lays it out, in the page's language.
import * as core from './pkg/kmsedge.js';
import { h, $ } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { productCard, target } from './lookup.js';

/** The key's 25 characters without dashes or spaces, upper case. */
const compact = (text) => text.replace(/[\s-]/g, '').toUpperCase();

function verdict(text, cls, kind) {
  return h('p', { class: cls, dataset: { field: 'verdict', kind } }, text);
}

/** The product of a GVLK with its commands for the host typed in the lookup. */
function productOf(sku) {
  const { host, port } = target();
  const p = JSON.parse(core.product(sku.id, host, port));
  return p.error ? null : h('ul', { class: 'products' }, productCard(p, { selected: true }));
}

function render() {
  const out = $('key-out');
  const text = $('key-input').value;
  if (!text.trim()) { out.replaceChildren(); delete out.dataset.kind; return; }
  if (typeof core.check_key !== 'function') {
    out.dataset.kind = 'unavailable';
    out.replaceChildren(verdict(t('key.unavailable'), 'error', 'unavailable'));
    return;
  }
  const r = JSON.parse(core.check_key(text));
  out.dataset.kind = r.kind;
  const group = r.group === null || r.group === undefined ? null : h('p', { class: 'meta', dataset: { field: 'group' } }, t('key.group', { group: String(r.group) }));
  switch (r.kind) {
    case 'gvlk':
      out.replaceChildren(
        verdict(r.sku ? t('key.gvlk', { name: r.sku.name }) : t('key.gvlk.unknown'), 'ok', r.kind),
        r.sku ? productOf(r.sku) : null, group);
      break;
    case 'csvlk':
      out.replaceChildren(verdict(t('key.csvlk'), 'note', r.kind),
        r.sku ? h('p', {}, t('key.csvlk.of', { name: r.sku.name })) : null, group);
      break;
    case 'other':
      out.replaceChildren(verdict(t('key.other'), 'note', r.kind),
        h('p', {}, h('a', { href: '#lookup' }, t('key.other.hint'))), group);
      break;
    case 'legacy':
      out.replaceChildren(verdict(r.sku ? t('key.legacy.of', { name: r.sku.name }) : t('key.legacy'), 'note', r.kind),
        r.sku ? productOf(r.sku) : null);
      break;
    default: { // invalid
      const n = r.suspect_group;
      const chars = n ? compact(text).slice((n - 1) * 5, n * 5) : '';
      out.replaceChildren(verdict(n ? t('key.invalid.group', { group: n, chars }) : t('key.invalid'), 'error', 'invalid'));
      if (n) out.firstChild.dataset.suspect = String(n);
    }
  }
}

export function setupKey() {
  // The check is a few microseconds of wasm: answer on every keystroke.
  $('key-input').addEventListener('input', render);
  onLanguage(render);
}
