// Key checker view (#key): a pasted product key → valid or not (a typo's
// suspect group of five named), and what it is for: a GVLK with its product
// and commands, a KMS host key (CSVLK), or a product key that will never
// activate against a KMS host. The classification is the lookup module's
// `check_key(key, host, port)` (the core's pkey decoder and typo finder, in
// wasm), which answers JSON:
//   {kind: "gvlk"|"gvlk_group"|"csvlk"|"not_kms"|"older_gvlk"|"older_unknown"|"invalid",
//    valid, suspect_groups: [1–5…], group_id, csvlk_name, product: {a lookup product} | null}
// Its English `message` is not shown: the verdict is the page's, by kind.
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

/** The GVLK's product card, with its commands for the host typed in the lookup. */
const productOf = (p) => (p ? h('ul', { class: 'products' }, productCard(p, { selected: true })) : null);

/** The core's kinds → the page's five verdicts. */
const VIEW = { gvlk: 'gvlk', gvlk_group: 'gvlk', csvlk: 'csvlk', not_kms: 'other', older_gvlk: 'legacy', older_unknown: 'legacy', invalid: 'invalid' };

function render() {
  const out = $('key-out');
  const text = $('key-input').value;
  if (!text.trim()) { out.replaceChildren(); delete out.dataset.kind; return; }
  if (typeof core.check_key !== 'function') {
    out.dataset.kind = 'unavailable';
    out.replaceChildren(verdict(t('key.unavailable'), 'error', 'unavailable'));
    return;
  }
  const { host, port } = target();
  const r = JSON.parse(core.check_key(text, host, port));
  const kind = VIEW[r.kind] ?? 'invalid';
  out.dataset.kind = kind;
  const gid = r.group_id ?? null;
  const group = gid === null ? null : h('p', { class: 'meta', dataset: { field: 'group' } }, t('key.group', { group: String(gid) }));
  const p = r.product ?? null;
  switch (kind) {
    case 'gvlk':
      out.replaceChildren(
        verdict(p ? t('key.gvlk', { name: p.name }) : t('key.gvlk.unknown'), 'ok', kind),
        productOf(p), group);
      break;
    case 'csvlk':
      out.replaceChildren(verdict(t('key.csvlk'), 'note', kind),
        r.csvlk_name ? h('p', {}, t('key.csvlk.of', { name: r.csvlk_name })) : null, group);
      break;
    case 'other':
      out.replaceChildren(verdict(t('key.other'), 'note', kind),
        h('p', {}, h('a', { href: '#lookup' }, t('key.other.hint'))), group);
      break;
    case 'legacy':
      out.replaceChildren(verdict(p ? t('key.legacy.of', { name: p.name }) : t('key.legacy'), 'note', kind), productOf(p));
      break;
    default: { // invalid
      const n = (r.suspect_groups ?? [])[0] ?? null;
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
