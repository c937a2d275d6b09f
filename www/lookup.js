// GVLK lookup: instant search over the catalogue (in wasm), results grouped
// by family, each with its GVLK and the commands for the host typed above.
import { search, product } from './pkg/kmsedge.js';
import { h, $, copyButton, debounce } from './dom.js';

const HOST_KEY = 'kmsedge.host';
const PORT_KEY = 'kmsedge.port';

function target() {
  const port = Number.parseInt($('kms-port').value, 10);
  return { host: $('kms-host').value.trim(), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : 1688 };
}

function productCard(p, { selected = false } = {}) {
  const cmds = p.commands.join('\n');
  const title = h('h3', { id: `p-${p.id}-name` }, p.name);
  return h('li', { class: selected ? 'product selected' : 'product', id: selected ? null : `p-${p.id}`,
    dataset: { id: p.id }, 'aria-labelledby': `p-${p.id}-name` },
    h('header', {}, title,
      h('span', { class: 'meta' }, `${p.application} · ${p.kms_name}`)),
    h('div', { class: 'gvlk' },
      h('span', {}, 'GVLK'),
      h('code', { dataset: { field: 'gvlk' } }, p.gvlk),
      copyButton(p.gvlk, `GVLK of ${p.name}`, 'Copy GVLK')),
    p.folder ? h('p', { class: 'meta' }, 'Run in ', h('code', {}, p.folder), ':') : null,
    h('div', { class: 'copyable' },
      h('pre', { 'aria-label': `Commands for ${p.name}` }, h('code', { dataset: { field: 'commands' } }, cmds)),
      copyButton(cmds, `commands for ${p.name}`)),
    h('a', { href: `#product/${p.id}`, class: 'meta', 'aria-label': `Link to ${p.name}` }, 'Link to this product'));
}

function showHostError(msg) {
  const e = $('host-error');
  e.hidden = !msg;
  e.textContent = msg ? `KMS host: ${msg}` : '';
}

export function renderResults() {
  const { host, port } = target();
  const r = JSON.parse(search($('q').value, host, port));
  showHostError(r.host_error);
  const out = $('results');
  out.replaceChildren(...r.families.map((f) => h('section', { class: 'family-group' },
    h('h2', { class: 'family' }, f.family),
    h('ul', { class: 'products' }, f.products.map((p) => productCard(p))))));
  $('result-count').textContent = r.count === 0
    ? 'No product matches; try fewer or shorter words.'
    : `${r.count} product${r.count === 1 ? '' : 's'} with a GVLK`;
}

/** Shows one product (the #product/<id> deep link) above the results. */
export function showProduct(id) {
  const box = $('selected');
  if (!id) { box.hidden = true; box.replaceChildren(); return false; }
  const { host, port } = target();
  const p = JSON.parse(product(decodeURIComponent(id), host, port));
  box.hidden = false;
  if (p.error) {
    box.replaceChildren(h('p', { class: 'error', role: 'alert' }, p.error));
    return false;
  }
  box.replaceChildren(h('h2', {}, 'Linked product'), h('ul', { class: 'products' }, productCard(p, { selected: true })));
  const heading = box.querySelector('h3');
  heading.tabIndex = -1;
  heading.focus();
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
  renderResults();
}
