// Decoder view: hex or a capture in, the conversation PDU by PDU out. The
// decoding is the wasm core's (the same JSON as `kmsedge decode --json`);
// this file only lays it out. Fields carry data-field attributes so tests
// (and curious users) can find them.
//
// The decoder is a WebAssembly module of its own (pkg/decoder/, feature
// `web-decoder`), fetched the first time it is needed: when this view is
// opened (or about to be: the pointer or focus on its nav link), or a file is
// dropped. The page itself loads only the lookup module.
import { h, $ } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { translateDecoderError, translateDecoderNote } from './wasm-errors.js';

let decoder = null;

/** The decoder module, loaded and initialised once. */
export function loadDecoder() {
  if (!decoder) {
    decoder = import('./pkg/decoder/kmsedge_decoder.js').then(async (m) => {
      await m.default();
      window.kmsedgeDecoderReadyAt = performance.now();
      return m;
    });
    decoder.catch(() => { decoder = null; }); // a later use tries again
  }
  return decoder;
}

/** Runs `use(module)` once the decoder is loaded, saying so while it loads. */
async function withDecoder(use) {
  let m;
  const pending = setTimeout(() => { $('decode-summary').textContent = t('decoder.loading'); }, 100);
  try {
    m = await loadDecoder();
  } catch (e) {
    clearTimeout(pending);
    render({ error: { message: t('decoder.load.failed', { error: e }) } });
    return;
  }
  clearTimeout(pending);
  use(m);
}

const DIR_KEY = { c2s: 'dir.c2s', s2c: 'dir.s2c', '?': 'dir.unknown' };
const dir = (d) => t(DIR_KEY[d] ?? 'dir.unknown');

/** A definition list from [label, value, field] rows; null values are skipped. */
function kv(rows) {
  const dl = h('dl', { class: 'kv' });
  for (const [label, value, field] of rows) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('dt', {}, label), h('dd', { dataset: field ? { field } : {} }, value));
  }
  return dl;
}

const named = (o) => (o ? (o.name ? `${o.name} (${o.id})` : t('d.not.catalogue', { id: o.id })) : null);
const yesNo = (b) => t(b ? 'yes' : 'no');
const minutes = (n) => t('d.minutes', { n });
// How the decoder knows a PDU's transfer syntax (the wasm's fixed names).
const SOURCES = { negotiated: 'src.negotiated', 'offered, not seen accepted': 'src.offered', 'guessed from the stub layout': 'src.guessed', 'from the request': 'src.request' };
const source = (s) => (SOURCES[s] ? t(SOURCES[s]) : s);
// PDU types that are plain words get a translation; bind, bind_ack… stay the protocol's names.
const PTYPES = ['request', 'response', 'fault', 'kms_request', 'kms_response'];
const ptype = (type) => (PTYPES.includes(type) ? t(`ptype.${type}`) : type);

function syntax(s) {
  if (!s) return '—';
  let text = `${s.name} v${s.version}`;
  if (s.btfn_features) text += ` [${t('d.features')} ${s.btfn_features.bits}${s.btfn_features.names.length ? `: ${s.btfn_features.names.join(', ')}` : ''}]`;
  return text;
}

function badge(text, kind, field) {
  return h('span', { class: `badge ${kind}`, dataset: field ? { field } : {} }, text);
}

function bind(b) {
  const rows = b.contexts.map((c) => h('tr', {},
    h('td', {}, String(c.context_id)),
    h('td', {}, syntax(c.abstract_syntax)),
    h('td', {}, c.transfer_syntaxes.map(syntax).join(t('d.or')))));
  return [
    kv([[t('d.maxfrag'), `${b.max_xmit_frag} / ${b.max_recv_frag}`], [t('d.assoc'), b.assoc_group]]),
    h('table', { dataset: { field: 'contexts' } },
      h('caption', { class: 'visually-hidden' }, t('d.contexts.caption')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('d.context')), h('th', { scope: 'col' }, t('d.interface')), h('th', { scope: 'col' }, t('d.transfer')))),
      h('tbody', {}, rows)),
  ];
}

function bindAck(a) {
  const rows = a.results.map((r) => {
    let outcome = r.result_name;
    if (r.reason_name) outcome += `: ${r.reason_name}`;
    if (r.accepted) outcome += ` (${syntax(r.syntax)})`;
    if (r.btfn_ack) outcome += ` (${t('d.features')} ${r.btfn_ack.bits}${r.btfn_ack.names.length ? `: ${r.btfn_ack.names.join(', ')}` : ''})`;
    return h('tr', {},
      h('td', {}, r.context_id === null ? `#${r.index}` : String(r.context_id)),
      h('td', {}, syntax(r.offered)),
      h('td', {}, badge(t(r.accepted ? 'd.accepted' : r.btfn_ack ? 'd.negotiated' : 'd.rejected'), r.accepted || r.btfn_ack ? 'ok' : 'bad'), ' ', outcome));
  });
  return [
    kv([
      [t('d.maxfrag'), `${a.max_xmit_frag} / ${a.max_recv_frag}`],
      [t('d.assoc'), a.assoc_group],
      [t('d.secondary'), a.secondary_address || t('d.empty'), 'secondary_address'],
    ]),
    h('table', { dataset: { field: 'results' } },
      h('caption', { class: 'visually-hidden' }, t('d.results.caption')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('d.context')), h('th', { scope: 'col' }, t('d.offered')), h('th', { scope: 'col' }, t('d.result')))),
      h('tbody', {}, rows)),
  ];
}

function kmsRequest(k) {
  const integrity = k.integrity.check === 'mac'
    ? badge(t(k.integrity.valid ? 'd.mac.valid' : 'd.mac.invalid'), k.integrity.valid ? 'ok' : 'bad', 'integrity')
    : badge(t(k.integrity.valid ? 'd.padding.valid' : 'd.padding.invalid'), k.integrity.valid ? 'ok' : 'bad', 'integrity');
  const version = h('span', {}, h('span', { dataset: { field: 'version' } }, k.version),
    k.supported ? null : h('span', {}, ' ', badge(t('d.unsupported'), 'bad')));
  return h('section', { 'aria-label': t('d.kms.request'), class: 'kms' }, h('h4', {}, t('d.kms.request')), kv([
    [t('d.version'), version],
    [t('d.integrity'), integrity],
    [t('d.application'), named(k.application), 'application'],
    [t('d.sku'), named(k.sku), 'sku'],
    [t('d.kms_id'), named(k.kms_id), 'kms_id'],
    [t('d.cmid'), k.cmid, 'cmid'],
    [t('d.prev_cmid'), k.previous_cmid, 'previous_cmid'],
    [t('d.workstation'), k.workstation, 'workstation'],
    [t('d.license'), k.license_status ? `${k.license_status.value} (${k.license_status.name})` : null, 'license_status'],
    [t('d.remaining'), k.binding_expiration_minutes === undefined ? null : minutes(k.binding_expiration_minutes), 'binding_expiration'],
    [t('d.npolicy'), k.n_policy, 'n_policy'],
    [t('d.time'), k.request_time, 'request_time'],
    [t('d.vm'), k.vm === undefined ? null : yesNo(k.vm), 'vm'],
    [t('d.iv'), k.iv, 'iv'],
    [t('d.trailing'), k.trailing_bytes ? String(k.trailing_bytes) : null],
  ]));
}

function kmsResponse(k) {
  const v = k.verdict === 'verified' ? badge(t('d.verifies'), 'ok', 'verdict')
    : k.verdict === 'failed' ? badge(t('d.not.verify', { check: k.failed_check }), 'bad', 'verdict')
      : badge(t('d.partly'), 'unknown', 'verdict');
  const p = k.epid_parts;
  const parts = p ? kv([
    [t('d.platform'), p.platform_id],
    [t('d.group'), p.group_id, 'group_id'],
    [t('d.csvlk'), p.csvlk],
    [t('d.keyid'), p.key_id],
    [t('d.channel'), p.channel],
    [t('d.lcid'), p.lcid],
    [t('d.hostbuild'), p.host_os ? `${p.host_build} (${p.host_os})` : p.host_build, 'host_build'],
    [t('d.actdate'), p.activation_date, 'activation_date'],
  ]) : h('p', { class: 'status' }, t('d.noncanonical'));
  const checks = h('ul', { class: 'checks', dataset: { field: 'checks' } },
    k.checks.map((c) => h('li', { class: c.outcome, dataset: { check: c.id, outcome: c.outcome } },
      `${checkName(c)}: ${t(`outcome.${c.outcome}`)}`)));
  return h('section', { 'aria-label': t('d.kms.response'), class: 'kms' }, h('h4', {}, `${t('d.kms.response')} `, v), kv([
    [t('d.version'), k.version, 'version'],
    [t('d.epid'), k.epid, 'epid'],
    [t('d.hwid'), k.hwid, 'hwid'],
    [t('d.cmid.echo'), k.cmid, 'cmid'],
    [t('d.time.echo'), k.request_time, 'request_time'],
    [t('d.count'), k.current_count, 'current_count'],
    [t('d.act.interval'), minutes(k.activation_interval_minutes), 'activation_interval'],
    [t('d.ren.interval'), minutes(k.renewal_interval_minutes), 'renewal_interval'],
    [t('d.sufficient'), k.count_sufficient === null ? null : yesNo(k.count_sufficient), 'count_sufficient'],
  ]), h('details', {}, h('summary', {}, t('d.epid.parts')), parts), h('h5', {}, t('d.checks')), checks);
}

function kmsError(e) {
  return e ? h('p', { class: 'error', dataset: { field: 'kms_error' } }, translateDecoderError(e.message)) : null;
}

function request(r) {
  return [
    kv([
      [t('d.ctx.opnum'), `${r.context_id} / ${r.opnum}`],
      [t('d.transfer'), `${r.syntax} (${source(r.syntax_source)})`, 'syntax'],
      [t('d.stub'), t('d.stub.value', { n: r.stub_length, hint: r.alloc_hint })],
    ]),
    r.kms ? kmsRequest(r.kms) : null,
    kmsError(r.kms_error),
  ];
}

function response(r) {
  return [
    kv([
      [t('d.context'), r.context_id],
      [t('d.transfer'), `${r.syntax} (${source(r.syntax_source)})`, 'syntax'],
      [t('d.stub'), t('d.stub.value', { n: r.stub_length, hint: r.alloc_hint })],
      [t('d.refused'), r.refusal ? `${r.refusal.hresult}${r.refusal.name ? ` ${r.refusal.name}` : ''}` : null, 'refusal'],
    ]),
    r.kms ? kmsResponse(r.kms) : null,
    kmsError(r.kms_error),
  ];
}

function item(it) {
  if (it.type === 'error') {
    return h('article', { class: 'pdu err', dataset: { type: 'error' } },
      h('h3', {}, t('d.malformed')), h('p', { class: 'error', dataset: { field: 'error' } }, translateDecoderError(it.message)));
  }
  const hd = it.header;
  const meta = [dir(it.direction), t('d.bytes.at', { n: it.length, offset: it.offset })];
  if (hd) meta.push(t('d.callid', { id: hd.call_id }), t('d.flags', { flags: hd.flags, names: hd.flag_names.join(' ') }));
  if (it.frame !== null) meta.push(t('d.packet', { n: it.frame }));
  let body = [];
  if (it.bind) body = bind(it.bind);
  else if (it.bind_ack) body = bindAck(it.bind_ack);
  else if (it.bind_nak) body = [kv([[t('d.reason'), `${it.bind_nak.reason} (${it.bind_nak.reason_name})`]])];
  else if (it.request) body = request(it.request);
  else if (it.response) body = response(it.response);
  else if (it.fault) body = [kv([[t('d.status'), `${it.fault.status} ${it.fault.status_name}`, 'fault_status'], [t('d.context'), it.fault.context_id]])];
  else if (it.kms_request) body = [kmsRequest(it.kms_request)];
  else if (it.kms_response) body = [kmsResponse(it.kms_response)];
  return h('article', { class: `pdu ${it.direction}`, dataset: { type: it.type, index: it.index }, 'aria-label': `${ptype(it.type)}, ${dir(it.direction)}` },
    h('h3', {}, h('span', {}, `#${it.index} ${ptype(it.type)}`), h('span', { class: 'meta' }, meta.join(' · '))),
    body);
}

/** The last report shown and the file it came from, re-rendered on a change of language. */
let shown = null;

/** A check's name in the page's language, by its stable id. */
function checkName(c) {
  if (c.id === 'iv') return t(/differs/.test(c.what) ? 'check.iv.differ' : 'check.iv.equal');
  const key = `check.${c.id}`;
  const name = t(key);
  return name === key ? c.what : name;
}

export function render(report, file = null) {
  shown = { report, file };
  const err = $('decode-error');
  const out = $('conversation');
  out.replaceChildren();
  if (report.error) {
    err.textContent = translateDecoderError(report.error.message);
    err.hidden = false;
    $('decode-summary').textContent = '';
    return;
  }
  err.hidden = true;
  const convs = report.conversations;
  const nItems = convs.reduce((n, c) => n + c.items.filter((i) => i.type !== 'error').length, 0);
  const nErr = convs.reduce((n, c) => n + c.errors, 0);
  const counts = [t('d.summary.bytes', { n: report.bytes }), t('d.summary.convs', { n: convs.length }), t('d.summary.pdus', { n: nItems })];
  if (nErr) counts.push(t('d.summary.problems', { n: nErr }));
  $('decode-summary').textContent = `${file ? `${file} — ` : ''}${report.source}: ${counts.join(', ')}`;
  for (const n of report.notes) out.append(h('p', { class: 'note' }, translateDecoderNote(n)));
  convs.forEach((c, i) => {
    const sec = h('section', { class: 'conversation', 'aria-label': t('d.conversation', { n: i + 1 }) });
    if (c.client) sec.append(h('h2', { class: 'conv-head' }, t('d.conversation.head', { n: i + 1, client: c.client, server: c.server })));
    for (const n of c.notes) sec.append(h('p', { class: 'note' }, translateDecoderNote(n)));
    for (const it of c.items) sec.append(item(it));
    out.append(sec);
  });
}

// The decode of typed hex waits for a pause in typing; a click or a file
// cancels the wait, so a late hex decode never replaces a newer result.
let hexTimer = null;

function decodeText() {
  clearTimeout(hexTimer);
  const text = $('hex').value;
  if (!text.trim()) { render({ error: null, conversations: [], notes: [], source: 'hex', bytes: 0 }); $('decode-summary').textContent = ''; return; }
  withDecoder((m) => {
    // The text may have changed while the module loaded.
    if ($('hex').value === text) render(JSON.parse(m.decode_hex(text)));
  });
}

async function decodeBlob(file) {
  clearTimeout(hexTimer);
  const [bytes] = await Promise.all([file.arrayBuffer().then((b) => new Uint8Array(b)), loadDecoder().catch(() => null)]);
  withDecoder((m) => {
    render(JSON.parse(m.decode_file(bytes)), file.name);
  });
}

export function setupDecoder() {
  // Intent to open the view: start fetching the module.
  const nav = document.querySelector('nav a[data-view=decoder]');
  for (const ev of ['pointerenter', 'focus']) nav.addEventListener(ev, () => { loadDecoder().catch(() => {}); }, { once: true });
  $('decode-btn').addEventListener('click', decodeText);
  onLanguage(() => { if (shown && (shown.report.error || shown.report.conversations.length)) render(shown.report, shown.file); });
  $('hex').addEventListener('input', () => { clearTimeout(hexTimer); hexTimer = setTimeout(decodeText, 250); });
  $('clear-btn').addEventListener('click', () => {
    $('hex').value = '';
    $('file').value = '';
    decodeText();
    $('hex').focus();
  });
  $('file').addEventListener('change', () => {
    const f = $('file').files[0];
    if (f) decodeBlob(f);
  });
  const drop = $('drop');
  const view = $('view-decoder');
  view.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  view.addEventListener('dragleave', () => drop.classList.remove('over'));
  view.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) decodeBlob(f);
  });
}
