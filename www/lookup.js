// GVLK lookup: instant search over the catalogue (in wasm), results grouped
// by family, each with its GVLK and the commands for the host typed above.
import { search, product } from './pkg/kmsedge.js';
import { h, $, copyButton, debounce } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { translateError } from './wasm-errors.js';

const HOST_KEY = 'kmsedge.host';
const PORT_KEY = 'kmsedge.port';

export function target() {
  const port = Number.parseInt($('kms-port').value, 10);
  return { host: $('kms-host').value.trim(), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 1688 };
}

/** "Run in <folder>:" with the folder as code, wherever the language puts it. */
function runIn(folder) {
  const [before, after] = t('lookup.run.in', { folder: '\u0000' }).split('\u0000');
  return [before, h('code', {}, folder), after];
}

export function productCard(p, { selected = false } = {}) {
  const cmds = p.commands.join('\n');
  const title = h('h3', { id: `p-${p.id}-name` }, p.name);
  // data-sku: the product's SKU id, which the tests compare with the article's table.
  return h('li', { class: selected ? 'product selected' : 'product', id: selected ? null : `p-${p.id}`,
    dataset: { id: p.id, sku: p.id }, 'aria-labelledby': `p-${p.id}-name` },
    h('header', {}, title,
      h('span', { class: 'meta' }, `${p.application} · ${p.kms_name}`)),
    h('div', { class: 'gvlk' },
      h('span', {}, 'GVLK'),
      h('code', { dataset: { field: 'gvlk' } }, p.gvlk),
      copyButton(p.gvlk, t('lookup.gvlk.of', { name: p.name }), t('lookup.copy.gvlk'))),
    p.not_kms ? h('p', { class: 'note', dataset: { field: 'not-kms' } },
      t('lookup.not_kms', { name: p.matched_name ?? p.name })) : null,
    p.folder ? h('p', { class: 'meta' }, ...runIn(p.folder)) : null,
    h('div', { class: 'copyable' },
      h('pre', { 'aria-label': t('lookup.commands.label', { name: p.name }) }, h('code', { dataset: { field: 'commands' } }, cmds)),
      copyButton(cmds, t('lookup.commands.of', { name: p.name }))),
    h('a', { href: `#product/${p.id}`, class: 'meta', 'aria-label': t('lookup.link.label', { name: p.name }) }, t('lookup.link')));
}

function showHostError(msg) {
  const e = $('host-error');
  e.hidden = !msg;
  e.textContent = msg ? t('lookup.host.error', { message: translateError(msg) }) : '';
}

export function renderResults() {
  const { host, port } = target();
  const r = JSON.parse(search($('q').value, host, port));
  showHostError(r.host_error);
  const out = $('results');
  out.replaceChildren(...r.families.map((f) => h('section', { class: 'family-group' },
    h('h2', { class: 'family' }, f.family),
    h('ul', { class: 'products' }, f.products.map((p) => productCard(p))))));
  $('result-count').textContent = r.count === 0 ? t('lookup.none') : t('lookup.count', { n: r.count });
  // Nothing matched: the closest products, each a link to its card.
  const closest = r.count === 0 && r.suggestions?.length
    ? h('p', { id: 'closest', dataset: { field: 'closest' } }, t('lookup.closest'), ' ',
      ...r.suggestions.flatMap((sg, i) => [i ? ', ' : '', h('a', { href: `#product/${sg.id}`, dataset: { suggested: sg.id } }, sg.name)]))
    : null;
  if (closest) out.replaceChildren(closest);
}

/** Shows one product (the #product/<id> deep link) above the results. */
export function showProduct(id, { focus = true } = {}) {
  const box = $('selected');
  if (!id) { box.hidden = true; box.replaceChildren(); return false; }
  const { host, port } = target();
  const p = JSON.parse(product(decodeURIComponent(id), host, port));
  box.hidden = false;
  if (p.error) {
    box.replaceChildren(h('p', { class: 'error', role: 'alert' }, translateError(p.error)));
    return false;
  }
  box.replaceChildren(h('h2', {}, t('lookup.linked')), h('ul', { class: 'products' }, productCard(p, { selected: true })));
  const heading = box.querySelector('h3');
  heading.tabIndex = -1;
  if (focus) heading.focus();
  return true;
}

export function setupLookup(currentProduct) {
  const saved = localStorage.getItem(HOST_KEY);
  if (saved) $('kms-host').value = saved;
  const savedPort = localStorage.getItem(PORT_KEY);
  if (savedPort) $('kms-port').value = savedPort;
  const refresh = () => {
    renderResults();
    showProduct(currentProduct());
  };
  $('q').addEventListener('input', renderResults);
  const onTarget = debounce(() => {
    localStorage.setItem(HOST_KEY, $('kms-host').value.trim());
    localStorage.setItem(PORT_KEY, $('kms-port').value);
    refresh();
  }, 150);
  $('kms-host').addEventListener('input', onTarget);
  $('kms-port').addEventListener('input', onTarget);
  // A new language: the same results and linked product, in its words.
  onLanguage(() => {
    renderResults();
    const box = $('selected');
    if (!box.hidden) showProduct(currentProduct(), { focus: false });
  });
  renderResults();
}
