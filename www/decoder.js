// Decoder view: hex or a capture in, the conversation PDU by PDU out. The
// decoding is the wasm core's (the same JSON as `kmsedge decode --json`);
// this file only lays it out. Fields carry data-field attributes so tests
// (and curious users) can find them.
//
// The decoder is a WebAssembly module of its own (pkg/decoder/, feature
// `web-decoder`), fetched the first time it is needed: when this view is
// opened (or about to be: the pointer or focus on its nav link), or a file is
// dropped. The page itself loads only the lookup module.
import { h, $, debounce } from './dom.js';

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
  const pending = setTimeout(() => { $('decode-summary').textContent = 'Loading the decoder…'; }, 100);
  try {
    m = await loadDecoder();
  } catch (e) {
    clearTimeout(pending);
    render({ error: { message: `Could not load the decoder's WebAssembly module: ${e}` } });
    return;
  }
  clearTimeout(pending);
  use(m);
}

const DIR = { c2s: 'client → host', s2c: 'host → client', '?': 'unknown direction' };

/** A definition list from [label, value, field] rows; null values are skipped. */
function kv(rows) {
  const dl = h('dl', { class: 'kv' });
  for (const [label, value, field] of rows) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('dt', {}, label), h('dd', { dataset: field ? { field } : {} }, value));
  }
  return dl;
}

const named = (o) => (o ? (o.name ? `${o.name} (${o.id})` : `${o.id} (not in the catalogue)`) : null);
const yesNo = (b) => (b ? 'yes' : 'no');

function syntax(s) {
  if (!s) return '—';
  let t = `${s.name} v${s.version}`;
  if (s.btfn_features) t += ` [features ${s.btfn_features.bits}${s.btfn_features.names.length ? `: ${s.btfn_features.names.join(', ')}` : ''}]`;
  return t;
}

function badge(text, kind, field) {
  return h('span', { class: `badge ${kind}`, dataset: field ? { field } : {} }, text);
}

function bind(b) {
  const rows = b.contexts.map((c) => h('tr', {},
    h('td', {}, String(c.context_id)),
    h('td', {}, syntax(c.abstract_syntax)),
    h('td', {}, c.transfer_syntaxes.map(syntax).join(' or '))));
  return [
    kv([['Max fragment (xmit / recv)', `${b.max_xmit_frag} / ${b.max_recv_frag}`], ['Association group', b.assoc_group]]),
    h('table', { dataset: { field: 'contexts' } },
      h('caption', { class: 'visually-hidden' }, 'Offered presentation contexts'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Context'), h('th', { scope: 'col' }, 'Interface'), h('th', { scope: 'col' }, 'Transfer syntax'))),
      h('tbody', {}, rows)),
  ];
}

function bindAck(a) {
  const rows = a.results.map((r) => {
    let outcome = r.result_name;
    if (r.reason_name) outcome += `: ${r.reason_name}`;
    if (r.accepted) outcome += ` (${syntax(r.syntax)})`;
    if (r.btfn_ack) outcome += ` (features ${r.btfn_ack.bits}${r.btfn_ack.names.length ? `: ${r.btfn_ack.names.join(', ')}` : ''})`;
    return h('tr', {},
      h('td', {}, r.context_id === null ? `#${r.index}` : String(r.context_id)),
      h('td', {}, syntax(r.offered)),
      h('td', {}, badge(r.accepted ? 'accepted' : r.btfn_ack ? 'negotiated' : 'rejected', r.accepted || r.btfn_ack ? 'ok' : 'bad'), ' ', outcome));
  });
  return [
    kv([
      ['Max fragment (xmit / recv)', `${a.max_xmit_frag} / ${a.max_recv_frag}`],
      ['Association group', a.assoc_group],
      ['Secondary address (host port)', a.secondary_address || '(empty)', 'secondary_address'],
    ]),
    h('table', { dataset: { field: 'results' } },
      h('caption', { class: 'visually-hidden' }, 'Context results'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Context'), h('th', { scope: 'col' }, 'Offered'), h('th', { scope: 'col' }, 'Result'))),
      h('tbody', {}, rows)),
  ];
}

function kmsRequest(k) {
  const integrity = k.integrity.check === 'mac'
    ? badge(k.integrity.valid ? 'MAC valid' : 'MAC INVALID', k.integrity.valid ? 'ok' : 'bad', 'integrity')
    : badge(k.integrity.valid ? 'decrypted, padding valid' : 'does not decrypt (padding invalid)', k.integrity.valid ? 'ok' : 'bad', 'integrity');
  const version = h('span', {}, h('span', { dataset: { field: 'version' } }, k.version),
    k.supported ? null : h('span', {}, ' ', badge('not a version hosts answer (4.0, 5.0, 6.0)', 'bad')));
  return h('section', { 'aria-label': 'KMS request', class: 'kms' }, h('h4', {}, 'KMS request'), kv([
    ['Protocol version', version],
    ['Integrity', integrity],
    ['Application', named(k.application), 'application'],
    ['Product (SKU)', named(k.sku), 'sku'],
    ['KMS counted id', named(k.kms_id), 'kms_id'],
    ['Client machine id (CMID)', k.cmid, 'cmid'],
    ['Previous CMID', k.previous_cmid, 'previous_cmid'],
    ['Workstation', k.workstation, 'workstation'],
    ['Licence status', k.license_status ? `${k.license_status.value} (${k.license_status.name})` : null, 'license_status'],
    ['Remaining in state', k.binding_expiration_minutes === undefined ? null : `${k.binding_expiration_minutes} minutes`, 'binding_expiration'],
    ['N policy (minimum count)', k.n_policy, 'n_policy'],
    ['Request time', k.request_time, 'request_time'],
    ['Virtual machine', k.vm === undefined ? null : yesNo(k.vm), 'vm'],
    ['Request IV', k.iv, 'iv'],
    ['Bytes after the message', k.trailing_bytes ? String(k.trailing_bytes) : null],
  ]));
}

function kmsResponse(k) {
  const v = k.verdict === 'verified' ? badge('verifies', 'ok', 'verdict')
    : k.verdict === 'failed' ? badge(`does NOT verify (${k.failed_check})`, 'bad', 'verdict')
      : badge('partly checked (request not in the input)', 'unknown', 'verdict');
  const p = k.epid_parts;
  const parts = p ? kv([
    ['Host platform id', p.platform_id],
    ['Group id', p.group_id, 'group_id'],
    ['CSVLK', p.csvlk],
    ['Key id', p.key_id],
    ['Channel', p.channel],
    ['LCID', p.lcid],
    ['Host OS build', p.host_os ? `${p.host_build} (${p.host_os})` : p.host_build, 'host_build'],
    ['CSVLK activation date', p.activation_date, 'activation_date'],
  ]) : h('p', { class: 'status' }, 'Not in the canonical ePID format.');
  const checks = h('ul', { class: 'checks', dataset: { field: 'checks' } },
    k.checks.map((c) => h('li', { class: c.outcome, dataset: { check: c.id, outcome: c.outcome } },
      `${c.what}: ${c.outcome}`)));
  return h('section', { 'aria-label': 'KMS response', class: 'kms' }, h('h4', {}, 'KMS response ', v), kv([
    ['Protocol version', k.version, 'version'],
    ['Host ePID', k.epid, 'epid'],
    ['HwId', k.hwid, 'hwid'],
    ['Client machine id (echo)', k.cmid, 'cmid'],
    ['Request time (echo)', k.request_time, 'request_time'],
    ['Current count', k.current_count, 'current_count'],
    ['Activation interval', `${k.activation_interval_minutes} minutes`, 'activation_interval'],
    ['Renewal interval', `${k.renewal_interval_minutes} minutes`, 'renewal_interval'],
    ['Count reaches N policy', k.count_sufficient === null ? null : yesNo(k.count_sufficient), 'count_sufficient'],
  ]), h('details', {}, h('summary', {}, 'ePID parts'), parts), h('h5', {}, 'Checks'), checks);
}

function kmsError(e) {
  return e ? h('p', { class: 'error', dataset: { field: 'kms_error' } }, e.message) : null;
}

function request(r) {
  return [
    kv([
      ['Context / opnum', `${r.context_id} / ${r.opnum}`],
      ['Transfer syntax', `${r.syntax} (${r.syntax_source})`, 'syntax'],
      ['Stub', `${r.stub_length} bytes (alloc_hint ${r.alloc_hint})`],
    ]),
    r.kms ? kmsRequest(r.kms) : null,
    kmsError(r.kms_error),
  ];
}

function response(r) {
  return [
    kv([
      ['Context', r.context_id],
      ['Transfer syntax', `${r.syntax} (${r.syntax_source})`, 'syntax'],
      ['Stub', `${r.stub_length} bytes (alloc_hint ${r.alloc_hint})`],
      ['Refused with', r.refusal ? `${r.refusal.hresult}${r.refusal.name ? ` ${r.refusal.name}` : ''}` : null, 'refusal'],
    ]),
    r.kms ? kmsResponse(r.kms) : null,
    kmsError(r.kms_error),
  ];
}

function item(it) {
  if (it.type === 'error') {
    return h('article', { class: 'pdu err', dataset: { type: 'error' } },
      h('h3', {}, 'Malformed input'), h('p', { class: 'error', dataset: { field: 'error' } }, it.message));
  }
  const hd = it.header;
  const meta = [DIR[it.direction], `${it.length} bytes at offset ${it.offset}`];
  if (hd) meta.push(`call id ${hd.call_id}`, `flags ${hd.flags} (${hd.flag_names.join(' ')})`);
  if (it.frame !== null) meta.push(`packet ${it.frame}`);
  let body = [];
  if (it.bind) body = bind(it.bind);
  else if (it.bind_ack) body = bindAck(it.bind_ack);
  else if (it.bind_nak) body = [kv([['Reason', `${it.bind_nak.reason} (${it.bind_nak.reason_name})`]])];
  else if (it.request) body = request(it.request);
  else if (it.response) body = response(it.response);
  else if (it.fault) body = [kv([['Status', `${it.fault.status} ${it.fault.status_name}`, 'fault_status'], ['Context', it.fault.context_id]])];
  else if (it.kms_request) body = [kmsRequest(it.kms_request)];
  else if (it.kms_response) body = [kmsResponse(it.kms_response)];
  return h('article', { class: `pdu ${it.direction}`, dataset: { type: it.type, index: it.index }, 'aria-label': `${it.type}, ${DIR[it.direction]}` },
    h('h3', {}, h('span', {}, `#${it.index} ${it.type}`), h('span', { class: 'meta' }, meta.join(' · '))),
    body);
}

export function render(report) {
  const err = $('decode-error');
  const out = $('conversation');
  out.replaceChildren();
  if (report.error) {
    err.textContent = report.error.message;
    err.hidden = false;
    $('decode-summary').textContent = '';
    return;
  }
  err.hidden = true;
  const convs = report.conversations;
  const nItems = convs.reduce((n, c) => n + c.items.filter((i) => i.type !== 'error').length, 0);
  const nErr = convs.reduce((n, c) => n + c.errors, 0);
  $('decode-summary').textContent = `${report.source}: ${report.bytes} bytes, ${convs.length} conversation${convs.length === 1 ? '' : 's'}, `
    + `${nItems} PDU${nItems === 1 ? '' : 's'}${nErr ? `, ${nErr} problem${nErr === 1 ? '' : 's'}` : ''}`;
  for (const n of report.notes) out.append(h('p', { class: 'note' }, n));
  convs.forEach((c, i) => {
    const sec = h('section', { class: 'conversation', 'aria-label': `Conversation ${i + 1}` });
    if (c.client) sec.append(h('h2', { class: 'conv-head' }, `Conversation ${i + 1}: ${c.client} → ${c.server}`));
    for (const n of c.notes) sec.append(h('p', { class: 'note' }, n));
    for (const it of c.items) sec.append(item(it));
    out.append(sec);
  });
}

function decodeText() {
  const text = $('hex').value;
  if (!text.trim()) { render({ error: null, conversations: [], notes: [], source: 'hex', bytes: 0 }); $('decode-summary').textContent = ''; return; }
  withDecoder((m) => {
    // The text may have changed while the module loaded.
    if ($('hex').value === text) render(JSON.parse(m.decode_hex(text)));
  });
}

async function decodeBlob(file) {
  const [bytes] = await Promise.all([file.arrayBuffer().then((b) => new Uint8Array(b)), loadDecoder().catch(() => null)]);
  withDecoder((m) => {
    render(JSON.parse(m.decode_file(bytes)));
    $('decode-summary').textContent = `${file.name} — ${$('decode-summary').textContent}`;
  });
}

export function setupDecoder() {
  // Intent to open the view: start fetching the module.
  const nav = document.querySelector('nav a[data-view=decoder]');
  for (const ev of ['pointerenter', 'focus']) nav.addEventListener(ev, () => { loadDecoder().catch(() => {}); }, { once: true });
  $('decode-btn').addEventListener('click', decodeText);
  $('hex').addEventListener('input', debounce(decodeText, 250));
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
