// A tiny static file server for the page tests: serves www/ on 127.0.0.1
// (port 0 = any free port) with the MIME types browsers insist on (wasm
// must be application/wasm for streaming compilation).
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export async function serve(root, port = 0) {
  const base = path.resolve(root);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    let p = path.normalize(path.join(base, decodeURIComponent(url.pathname)));
    if (!p.startsWith(base)) { res.writeHead(403).end(); return; }
    if (url.pathname.endsWith('/')) p = path.join(p, 'index.html');
    try {
      const body = await fs.readFile(p);
      res.writeHead(200, { 'content-type': TYPES[path.extname(p)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

// `node tests/browser/server.mjs [port]` serves www/ for a look by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const { url } = await serve(path.join(here, '../../www'), Number(process.argv[2] ?? 8000));
  console.log(`serving www/ at ${url}`);
}
