// The host dashboard's Events table: the event history of /api/events (one
// entry per request, as a genuine host's event 12290, and per DNS
// publishing attempt, 12293/12294), newest first, with filters, paging and
// a CSV download of the same filtered query (/api/events.csv, made by the
// host). host.js owns the token and the refresh; this module only builds
// the section and loads pages through the `api` functions it is given.
import { h, debounce } from './dom.js';
import { t, number, dateTime } from './i18n.js';
import { settingLabel, settingValue } from './settings.js';

// Labels are message keys, read when the section is built (in the page's language).
const PERIODS = [['', 'ev.any'], ['86400', 'ev.24h'], ['604800', 'ev.7d'], ['2592000', 'ev.30d']];
const HEAD = ['ev.col.time', 'ev.col.event', 'ev.col.result', 'ev.col.ws', 'ev.col.remote', 'ev.col.product', 'ev.col.count'];
const FILTER = { kind: '', result: '', period: '', workstation: '', product: '', cmid: '', offset: 0, limit: 25 };

/** The query string of a filter (times relative to `now`, Unix seconds). */
export function eventsQuery(f, now = Math.floor(Date.now() / 1000)) {
  const p = new URLSearchParams();
  if (f.kind) p.set('kind', f.kind);
  if (f.result) p.set('result', f.result);
  if (f.period) p.set('since', String(now - Number(f.period)));
  for (const k of ['workstation', 'product', 'cmid']) if (f[k].trim()) p.set(k, f[k].trim());
  return p;
}

const pad = (n) => String(n).padStart(2, '0');
const localTime = (unix) => dateTime(new Date(unix * 1000), { dateStyle: 'short', timeStyle: 'medium' });

function cells(e) {
  const ok = e.result === '0x00000000';
  const time = h('time', { datetime: new Date(e.time * 1000).toISOString() }, localTime(e.time));
  if (e.kind === 'setting') {
    // A change on the running host (kmsedge's own event 1000): the setting
    // and its new value.
    return [
      h('td', {}, time),
      h('td', {}, t('ev.setting', { id: String(e.event_id) })),
      h('td', { class: 'ok' }, e.result),
      h('td', { title: e.name ?? '' }, settingLabel(e.name ?? '')),
      h('td', {}, ''),
      h('td', {}, settingValue(e.message ?? '')),
      h('td', {}, ''),
    ];
  }
  if (e.kind === 'dns') {
    return [
      h('td', {}, time),
      h('td', {}, t(ok ? 'ev.dns.ok' : 'ev.dns.failed', { id: String(e.event_id) })),
      h('td', { class: ok ? 'ok' : 'bad', title: e.message ?? '' }, e.result),
      h('td', { class: 'mono' }, e.name ?? ''),
      h('td', {}, ''),
      h('td', { class: 'mono' }, e.server ?? ''),
      h('td', {}, ''),
    ];
  }
  return [
    h('td', {}, time),
    h('td', { title: t('ev.protocol', { protocol: e.protocol }) }, t('ev.request', { id: String(e.event_id) })),
    h('td', { class: ok ? 'ok' : 'bad' }, e.result),
    h('td', { title: e.cmid ?? '' }, e.workstation ?? ''),
    h('td', { class: 'mono' }, e.remote ?? ''),
    h('td', { title: e.sku_name ?? '' }, e.product ?? ''),
    h('td', { class: 'num' }, e.reported === null || e.reported === undefined ? '—' : number(e.reported)),
  ];
}

/**
 * Builds the section. `api(path)` answers JSON, `download(path, name)`
 * saves a file, both with the token; `fail(error, what)` reports an error.
 * Returns { el, load, reset }.
 */
export function eventsSection({ api, download, fail }) {
  const f = { ...FILTER };
  let seq = 0;
  let total = 0;
  const select = (id, label, key, options) => {
    const s = h('select', { id, 'aria-controls': 'hd-events' },
      options.map(([v, text]) => h('option', { value: v, selected: v === f[key] }, t(text))));
    s.addEventListener('change', () => { f[key] = s.value; f.offset = 0; load(); });
    return h('div', { class: 'field' }, h('label', { for: id }, t(label)), s);
  };
  const text = (id, label, key, placeholder) => {
    const i = h('input', { id, type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: t(placeholder), 'aria-controls': 'hd-events' });
    i.addEventListener('input', debounce(() => { f[key] = i.value; f.offset = 0; load(); }, 250));
    return h('div', { class: 'field' }, h('label', { for: id }, t(label)), i);
  };
  const tbody = h('tbody');
  const range = h('p', { class: 'status', id: 'hd-ev-range', role: 'status', 'aria-live': 'polite' });
  const pageOf = h('span', { class: 'status', id: 'hd-ev-page' });
  const status = h('span', { class: 'status', id: 'hd-ev-export-status', role: 'status', 'aria-live': 'polite' });
  // Newest first: the next page holds older events.
  const prev = h('button', { type: 'button', class: 'secondary', id: 'hd-ev-prev', onclick: () => { f.offset = Math.max(0, f.offset - f.limit); load(); } }, t('ev.newer'));
  const next = h('button', { type: 'button', class: 'secondary', id: 'hd-ev-next', onclick: () => { f.offset += f.limit; load(); } }, t('ev.older'));
  const csv = h('button', { type: 'button', id: 'hd-ev-csv', onclick: exportCsv }, t('ev.csv'));

  const el = h('section', { class: 'hd-section', 'aria-labelledby': 'hd-h-events' },
    h('h2', { id: 'hd-h-events' }, t('ev.title')),
    h('p', { class: 'hd-note' }, t('ev.note')),
    h('form', { class: 'fields', role: 'search', onsubmit: (e) => e.preventDefault() },
      select('hd-ev-kind', 'ev.kind', 'kind', [['', 'hd.all'], ['request', 'ev.kind.request'], ['dns', 'ev.kind.dns'], ['setting', 'ev.kind.setting']]),
      select('hd-ev-result', 'ev.result', 'result', [['', 'hd.all'], ['ok', 'ev.result.ok'], ['error', 'ev.result.error']]),
      select('hd-ev-period', 'ev.period', 'period', PERIODS),
      text('hd-ev-ws', 'ev.ws', 'workstation', 'ev.ws.placeholder'),
      text('hd-ev-product', 'ev.product', 'product', 'ev.product.placeholder'),
      text('hd-ev-cmid', 'ev.cmid', 'cmid', 'ev.cmid.placeholder')),
    h('div', { class: 'hd-toolbar' }, range, csv, status),
    h('div', { class: 'hd-scroll', role: 'region', 'aria-labelledby': 'hd-h-events', tabindex: '0' },
      h('table', { class: 'hd-events', id: 'hd-events' },
        h('caption', { class: 'visually-hidden' }, t('ev.caption')),
        h('thead', {}, h('tr', {}, HEAD.map((k) => h('th', { scope: 'col' }, t(k))))), tbody)),
    h('div', { class: 'hd-pager' }, prev, pageOf, next));

  function apply(page) {
    total = page.total;
    const key = JSON.stringify(page);
    if (tbody.dataset.key !== key) {
      tbody.dataset.key = key;
      tbody.replaceChildren(...(page.events.length
        ? page.events.map((e) => h('tr', { dataset: { kind: e.kind, eventId: e.event_id } }, cells(e)))
        : [h('tr', { class: 'hd-empty' }, h('td', { colspan: HEAD.length }, t('ev.none')))]));
    }
    const from = page.events.length ? page.offset + 1 : 0;
    range.textContent = page.total ? t('ev.range', { from, to: page.offset + page.events.length, n: page.total }) : t('ev.range.none');
    pageOf.textContent = t('hd.page', { page: Math.floor(page.offset / f.limit) + 1, pages: Math.max(1, Math.ceil(page.total / f.limit)) });
    prev.disabled = page.offset === 0;
    next.disabled = page.offset + f.limit >= page.total;
    csv.disabled = page.total === 0;
    el.dataset.total = String(page.total);
  }

  async function load() {
    const mine = ++seq;
    const p = eventsQuery(f);
    p.set('offset', String(f.offset));
    p.set('limit', String(f.limit));
    try {
      const page = await api(`api/events?${p}`);
      if (mine !== seq) return;
      if (page.total > 0 && f.offset >= page.total) {
        f.offset = Math.floor((page.total - 1) / f.limit) * f.limit;
        return load();
      }
      apply(page);
    } catch (e) {
      if (mine === seq) fail(e, t('ev.the.events'));
    }
  }

  async function exportCsv() {
    const p = eventsQuery(f);
    const d = new Date();
    const name = `kmsedge-events-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}.csv`;
    csv.disabled = true;
    status.textContent = t('hd.exporting');
    try {
      await download(`api/events.csv?${p}`, name);
      status.textContent = t('ev.saved', { name });
    } catch (e) {
      status.textContent = t('hd.export.failed', { message: e.message });
      fail(e, null);
    } finally {
      csv.disabled = total === 0;
    }
  }

  return { el, load };
}
