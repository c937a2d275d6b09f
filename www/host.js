// Host dashboard (#view-host): what `slmgr /dlv` shows on a genuine host and
// more — status, counts per KMS counted id, clients, events, activity — read from the
// JSON API of the host that serves this page (`kmsedge serve` or the edge
// Worker; same shapes, src/api.rs).
//
// Detection: GET api/status. 401 (or 403) means "a host that wants its admin
// token"; 200 with a status means a host that answers without one (a native
// host with no token set, seen from loopback). A network error, a 404 or
// anything else means static hosting: the Host entry stays hidden.
//
// The admin token is typed once, kept in sessionStorage only (this tab,
// until it closes) and sent as `Authorization: Bearer` on every API call;
// it never goes into a URL. A refused token clears every piece of host data
// from the page. While the view is visible the data refreshes every few
// seconds in place: inputs, sort, page, focus and scroll stay as they are.
import { $, h, announce, debounce } from './dom.js';
import { t, number, dateTime, onLanguage } from './i18n.js';
import { stackedBars } from './chart.js';
import { eventsSection } from './events.js';
import { settingsSection } from './settings.js';

const TOKEN_KEY = 'kmsedge.adminToken';
export const REFRESH_MS = 5000;
const CSV_PAGE = 1000; // the API's largest page
const CSV_MAX_ROWS = 1_000_000;

const APPLICATIONS = {
  '55c92734-d682-4d71-983e-d6ec3f16059f': 'Windows',
  '59a52881-a989-479d-af46-f275c6370663': 'Office 2010',
  '0ff1ce15-a989-479d-af46-f275c6370663': 'Office 2013+',
};

// `slmgr /dlv` names the licence states this way (message keys hd.dlv.*).
const DLV_STATUS = [
  ['Unlicensed', 'unlicensed'],
  ['Licensed', 'licensed'],
  ['OOB grace', 'oob'],
  ['OOT grace', 'oot'],
  ['Non-genuine grace', 'nongenuine'],
  ['Notification', 'notification'],
  ['Extended grace', 'extended'],
];

// Last results: a short phrase in the table (message hd.hr.<code>), the Windows name as its tooltip.
const HRESULTS = {
  '0x00000000': 'S_OK',
  '0xC004F038': 'SL_E_VL_NOT_ENOUGH_COUNT',
  '0xC004F039': 'SL_E_VL_BINDING_SERVICE_NOT_ENABLED',
  '0xC004F041': 'SL_E_VL_KEY_MANAGEMENT_SERVICE_NOT_ACTIVATED',
  '0xC004F042': 'SL_E_VL_KEY_MANAGEMENT_SERVICE_ID_MISMATCH',
  '0xC004F06C': 'SL_E_VL_INVALID_TIMESTAMP',
  '0xC004F074': 'SL_E_VL_BINDING_SERVICE_UNAVAILABLE',
  '0xC004D104': '0xC004D104',
  '0x8007000D': 'ERROR_INVALID_DATA',
};

// Table columns: key = the API's sort column (label: message hd.col.<key>); first sort direction.
const COLUMNS = [
  { key: 'workstation', first: 'asc' },
  { key: 'cmid', first: 'asc' },
  // The API sorts by stored columns: "product" groups by counted id.
  { key: 'kms_id', first: 'asc' },
  { key: 'license_status', first: 'asc' },
  { key: 'remote', first: 'asc' },
  { key: 'first_seen', first: 'desc' },
  { key: 'last_seen', first: 'desc' },
  { key: 'requests', first: 'desc' },
  { key: 'last_hresult', first: 'asc' },
];

const CSV_COLUMNS = [
  ['workstation', (r) => r.workstation],
  ['cmid', (r) => r.cmid],
  ['product', (r) => r.sku_name],
  ['counted_id_name', (r) => r.product],
  ['kms_id', (r) => r.kms_id],
  ['sku', (r) => r.sku],
  ['application', (r) => r.application],
  ['license_status', (r) => r.license_status_name],
  ['remote', (r) => r.remote],
  ['protocol', (r) => r.protocol],
  ['first_seen_utc', (r) => isoUtc(r.first_seen)],
  ['last_seen_utc', (r) => isoUtc(r.last_seen)],
  ['requests', (r) => r.requests],
  ['last_result', (r) => r.last_hresult],
];

// ---------------------------------------------------------------- state

let token = null; // the admin token in use (mirrors sessionStorage)
let generation = 0; // bumped whenever data is cleared: late answers are dropped
let controller = new AbortController();
let ui = null; // the built dashboard's elements; null while nothing is shown
let timer = null;
let refreshing = null;
let autoRefresh = true;
const VIEW = { q: '', kms_id: '', sort: 'last_seen', order: 'desc', offset: 0, limit: 25, period: 'hourly' };
const view = { ...VIEW }; // what the user chose: kept across refreshes, reset with the data
let clientsSeq = 0;
let last = { status: null, activity: null, page: null, chartKey: '' };

class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function loadToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}
function saveToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage off: the token lives in memory for this page only */ }
}

// ---------------------------------------------------------------- API

async function errorText(r) {
  const text = (await r.text().catch(() => '')).trim();
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return j.error;
  } catch { /* not JSON */ }
  return text.slice(0, 300) || `HTTP ${r.status}`;
}

const API_TIMEOUT_MS = 20_000;

/** GET path with the token → its JSON (or, with `as` 'blob', the body);
 * AuthError on 401/403, Error otherwise. Aborted when the data is cleared
 * (AbortError) or after API_TIMEOUT_MS. */
async function api(path, signal = controller.signal, as = 'json') {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  if (signal.aborted) ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const timeout = setTimeout(() => ac.abort(new DOMException('no answer within 20 s', 'TimeoutError')), API_TIMEOUT_MS);
  try {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(path, { headers, signal: ac.signal, cache: 'no-store', credentials: 'same-origin', redirect: 'error' });
    if (r.status === 401 || r.status === 403) throw new AuthError(r.status, await errorText(r));
    if (!r.ok) throw new Error(`${path.split('?')[0]}: HTTP ${r.status}: ${await errorText(r)}`);
    return as === 'blob' ? await r.blob() : await r.json();
  } finally {
    clearTimeout(timeout);
    signal.removeEventListener('abort', onAbort);
  }
}

/** PUT path with a JSON body and the token → its JSON; AuthError on
 * 401/403, Error with the host's one line otherwise. */
async function apiPut(path, body) {
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(new DOMException('no answer within 20 s', 'TimeoutError')), API_TIMEOUT_MS);
  try {
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(path, { method: 'PUT', headers, body: JSON.stringify(body), signal: ac.signal, cache: 'no-store', credentials: 'same-origin', redirect: 'error' });
    if (r.status === 401 || r.status === 403) throw new AuthError(r.status, await errorText(r));
    if (!r.ok) throw new Error(await errorText(r));
    return await r.json();
  } finally {
    clearTimeout(timeout);
  }
}

function clientsPath(q, offset, limit) {
  const p = new URLSearchParams();
  if (q.q.trim()) p.set('q', q.q.trim());
  if (q.kms_id) p.set('kms_id', q.kms_id);
  p.set('sort', q.sort);
  p.set('order', q.order);
  p.set('offset', String(offset));
  p.set('limit', String(limit));
  return `api/clients?${p}`;
}

// ---------------------------------------------------------------- formatting

const pad = (n) => String(n).padStart(2, '0');
function isoUtc(unix) {
  return unix ? new Date(unix * 1000).toISOString().replace('.000Z', 'Z') : '';
}
/** Date and time in the page's language, the visitor's time zone. */
const localTime = (unix) => dateTime(new Date(unix * 1000), { dateStyle: 'short', timeStyle: 'medium' });
function duration(secs) {
  secs = Math.max(0, Math.floor(secs));
  const d = Math.floor(secs / 86400);
  const hr = Math.floor((secs % 86400) / 3600);
  const mi = Math.floor((secs % 3600) / 60);
  if (d) return t('hd.dur.dh', { d, h: hr });
  if (hr) return t('hd.dur.hm', { h: hr, m: mi });
  if (mi) return t('hd.dur.ms', { m: mi, s: secs % 60 });
  return t('hd.dur.s', { s: secs });
}
function minutes(m) {
  const parts = m % 1440 === 0 ? t('hd.days', { n: m / 1440 }) : m % 60 === 0 ? t('hd.hours', { n: m / 60 }) : null;
  return parts ? t('hd.minutes.with', { minutes: t('hd.minutes', { n: m }), parts }) : t('hd.minutes', { n: m });
}
const appName = (id) => APPLICATIONS[id] ?? id;
// Values the API words in English, by their fixed wording; anything else as it came.
const licenceName = (name) => {
  const known = DLV_STATUS.find(([api]) => api === name);
  return known ? t(`hd.dlv.${known[1]}`) : name;
};
function origin(o) {
  if (o === 'generated' || o === 'fixed') return t(`hd.origin.${o}`);
  const m = /^installed key …(.+)$/.exec(o ?? '');
  return m ? t('hd.origin.installed', { last: m[1] }) : o ?? '';
}
const DNS_STATES = ['off', 'publishing', 'published', 'removed', 'stopped (nothing was published)'];
const dnsState = (s) => (DNS_STATES.includes(s) ? t(`hd.dnsstate.${DNS_STATES.indexOf(s)}`) : s);

function countMode(p) {
  switch (p.count_mode) {
    case 'sufficient': case 'genuine': return t(`hd.mode.${p.count_mode}`);
    case 'fixed': return t('hd.mode.fixed', { n: p.fixed_count });
    default: return p.count_mode;
  }
}
function scope(p, names) {
  switch (p.scope) {
    case 'covered': case 'all': case 'known': case 'genuine': return t(`hd.scope.${p.scope}`);
    case 'list': return t('hd.scope.list', { n: p.scope_ids.length, ids: p.scope_ids.map((id) => names.get(id) ? `${names.get(id)} (${id})` : id).join(', ') });
    default: return p.scope;
  }
}
function skew(secs) {
  if (secs === null || secs === undefined) return t('hd.skew.off');
  const hours = secs % 3600 === 0 ? t('hd.skew.hours', { n: secs / 3600 }) : t('hd.skew.secs', { n: secs });
  return t('hd.skew.on', { hours, secs: t('hd.skew.secs', { n: secs }) });
}

/** Sets text only when it differs, so nothing re-renders or re-announces needlessly. */
function setText(el, text) {
  text = String(text);
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------- CSV

/** One CSV field (RFC 4180): quoted when it holds a quote, comma, CR/LF or
 * edge spaces; quotes doubled. Text that a spreadsheet would run as a
 * formula (leading = + - @ tab CR) gets a leading apostrophe. */
export function csvField(v) {
  let s = v === null || v === undefined ? '' : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
export function csvOf(rows) {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------- building

function field(label, key) {
  const dd = h('dd', { dataset: { field: key } });
  return { nodes: [h('dt', {}, label), dd], dd };
}

function card(title, ...children) {  // title: already in the page's language
  return h('section', { class: 'hd-card', 'aria-label': title }, h('h3', {}, title), ...children);
}
const wide = (el) => { el.classList.add('hd-wide'); return el; };

function build() {
  const f = {};
  const kv = (...pairs) => h('dl', { class: 'kv' }, pairs.flatMap(([label, key]) => {
    const x = field(label, key);
    f[key] = x.dd;
    return x.nodes;
  }));

  const auto = h('input', { type: 'checkbox', id: 'hd-auto', checked: autoRefresh });
  auto.addEventListener('change', () => {
    autoRefresh = auto.checked;
    schedule();
  });
  const toolbar = h('div', { class: 'hd-toolbar' },
    h('label', { class: 'hd-check' }, auto, ` ${t('hd.auto', { n: REFRESH_MS / 1000 })}`),
    h('button', { type: 'button', class: 'secondary', id: 'hd-refresh', onclick: () => refresh(true) }, t('hd.refresh')),
    h('button', { type: 'button', class: 'secondary', id: 'hd-signout', onclick: signOut, hidden: !token }, t('hd.signout')),
    f.updated = h('span', { class: 'status', id: 'hd-updated' }));
  const warn = h('p', { class: 'error', id: 'hd-warning', role: 'alert', hidden: true });

  // Status.
  const listen = h('ul', { class: 'hd-plain', dataset: { field: 'listen' } });
  const epids = h('tbody');
  const dnsCard = card(t('hd.dns'), kv([t('hd.dns.publishing'), 'dns_publishing'], [t('hd.dns.state'), 'dns_state'], [t('hd.dns.record'), 'dns_record']));
  dnsCard.hidden = true;
  const dlv = h('dl', { class: 'hd-dlv', id: 'hd-dlv' });
  const status = h('section', { class: 'hd-section', 'aria-labelledby': 'hd-h-status' },
    h('h2', { id: 'hd-h-status' }, t('hd.status')),
    h('div', { class: 'hd-grid' },
      card(t('hd.host'),
        kv([t('hd.runtime'), 'runtime'], [t('hd.version'), 'version'], [t('hd.uptime'), 'uptime'], [t('hd.started'), 'started_at']),
        h('p', { class: 'hd-sub' }, t('hd.listening')), listen),
      card(t('hd.kms'),
        kv([t('d.act.interval'), 'activation_interval'], [t('d.ren.interval'), 'renewal_interval']),
        h('p', { class: 'hd-sub' }, t('hd.cumulative')), dlv),
      card(t('hd.policy'),
        kv([t('hd.countmode'), 'count_mode'], [t('hd.scope'), 'scope'], [t('hd.skew'), 'time_skew'], ['NDR64', 'ndr64'])),
      dnsCard,
      wide(card(t('hd.identity'),
        kv(['HwId', 'hwid'], [t('hd.build'), 'host_build'], ['LCID', 'lcid']),
        h('div', { class: 'hd-scroll' },
          h('table', { class: 'hd-epids' },
            h('caption', { class: 'visually-hidden' }, t('hd.epids')),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('hd.slot')), h('th', { scope: 'col' }, 'CSVLK'), h('th', { scope: 'col' }, 'ePID'), h('th', { scope: 'col' }, t('hd.source')))),
            epids))))));

  // Counts.
  const counts = h('ul', { class: 'hd-counts', id: 'hd-counts' });
  const countsEmpty = h('p', { class: 'status', id: 'hd-counts-empty', hidden: true }, t('hd.counts.empty'));
  const countsSection = h('section', { class: 'hd-section', 'aria-labelledby': 'hd-h-counts' },
    h('h2', { id: 'hd-h-counts' }, t('hd.counts')),
    h('p', { class: 'hd-note' }, t('hd.counts.note')),
    countsEmpty, counts);

  // Clients.
  const q = h('input', { id: 'hd-q', type: 'search', autocomplete: 'off', spellcheck: 'false', value: view.q,
    placeholder: t('hd.q.placeholder'), 'aria-controls': 'hd-clients' });
  const kms = h('select', { id: 'hd-kms', 'aria-controls': 'hd-clients' }, h('option', { value: '' }, t('hd.all')));
  const size = h('select', { id: 'hd-size', 'aria-controls': 'hd-clients' },
    [25, 50, 100].map((n) => h('option', { value: n, selected: n === view.limit }, String(n))));
  const onQuery = debounce(() => { view.q = q.value; view.offset = 0; loadClients(); }, 250);
  q.addEventListener('input', onQuery);
  kms.addEventListener('change', () => { view.kms_id = kms.value; view.offset = 0; loadClients(); });
  size.addEventListener('change', () => { view.limit = Number(size.value); view.offset = 0; loadClients(); });
  const head = h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', dataset: { sort: c.key } },
    h('button', { type: 'button', class: 'hd-sort', onclick: () => sortBy(c.key) },
      t(`hd.col.${c.key}`), h('span', { class: 'hd-arrow', 'aria-hidden': 'true' })))));
  const tbody = h('tbody');
  const prev = h('button', { type: 'button', class: 'secondary', id: 'hd-prev', onclick: () => page(-1) }, t('hd.prev'));
  const next = h('button', { type: 'button', class: 'secondary', id: 'hd-next', onclick: () => page(1) }, t('hd.next'));
  const exportBtn = h('button', { type: 'button', id: 'hd-export', onclick: exportCsv }, t('hd.export'));
  const clients = h('section', { class: 'hd-section', 'aria-labelledby': 'hd-h-clients' },
    h('h2', { id: 'hd-h-clients' }, t('hd.clients')),
    h('form', { class: 'fields', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('div', { class: 'field wide' }, h('label', { for: 'hd-q' }, t('hd.q')), q),
      h('div', { class: 'field' }, h('label', { for: 'hd-kms' }, t('hd.kmsid')), kms),
      h('div', { class: 'field narrow' }, h('label', { for: 'hd-size' }, t('hd.size')), size)),
    h('div', { class: 'hd-toolbar' },
      f.range = h('p', { class: 'status', id: 'hd-range', role: 'status', 'aria-live': 'polite' }),
      exportBtn,
      f.exportStatus = h('span', { class: 'status', id: 'hd-export-status', role: 'status', 'aria-live': 'polite' })),
    h('div', { class: 'hd-scroll', role: 'region', 'aria-labelledby': 'hd-h-clients', tabindex: '0' },
      h('table', { class: 'hd-clients', id: 'hd-clients' },
        h('caption', { class: 'visually-hidden' }, t('hd.clients.caption')),
        h('thead', {}, head), tbody)),
    h('div', { class: 'hd-pager' }, prev, f.pageOf = h('span', { class: 'status', id: 'hd-page' }), next));

  // Activity.
  const periods = h('div', { class: 'hd-seg', role: 'group', 'aria-label': t('hd.period') },
    h('button', { type: 'button', dataset: { period: 'hourly' }, 'aria-pressed': String(view.period === 'hourly'), onclick: () => setPeriod('hourly') }, t('hd.last48')),
    h('button', { type: 'button', dataset: { period: 'daily' }, 'aria-pressed': String(view.period === 'daily'), onclick: () => setPeriod('daily') }, t('hd.last30')));
  const chartBox = h('div', { class: 'hd-chart', id: 'hd-chart' });
  const summary = h('p', { id: 'hd-chart-summary', class: 'hd-summary' });
  const dataBody = h('tbody');
  const activity = h('section', { class: 'hd-section', 'aria-labelledby': 'hd-h-activity' },
    h('h2', { id: 'hd-h-activity' }, t('hd.activity')),
    h('div', { class: 'hd-toolbar' }, periods,
      h('ul', { class: 'hd-legend', 'aria-label': t('hd.legend') },
        h('li', {}, h('span', { class: 'hd-swatch ok', 'aria-hidden': 'true' }), t('hd.granted')),
        h('li', {}, h('span', { class: 'hd-swatch failed', 'aria-hidden': 'true' }), t('hd.failed.legend')))),
    h('figure', { class: 'hd-figure' }, chartBox, h('figcaption', {}, summary)),
    h('details', { class: 'hd-data-table' },
      h('summary', {}, t('hd.chart.table')),
      h('div', { class: 'hd-scroll' },
        h('table', {},
          f.dataCaption = h('caption', {}),
          h('thead', {}, f.dataHead = h('tr', {})),
          dataBody))));

  // Events (events.js), through this module's token and error handling.
  const gen = generation;
  const events = eventsSection({
    api: (path) => api(path),
    download: async (path, name) => saveFile(await api(path, controller.signal, 'blob'), name),
    fail: (e, what) => {
      if (gen !== generation || e.name === 'AbortError') return;
      if (e instanceof AuthError) lockOut(e);
      else if (what) warn(t('hd.load.failed', { what, message: e.message }));
    },
  });

  // Settings (settings.js): the wizard's configuration page, slmgr's verbs.
  const settings = settingsSection({
    api: (path) => api(path),
    put: (path, body) => apiPut(path, body),
    // true when handled here (stale, aborted, token refused); else the
    // section shows the error itself.
    fail: (e) => {
      if (gen !== generation || e.name === 'AbortError') return true;
      if (e instanceof AuthError) { lockOut(e); return true; }
      return false;
    },
  });
  settings.load();

  $('hd-data').replaceChildren(toolbar, warn, status, settings.el, countsSection, clients, events.el, activity);
  ui = { f, warn, listen, epids, dnsCard, dlv, counts, countsEmpty, q, kms, size, head, tbody, prev, next, exportBtn,
    periods, chartBox, summary, dataBody, chartWidth: 0, events, settings };
  ui.resize = new ResizeObserver(() => {
    if (ui && ui.chartBox === chartBox && chartBox.clientWidth && chartBox.clientWidth !== ui.chartWidth) drawChart(true);
  });
  ui.resize.observe(chartBox);
  markSort();
}

// ---------------------------------------------------------------- applying data

function applyStatus(s) {
  const { f } = ui;
  setText(f.runtime, s.runtime === 'edge' || s.runtime === 'native' ? t(`hd.runtime.${s.runtime}`) : s.runtime);
  setText(f.version, s.version);
  setText(f.uptime, duration(s.uptime_secs));
  setText(f.started_at, localTime(s.started_at));
  const listenKey = JSON.stringify(s.listen);
  if (ui.listen.dataset.key !== listenKey) {
    ui.listen.dataset.key = listenKey;
    ui.listen.replaceChildren(...s.listen.map((a) => h('li', { class: 'mono' }, a)));
  }
  setText(f.activation_interval, minutes(s.policy.activation_interval));
  setText(f.renewal_interval, minutes(s.policy.renewal_interval));

  // Request counters, as slmgr /dlv lists them.
  const c = s.counters;
  const rows = [[t('hd.dlv.total'), c.total, 'total'], [t('hd.dlv.failed'), c.failed, 'failed']];
  const seen = new Set();
  for (const [api, label] of DLV_STATUS) {
    seen.add(api);
    rows.push([t('hd.dlv.with', { status: t(`hd.dlv.${label}`) }), c.by_license_status[api] ?? 0, `status:${api}`]);
  }
  for (const [name, n] of Object.entries(c.by_license_status)) {
    if (!seen.has(name)) rows.push([t('hd.dlv.with', { status: name }), n, `status:${name}`]);
  }
  const dlvKey = JSON.stringify(rows);
  if (ui.dlv.dataset.key !== dlvKey) {
    ui.dlv.dataset.key = dlvKey;
    ui.dlv.replaceChildren(...rows.flatMap(([label, n, key]) => [h('dt', {}, `${label}:`), h('dd', { dataset: { counter: key } }, number(n))]));
  }

  const names = new Map(s.counts.map((x) => [x.kms_id, x.name]));
  setText(f.count_mode, countMode(s.policy));
  setText(f.scope, scope(s.policy, names));
  setText(f.time_skew, skew(s.policy.max_time_skew_secs));
  setText(f.ndr64, t(s.policy.ndr64 ? 'hd.ndr64.on' : 'hd.ndr64.off'));

  setText(f.hwid, s.identity.hwid);
  setText(f.host_build, s.identity.host_build);
  setText(f.lcid, s.identity.lcid);
  const epidKey = JSON.stringify(s.identity.epids);
  if (ui.epids.dataset.key !== epidKey) {
    ui.epids.dataset.key = epidKey;
    ui.epids.replaceChildren(...s.identity.epids.map((e) => h('tr', { dataset: { slot: e.slot } },
      h('th', { scope: 'row' }, e.slot), h('td', {}, e.csvlk_name), h('td', { class: 'mono', dataset: { field: 'epid' } }, e.epid),
      h('td', { dataset: { field: 'origin' } }, origin(e.origin)))));
  }

  ui.dnsCard.hidden = !s.dns;
  if (s.dns) {
    setText(f.dns_publishing, t(s.dns.publishing ? 'yes' : 'no'));
    setText(f.dns_state, dnsState(s.dns.state));
    setText(f.dns_record, s.dns.record ?? '—');
  }

  applyCounts(s);
  applyKmsOptions(s.counts);
}

function applyCounts(s) {
  const list = [...s.counts].sort((a, b) => a.name.localeCompare(b.name) || a.kms_id.localeCompare(b.kms_id));
  ui.countsEmpty.hidden = list.length > 0;
  const existing = new Map([...ui.counts.children].map((li) => [li.dataset.kmsId, li]));
  let before = ui.counts.firstChild;
  for (const c of list) {
    let li = existing.get(c.kms_id);
    existing.delete(c.kms_id);
    if (!li) li = countItem(c.kms_id);
    if (li !== before) ui.counts.insertBefore(li, before);
    else before = before.nextSibling;
    updateCount(li, c, s.policy);
  }
  for (const li of existing.values()) li.remove();
}

function countItem(kmsId) {
  const parts = {
    name: h('h3', {}),
    meta: h('span', { class: 'meta' }),
    group: h('span', { class: 'hd-bar-group' }),
    own: h('span', { class: 'hd-bar-own' }),
    mark: h('span', { class: 'hd-bar-mark' }, h('span', {})),
    facts: h('p', { class: 'hd-facts' }),
    verdict: h('p', { class: 'hd-verdict' }),
  };
  const bar = h('div', { class: 'hd-bar', role: 'img' }, parts.group, parts.own, parts.mark);
  const li = h('li', { class: 'hd-count', dataset: { kmsId } },
    h('header', {}, parts.name, parts.meta), bar, parts.facts, parts.verdict);
  li.parts = { ...parts, bar };
  return li;
}

function updateCount(li, c, policy) {
  const p = li.parts;
  setText(p.name, c.name);
  setText(p.meta, `${appName(c.application)} · ${c.kms_id}`);
  const scale = Math.max(c.threshold * 1.25, c.group_genuine * 1.05, c.genuine * 1.05, 1);
  const pct = (n) => `${Math.min(100, (n / scale) * 100).toFixed(2)}%`;
  p.own.style.width = pct(c.genuine);
  p.group.style.width = pct(c.group_genuine);
  p.mark.style.left = pct(c.threshold);
  setText(p.mark.firstChild, String(c.threshold));
  const reached = c.group_genuine >= c.threshold;
  li.classList.toggle('reached', reached);
  p.bar.setAttribute('aria-label', t('hd.bar', { n: c.genuine, threshold: c.threshold, group: c.group_genuine }));
  li.dataset.genuine = c.genuine;
  li.dataset.threshold = c.threshold;
  li.dataset.reported = c.reported;
  setText(p.facts, t('hd.facts', { genuine: c.genuine, clients: c.clients, app: appName(c.application), group: c.group_genuine, threshold: c.threshold }));
  const activates = c.reported >= c.threshold;
  setText(p.verdict, t(activates ? 'hd.verdict.yes' : 'hd.verdict.no', { n: c.reported, mode: policy.count_mode, threshold: c.threshold })
    + (reached ? '' : ` ${t('hd.verdict.genuine', { n: c.group_genuine })}`));
  p.verdict.classList.toggle('bad', !activates);
}

function applyKmsOptions(counts) {
  const sel = ui.kms;
  const want = [['', t('hd.all')], ...[...counts].sort((a, b) => a.name.localeCompare(b.name)).map((c) => [c.kms_id, c.name])];
  if (view.kms_id && !want.some(([v]) => v === view.kms_id)) want.push([view.kms_id, view.kms_id]);
  const key = JSON.stringify(want);
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  sel.replaceChildren(...want.map(([v, label]) => h('option', { value: v }, label)));
  sel.value = view.kms_id;
}

function markSort() {
  for (const th of ui.head.children) {
    const on = th.dataset.sort === view.sort;
    if (on) th.setAttribute('aria-sort', view.order === 'asc' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
    setText(th.querySelector('.hd-arrow'), on ? (view.order === 'asc' ? ' ▲' : ' ▼') : '');
  }
}

function rowCells(r) {
  const result = HRESULTS[r.last_hresult];
  const phrase = result ? t(`hd.hr.${r.last_hresult}`) : undefined;
  return [
    { text: r.workstation || '—', head: true },
    { text: r.cmid, cls: 'mono' },
    { text: r.sku_name, sub: r.product },
    { text: licenceName(r.license_status_name) },
    { text: r.remote, cls: 'mono' },
    { text: localTime(r.first_seen), time: isoUtc(r.first_seen) },
    { text: localTime(r.last_seen), time: isoUtc(r.last_seen) },
    { text: number(r.requests), cls: 'num' },
    { text: r.last_hresult, sub: phrase, title: result, cls: r.last_hresult === '0x00000000' ? 'ok' : 'bad' },
  ];
}

function cellOf(c, i) {
  const content = c.time ? h('time', { datetime: c.time }, c.text) : c.text;
  return h(c.head ? 'th' : 'td', { scope: c.head ? 'row' : null, class: c.cls, title: c.title, dataset: { col: COLUMNS[i].key } },
    content, c.sub ? h('span', { class: 'hd-cell-sub' }, c.sub) : null);
}

function applyClients(pageData) {
  const { tbody } = ui;
  const rows = pageData.clients;
  if (!rows.length) {
    const msg = t(view.q.trim() || view.kms_id ? 'hd.none.filter' : 'hd.none.yet');
    if (tbody.dataset.empty !== msg) {
      tbody.dataset.empty = msg;
      tbody.replaceChildren(h('tr', { class: 'hd-empty' }, h('td', { colspan: COLUMNS.length }, msg)));
    }
  } else {
    if (tbody.dataset.empty) {
      delete tbody.dataset.empty;
      tbody.replaceChildren();
    }
    rows.forEach((r, i) => {
      const cells = rowCells(r);
      const sig = JSON.stringify(cells);
      let tr = tbody.children[i];
      if (!tr) tr = tbody.appendChild(h('tr'));
      if (tr.dataset.sig !== sig) {
        tr.dataset.sig = sig;
        tr.dataset.cmid = r.cmid;
        tr.dataset.kmsId = r.kms_id;
        tr.replaceChildren(...cells.map(cellOf));
      }
    });
    while (tbody.children.length > rows.length) tbody.lastChild.remove();
  }
  const from = rows.length ? pageData.offset + 1 : 0;
  const to = pageData.offset + rows.length;
  const filtered = Boolean(view.q.trim() || view.kms_id);
  setText(ui.f.range, pageData.total === 0 ? t(filtered ? 'hd.range.none.filter' : 'hd.range.none')
    : t(filtered ? 'hd.range.filter' : 'hd.range', { from, to, n: pageData.total }));
  const pages = Math.max(1, Math.ceil(pageData.total / view.limit));
  setText(ui.f.pageOf, t('hd.page', { page: Math.floor(pageData.offset / view.limit) + 1, pages }));
  ui.prev.disabled = pageData.offset === 0;
  ui.next.disabled = pageData.offset + view.limit >= pageData.total;
  ui.exportBtn.disabled = pageData.total === 0;
  $('hd-data').dataset.clientsTotal = pageData.total;
}

// ---------------------------------------------------------------- chart

// Axis ticks and bucket names in the page's language (Intl.DateTimeFormat).
const hm = (d) => dateTime(d, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
function tickHourly(p) {
  const d = new Date(p.start * 1000);
  if (d.getHours() === 0) return dateTime(d, { weekday: 'short', day: 'numeric' });
  return d.getHours() % 6 === 0 ? hm(d) : null;
}
function tickDaily(p, i, n) {
  const d = new Date(p.start * 1000);
  return (n - 1 - i) % 5 === 0 ? dateTime(d, { day: 'numeric', month: 'short', timeZone: 'UTC' }) : null;
}
function bucketName(p, period) {
  const d = new Date(p.start * 1000);
  if (period === 'daily') return dateTime(d, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  const e = new Date((p.start + 3600) * 1000);
  return `${dateTime(d, { weekday: 'short', day: 'numeric', month: 'short' })} ${hm(d)}–${hm(e)}`;
}

function drawChart(force = false) {
  const a = last.activity;
  if (!ui || !a) return;
  const period = view.period;
  const points = a[period] ?? [];
  const width = ui.chartBox.clientWidth || 600;
  const key = JSON.stringify([period, points]);
  if (!force && key === last.chartKey && width === ui.chartWidth) return;
  last.chartKey = key;
  ui.chartWidth = width;
  const title = (p) => t('hd.chart.bar', { bucket: bucketName(p, period), ok: p.ok, failed: p.failed });
  const what = t(period === 'daily' ? 'hd.chart.daily' : 'hd.chart.hourly');
  const svg = stackedBars(points, {
    width, height: width < 480 ? 200 : 240, labelledBy: 'hd-chart-summary', title,
    tick: period === 'daily' ? (p, i) => tickDaily(p, i, points.length) : tickHourly,
    empty: t('hd.chart.empty', { what }),
  });
  ui.chartBox.replaceChildren(svg);
  ui.chartBox.dataset.period = period;

  const ok = points.reduce((s, p) => s + p.ok, 0);
  const failed = points.reduce((s, p) => s + p.failed, 0);
  const busiest = points.reduce((b, p) => (p.ok + p.failed > (b ? b.ok + b.failed : 0) ? p : b), null);
  setText(ui.summary, ok + failed === 0
    ? t('hd.chart.summary.none', { what })
    : t(period === 'daily' ? 'hd.chart.summary.daily' : 'hd.chart.summary.hourly',
      { what, n: ok + failed, ok, failed, bucket: bucketName(busiest, period), busiest: busiest.ok + busiest.failed }));
  setText(ui.f.dataCaption, t(period === 'daily' ? 'hd.chart.caption.daily' : 'hd.chart.caption.hourly', { what }));
  ui.f.dataHead.replaceChildren(h('th', { scope: 'col' }, t(period === 'daily' ? 'hd.chart.day' : 'hd.chart.hour')),
    h('th', { scope: 'col' }, t('hd.granted')), h('th', { scope: 'col' }, t('hd.failed')));
  ui.dataBody.replaceChildren(...points.map((p) => h('tr', {},
    h('th', { scope: 'row' }, bucketName(p, period)), h('td', { class: 'num' }, number(p.ok)), h('td', { class: 'num' }, number(p.failed)))));
}

function setPeriod(period) {
  view.period = period;
  for (const b of ui.periods.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.period === period));
  drawChart(true);
}

// ---------------------------------------------------------------- loading

function warn(text) {
  if (!ui) return;
  ui.warn.textContent = text ?? '';
  ui.warn.hidden = !text;
}

async function loadClients() {
  if (!ui) return;
  const seq = ++clientsSeq;
  const gen = generation;
  try {
    let data = await api(clientsPath(view, view.offset, view.limit));
    // Rows went away (or the filter shrank): show the last page that has some.
    if (data.total > 0 && view.offset >= data.total) {
      view.offset = Math.floor((data.total - 1) / view.limit) * view.limit;
      data = await api(clientsPath(view, view.offset, view.limit));
    }
    if (seq !== clientsSeq || gen !== generation) return;
    last.page = data;
    applyClients(data);
  } catch (e) {
    if (gen !== generation || e.name === 'AbortError') return;
    if (e instanceof AuthError) lockOut(e);
    else if (seq === clientsSeq) warn(t('hd.load.failed', { what: t('hd.the.clients'), message: e.message }));
  }
}

function sortBy(key) {
  if (view.sort === key) view.order = view.order === 'asc' ? 'desc' : 'asc';
  else {
    view.sort = key;
    view.order = COLUMNS.find((c) => c.key === key).first;
  }
  view.offset = 0;
  markSort();
  loadClients();
}

function page(dir) {
  view.offset = Math.max(0, view.offset + dir * view.limit);
  loadClients();
}

/** Status, activity and the current clients page; once at a time. */
function refresh(now = false) {
  if (refreshing) return refreshing;
  const gen = generation;
  const run = (async () => {
    try {
      // With the tables built, the clients page loads alongside; the first
      // time, only once the status has shown the token works.
      const clients = ui ? Promise.all([loadClients(), ui.events.load()]) : null;
      const [status, activity] = await Promise.all([api('api/status'), api('api/activity')]);
      if (gen !== generation) return;
      if (!ui) build();
      last.status = status;
      last.activity = activity;
      warn(null);
      applyStatus(status);
      drawChart();
      await (clients ?? Promise.all([loadClients(), ui.events.load()]));
      if (gen !== generation) return;
      ui.updatedAt = new Date();
      setText(ui.f.updated, t('hd.updated', { time: dateTime(ui.updatedAt, { timeStyle: 'medium' }) }));
      $('hd-data').hidden = false;
      $('hd-data').dataset.updates = String(Number($('hd-data').dataset.updates ?? 0) + 1);
      if (now) announce(t('hd.refreshed'));
    } catch (e) {
      if (gen !== generation || e.name === 'AbortError') return;
      if (e instanceof AuthError) lockOut(e);
      else if (ui) warn(t('hd.refresh.failed', { message: e.message, time: ui.updatedAt ? dateTime(ui.updatedAt, { timeStyle: 'medium' }) : '—' }));
      else showLogin({ error: () => t('hd.noanswer', { message: e.message }) });
    } finally {
      if (refreshing === run) refreshing = null;
      if (gen === generation) schedule();
    }
  })();
  refreshing = run;
  return run;
}

const visible = () => !$('view-host').hidden && document.visibilityState === 'visible';

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (ui && autoRefresh && visible()) timer = setTimeout(() => refresh(), REFRESH_MS);
}

/** Saves a blob as a download named `name`. */
function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function exportCsv() {
  // Typed but not yet applied (the filter waits for a pause in typing): export what is typed.
  if (ui.q.value !== view.q) {
    view.q = ui.q.value;
    view.offset = 0;
    loadClients();
  }
  const q = { ...view };
  const gen = generation;
  const btn = ui.exportBtn;
  btn.disabled = true;
  setText(ui.f.exportStatus, t('hd.exporting'));
  try {
    const rows = [];
    const seen = new Set();
    for (let offset = 0; offset < CSV_MAX_ROWS; offset += CSV_PAGE) {
      const data = await api(clientsPath(q, offset, CSV_PAGE));
      if (gen !== generation) return;
      for (const r of data.clients) {
        const k = `${r.cmid}|${r.kms_id}`;
        if (!seen.has(k)) { seen.add(k); rows.push(r); }
      }
      if (data.clients.length < CSV_PAGE || offset + CSV_PAGE >= data.total) break;
    }
    const d = new Date();
    const name = `kmsedge-clients-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}${q.q.trim() || q.kms_id ? '-filtered' : ''}.csv`;
    saveFile(new Blob([csvOf(rows)], { type: 'text/csv;charset=utf-8' }), name);
    setText(ui.f.exportStatus, t('hd.exported', { n: rows.length, name }));
  } catch (e) {
    if (gen !== generation || e.name === 'AbortError') return;
    if (e instanceof AuthError) lockOut(e);
    else setText(ui.f.exportStatus, t('hd.export.failed', { message: e.message }));
  } finally {
    if (ui && gen === generation) btn.disabled = (last.page?.total ?? 0) === 0;
  }
}

// ---------------------------------------------------------------- access

/** Removes every piece of host data from the page and stops all requests. */
function clearData() {
  generation++;
  controller.abort();
  controller = new AbortController();
  clearTimeout(timer);
  timer = null;
  refreshing = null;
  ui?.resize.disconnect();
  ui = null;
  last = { status: null, activity: null, page: null, chartKey: '' };
  Object.assign(view, VIEW);
  const box = $('hd-data');
  box.replaceChildren();
  box.hidden = true;
  delete box.dataset.updates;
  delete box.dataset.clientsTotal;
}

/** The sign-in state's messages, as functions so a change of language re-words them. */
let loginText = { error: null, note: null };
function showLoginText() {
  const error = loginText.error?.() ?? null;
  const err = $('hd-auth-error');
  err.textContent = error ?? '';
  err.hidden = !error;
  setText($('hd-state'), loginText.note?.() ?? '');
}
function showLogin({ error = null, note = null, form = true } = {}) {
  clearData();
  $('hd-login').hidden = !form;
  loginText = { error, note };
  showLoginText();
}

/** The host refused us: say why, show nothing of its data. */
function lockOut(e) {
  const sent = Boolean(token);
  token = null;
  saveToken(null);
  if (e.status === 403) {
    showLogin({ error: () => t('hd.forbidden', { message: e.message }), form: false });
  } else if (sent) {
    showLogin({ error: () => t('hd.refused', { message: e.message }) });
    $('hd-token').focus();
  } else {
    showLogin({ note: () => t('hd.needtoken') });
  }
}

async function signIn(value) {
  const typed = value.trim();
  if (!typed) {
    showLogin({ error: () => t('hd.token.empty') });
    return;
  }
  if (/[^\x20-\x7e]/.test(typed)) {
    showLogin({ error: () => t('hd.token.ascii') });
    return;
  }
  token = typed;
  showLogin({ note: () => t('hd.checking') });
  $('hd-login').hidden = false;
  try {
    await api('api/status');
  } catch (e) {
    if (e instanceof AuthError) lockOut(e);
    else if (e.name !== 'AbortError') {
      token = null;
      showLogin({ error: () => t('hd.noanswer', { message: e.message }) });
    }
    return;
  }
  saveToken(typed);
  $('hd-token').value = '';
  openDashboard(true);
}

/** Shows the data; `focus`: move the focus to it once it is there (the
 * sign-in button that had it disappears). */
async function openDashboard(focus = false) {
  $('hd-login').hidden = true;
  $('hd-auth-error').hidden = true;
  loginText = { error: null, note: token ? null : () => t('hd.open') };
  showLoginText();
  await refresh();
  const heading = $('hd-h-status');
  if (focus && heading && visible()) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

function signOut() {
  token = null;
  saveToken(null);
  showLogin({ note: () => t('hd.signedout') });
  $('hd-token').focus();
}

// ---------------------------------------------------------------- setup

/**
 * Finds out whether a kmsedge host serves this page; if so un-hides the
 * Host entry and calls `reroute` when the URL asks for the host view.
 */
export async function setupHost(reroute) {
  token = loadToken();
  let r;
  try {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    r = await fetch('api/status', { headers, cache: 'no-store', credentials: 'same-origin', redirect: 'error' });
  } catch {
    return false; // static hosting without a server behind it
  }
  let status = null;
  if (r.ok) {
    try {
      const j = await r.json();
      if (j && typeof j.runtime === 'string' && j.counters && j.identity) status = j;
    } catch { /* an HTML fallback page, say */ }
    if (!status) return false;
  } else if (r.status === 401) {
    // Both hosts challenge with Bearer; a Basic-protected static site is no host.
    if (!/^bearer\b/i.test(r.headers.get('www-authenticate') ?? '')) return false;
  } else if (r.status === 403) {
    // The native host without a token, seen from beyond loopback: JSON.
    if (!(r.headers.get('content-type') ?? '').includes('json')) return false;
  } else {
    return false;
  }

  // A new language: the sign-in messages and the dashboard re-worded, its data kept.
  onLanguage(() => {
    showLoginText();
    if (!ui) return;
    ui.resize.disconnect();
    ui = null;
    last.chartKey = '';
    build();
    applyStatus(last.status);
    drawChart(true);
    if (last.page) applyClients(last.page);
    ui.events.load();
  });
  $('hd-login').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('hd-token').value);
  });
  new MutationObserver(() => {
    if (!visible()) schedule();
    else if (ui) refresh();
  }).observe($('view-host'), { attributes: true, attributeFilter: ['hidden'] });
  document.addEventListener('visibilitychange', () => {
    if (visible() && ui) refresh();
    else schedule();
  });

  if (status) openDashboard();
  else lockOut(new AuthError(r.status, await errorText(r)));
  $('nav-host').hidden = false;
  document.body.dataset.host = '1';
  if (decodeURIComponent(location.hash.slice(1)).split('/')[0] === 'host') reroute?.();
  return true;
}
