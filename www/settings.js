// The host dashboard's Settings section: the fields of the Volume Activation
// Tools wizard's configuration page (KMS port, DNS publishing and the record
// it publishes, priority, activation and renewal intervals) and the host
// keys (slmgr /ipk, /upk), read from GET api/settings and changed with one
// PUT api/settings per field, as one slmgr verb each (the host validates
// again, stores the change over its start-up configuration and logs an
// event). Values are checked inline before anything is sent; a change that
// clients notice (port, intervals, host keys) asks for confirmation first.
// host.js owns the token; this module gets `api(path)` and `put(path, body)`.
import { h } from './dom.js';

// Every string this module shows, in one place (for the message catalogue).
const T = {
  heading: 'Settings',
  intro: 'As on the configuration page of the Volume Activation Tools wizard. A change is kept by the host over its start-up configuration and appears in the event history.',
  port: 'KMS TCP port',
  portHelp: 'Clients find the port in the SRV record or are told it (slmgr /skms host:port).',
  dns: 'Publish the SRV record in DNS',
  dnsRecord: 'Record published',
  dnsNone: 'none',
  priority: 'KMS priority',
  low: 'Low',
  normal: 'Normal',
  activation: 'Activation interval (minutes)',
  activationHelp: 'How often a client that is not activated retries.',
  renewal: 'Renewal interval (minutes)',
  renewalHelp: 'How often an activated client renews.',
  keys: 'Host keys',
  keysNone: 'None installed: the host holds its default keys.',
  install: 'Install host key',
  installHelp: 'A KMS host key (CSVLK) of the organisation, 25 characters; shown afterwards by its last five only.',
  uninstall: 'Uninstall',
  apply: 'Apply changes',
  confirmTitle: 'These changes affect the clients:',
  confirm: 'Apply',
  cancel: 'Cancel',
  nothing: 'Nothing to change.',
  saved: 'Settings applied.',
  changedAtRuntime: 'Changed on the running host: ',
  notPort: 'A TCP port from 1 to 65535.',
  notMinutes: 'Minutes from 15 to 43200.',
  notKey: 'Five groups of five letters and digits (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX).',
  noPort: 'none of its own',
  refused: (what, why) => `${what}: ${why}`,
  affects: {
    port: (v) => `the KMS port becomes ${v}`,
    activation_interval: (v) => `clients not yet activated retry every ${v} minutes`,
    renewal_interval: (v) => `activated clients renew every ${v} minutes`,
    install_key: (v) => `host key …${v} is installed: clients get a new ePID`,
    uninstall_key: (v) => `host key …${v} is uninstalled: clients get the default ePID`,
  },
};

const MINUTES = [15, 43200];

/** '' when `v` is valid for `kind`, else what it should be. */
export function invalid(kind, v) {
  const t = String(v).trim();
  if (kind === 'port') return /^\d{1,5}$/.test(t) && Number(t) >= 1 && Number(t) <= 65535 ? '' : T.notPort;
  if (kind === 'minutes') return /^\d{1,5}$/.test(t) && Number(t) >= MINUTES[0] && Number(t) <= MINUTES[1] ? '' : T.notMinutes;
  if (kind === 'key') return /^[A-Za-z0-9]{5}(-?[A-Za-z0-9]{5}){4}$/.test(t) ? '' : T.notKey;
  return '';
}

function numberField(id, label, help, kind) {
  const input = h('input', { id, type: 'text', inputmode: 'numeric', autocomplete: 'off', 'aria-describedby': `${id}-help ${id}-error` });
  const error = h('small', { id: `${id}-error`, class: 'st-error', role: 'alert', hidden: true });
  const check = () => {
    const why = input.disabled ? '' : invalid(kind, input.value);
    error.textContent = why;
    error.hidden = !why;
    input.setAttribute('aria-invalid', why ? 'true' : 'false');
    return !why;
  };
  input.addEventListener('input', check);
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), input, h('small', { id: `${id}-help` }, help), error);
  return { el, input, check };
}

/** Builds the section. Returns { el, load }. */
export function settingsSection({ api, put, fail }) {
  let current = null;
  const port = numberField('st-port', T.port, T.portHelp, 'port');
  const ai = numberField('st-ai', T.activation, T.activationHelp, 'minutes');
  const ri = numberField('st-ri', T.renewal, T.renewalHelp, 'minutes');
  const dns = h('input', { id: 'st-dns', type: 'checkbox' });
  const record = h('code', { id: 'st-dns-record' });
  const dnsNote = h('small', { id: 'st-dns-note' });
  const priority = h('select', { id: 'st-priority' },
    h('option', { value: 'normal' }, T.normal), h('option', { value: 'low' }, T.low));
  const priorityNote = h('small', { id: 'st-priority-note' });
  const keys = h('ul', { id: 'st-keys', class: 'hd-plain' });
  const key = numberField('st-key', T.install, T.installHelp, 'key');
  key.input.setAttribute('inputmode', 'text');
  key.input.setAttribute('spellcheck', 'false');
  const changedLine = h('p', { id: 'st-changed', class: 'hd-note' });
  const status = h('p', { id: 'st-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const errorBox = h('p', { id: 'st-error', class: 'error', role: 'alert', hidden: true });
  const confirmList = h('ul', { id: 'st-confirm-list' });
  const confirmBox = h('div', { id: 'st-confirm', class: 'st-confirm', role: 'alertdialog', 'aria-labelledby': 'st-confirm-title', hidden: true },
    h('p', { id: 'st-confirm-title' }, T.confirmTitle), confirmList,
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'st-confirm-yes', onclick: () => commit(pending) }, T.confirm),
      h('button', { type: 'button', id: 'st-confirm-no', class: 'secondary', onclick: () => { confirmBox.hidden = true; pending = []; } }, T.cancel)));
  let pending = [];

  /** The changes the form holds, in slmgr's order. */
  function changes(extra = []) {
    if (!current) return [];
    const out = [];
    if (current.port !== null && port.input.value.trim() !== String(current.port)) out.push({ setting: 'port', value: port.input.value.trim() });
    if (dns.checked !== current.dns_publishing) out.push({ setting: 'dns_publishing', value: String(dns.checked) });
    if (priority.value !== current.priority) out.push({ setting: 'priority', value: priority.value });
    if (ai.input.value.trim() !== String(current.activation_interval)) out.push({ setting: 'activation_interval', value: ai.input.value.trim() });
    if (ri.input.value.trim() !== String(current.renewal_interval)) out.push({ setting: 'renewal_interval', value: ri.input.value.trim() });
    if (key.input.value.trim()) out.push({ setting: 'install_key', value: key.input.value.trim() });
    return out.concat(extra);
  }

  function shown(c) {
    if (c.setting === 'install_key') return c.value.replace(/[^A-Za-z0-9]/g, '').slice(-5).toUpperCase();
    return c.value;
  }

  function ask(list) {
    const fields = [port, ai, ri];
    if (key.input.value.trim()) fields.push(key);
    if (!fields.map((f) => f.check()).every(Boolean)) return;
    if (!list.length) { status.textContent = T.nothing; return; }
    const notable = list.filter((c) => T.affects[c.setting]);
    if (!notable.length) { commit(list); return; }
    pending = list;
    confirmList.replaceChildren(...notable.map((c) => h('li', {}, T.affects[c.setting](shown(c)))));
    confirmBox.hidden = false;
    document.getElementById('st-confirm-yes').focus();
  }

  async function commit(list) {
    confirmBox.hidden = true;
    pending = [];
    errorBox.hidden = true;
    for (const c of list) {
      try {
        current = await put('api/settings', c);
      } catch (e) {
        if (fail(e)) return;
        errorBox.textContent = T.refused(c.setting, e.message);
        errorBox.hidden = false;
        await load();
        return;
      }
    }
    key.input.value = '';
    fill(current);
    status.textContent = T.saved;
  }

  function fill(s) {
    current = s;
    port.input.value = s.port === null ? '' : String(s.port);
    port.input.disabled = s.port === null;
    if (s.port === null) port.input.placeholder = T.noPort;
    dns.checked = s.dns_publishing;
    record.textContent = s.dns_record ?? T.dnsNone;
    dnsNote.textContent = s.notes.dns_publishing ?? '';
    priority.value = s.priority;
    priorityNote.textContent = s.notes.priority ?? '';
    ai.input.value = String(s.activation_interval);
    ri.input.value = String(s.renewal_interval);
    for (const f of [port, ai, ri]) f.check();
    keys.replaceChildren(...(s.host_keys.length ? s.host_keys.map((k) => h('li', { dataset: { partial: k.partial } },
      h('span', { class: 'mono' }, `…${k.partial}`), ` ${k.csvlk_name} `,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `${T.uninstall} …${k.partial}`,
        onclick: () => ask([{ setting: 'uninstall_key', value: k.partial }]) }, T.uninstall)))
      : [h('li', { class: 'status' }, T.keysNone)]));
    changedLine.textContent = s.changed.length ? T.changedAtRuntime + s.changed.join(', ') : '';
  }

  async function load() {
    try {
      fill(await api('api/settings'));
    } catch (e) {
      if (fail(e)) return;
      errorBox.textContent = T.refused(T.heading, e.message);
      errorBox.hidden = false;
    }
  }

  const form = h('form', { id: 'st-form', class: 'fields', onsubmit: (e) => { e.preventDefault(); ask(changes()); } },
    port.el,
    h('div', { class: 'field' }, h('label', { class: 'hd-check' }, dns, ` ${T.dns}`),
      h('small', {}, `${T.dnsRecord}: `, record), dnsNote),
    h('div', { class: 'field' }, h('label', { for: 'st-priority' }, T.priority), priority, priorityNote),
    ai.el, ri.el,
    h('div', { class: 'field wide' }, h('p', { class: 'hd-sub' }, T.keys), keys),
    key.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'st-apply' }, T.apply)));
  const el = h('section', { class: 'hd-section', id: 'hd-settings', 'aria-labelledby': 'hd-h-settings' },
    h('h2', { id: 'hd-h-settings' }, T.heading), h('p', { class: 'hd-note' }, T.intro),
    changedLine, form, confirmBox, errorBox, status);
  return { el, load };
}
