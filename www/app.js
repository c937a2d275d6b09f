// Entry point: loads the wasm core, wires the views and routes by URL hash:
//   #lookup (default), #key, #decoder, #dns, #help, #product/<sku id>
//   (lookup with that product shown first), #host (only when a host
//   registers it). The language (i18n.js) is set before anything renders.
// The page loads the lookup module (pkg/kmsedge.js: lookup, commands, DNS);
// the decoder's module (pkg/decoder/) is loaded by decoder.js when needed.
import init, { version } from './pkg/kmsedge.js';
import { $ } from './dom.js';
import { setupLookup, showProduct } from './lookup.js';
import { setupDecoder, loadDecoder } from './decoder.js';
import { setupDns } from './dns.js';
import { setupKey } from './key.js';
import { setupLanguage, onLanguage, t } from './i18n.js';

const VIEWS = ['lookup', 'key', 'decoder', 'dns', 'help', 'host'];

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  let view = hash.split('/')[0] || 'lookup';
  // The host view exists only where a host un-hid its nav entry.
  if (!VIEWS.includes(view) || (view === 'host' && $('nav-host').hidden)) view = 'lookup';
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const a of document.querySelectorAll('nav a[data-view]')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `kmsedge — ${t(`title.${view}`)}`;
  if (view === 'decoder') loadDecoder().catch(() => {}); // errors show on first use
  // A linked product takes the focus; otherwise the caller may focus main.
  return showProduct(hash.startsWith('product/') ? hash.slice('product/'.length) : null);
}

/** The title of the view on screen, in the page's language. */
function retitle() {
  const shown = VIEWS.find((v) => !$(`view-${v}`).hidden) ?? 'lookup';
  document.title = `kmsedge — ${t(`title.${shown}`)}`;
}

async function main() {
  setupLanguage();
  onLanguage(retitle);
  try {
    await init();
  } catch (e) {
    $('loading').textContent = t('wasm.failed', { error: e });
    $('loading').className = 'error';
    return;
  }
  $('version').textContent = version();
  setupLookup(() => {
    const hash = decodeURIComponent(location.hash.slice(1));
    return hash.startsWith('product/') ? hash.slice('product/'.length) : null;
  });
  setupDecoder();
  setupDns();
  setupKey();
  window.addEventListener('hashchange', () => {
    if (!route()) $('main').focus();
  });
  route();
  // Served by a kmsedge host? Then the Host entry appears (and #host routes).
  // Loaded on the side: the dashboard's code is not in the page's critical path.
  import('./host.js').then((m) => m.setupHost(route)).catch((e) => console.error('host dashboard:', e));
  $('loading').remove();
  // Lets tests (and the host dashboard) know the page is interactive.
  document.body.dataset.ready = '1';
  window.kmsedgeReadyAt = performance.now();
}

main();
