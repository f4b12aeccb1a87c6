// Local HTTP server for the fetch tests (seuss-cli/tests/fetch_host.rs): listens on 127.0.0.1
// only, prints {"port":N} as its first stdout line, and exits by itself when its stdin closes
// (the test process ended) or after LIFETIME_MS, whichever comes first.
//
//   node fetch-server.mjs [LIFETIME_MS]
//
// Responses carry no Date header, so results are deterministic.
import http from 'node:http';

const lifetime = Number(process.argv[2] ?? 120000);

const json = (res, status, value, extra = {}) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
};

const readBody = (req) => new Promise((resolve, reject) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks)));
  req.on('error', reject);
});

// Pending /barrier requests by key.
const barriers = new Map();

// Requests served per connection (keep-alive checks).
const perSocket = new WeakMap();

const routes = {
  '/json': (req, res) => json(res, 200, { hello: 'world', n: [1, 2, 3], nested: { ok: true } }),
  '/text': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('\uFEFFgrüße, 世界 🌍');
  },
  '/echo': async (req, res, url) => {
    const body = await readBody(req);
    json(res, 200, {
      method: req.method,
      path: url.pathname,
      query: url.search,
      contentType: req.headers['content-type'] ?? null,
      contentLength: req.headers['content-length'] ?? null,
      transferEncoding: req.headers['transfer-encoding'] ?? null,
      xHeaders: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-')).sort()),
      authorization: req.headers.authorization ?? null,
      bodyHex: body.length <= 64 ? body.toString('hex') : null,
      bodyLength: body.length,
      bodyText: body.toString('utf8'),
    });
  },
  '/redirect': (req, res, url) => {
    const code = Number(url.searchParams.get('code') ?? 302);
    res.writeHead(code, { location: url.searchParams.get('to') ?? '/echo', 'content-length': 0 });
    res.end();
  },
  '/chain': (req, res, url) => {
    // /chain?n=K redirects K times, then lands on /echo.
    const n = Number(url.searchParams.get('n') ?? 0);
    const to = n > 0 ? `/chain?n=${n - 1}` : '/echo?landed=1';
    res.writeHead(302, { location: to, 'content-length': 0 });
    res.end();
  },
  '/loop': (req, res) => {
    res.writeHead(301, { location: '/loop', 'content-length': 0 });
    res.end();
  },
  '/status': (req, res, url) => {
    const code = Number(url.searchParams.get('code') ?? 404);
    const body = `status ${code}`;
    res.writeHead(code, url.searchParams.get('reason') ?? undefined, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(code === 204 || code === 304 ? undefined : body);
  },
  '/big': (req, res, url) => {
    const size = Number(url.searchParams.get('size') ?? 1048576);
    // Byte i is (i * 7 + (i >> 8)) & 0xff: a pattern with a period of 65536 bytes.
    const period = Buffer.alloc(65536);
    for (let i = 0; i < period.length; i++) period[i] = (i * 7 + (i >> 8)) & 0xff;
    const buf = size > 0 ? Buffer.alloc(size, period) : Buffer.alloc(0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    res.end(buf);
  },
  '/chunked': async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (let i = 0; i < 5; i++) {
      res.write(`chunk ${i};`.repeat(i + 1));
      await new Promise((r) => setTimeout(r, 20));
    }
    res.end('end');
  },
  '/slow': (req, res, url) => {
    const ms = Number(url.searchParams.get('ms') ?? 2000);
    const t = setTimeout(() => json(res, 200, { slow: ms }), ms);
    res.on('close', () => clearTimeout(t));
  },
  '/slow-body': (req, res, url) => {
    const ms = Number(url.searchParams.get('ms') ?? 2000);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
    res.write('12345');
    const t = setTimeout(() => res.end('67890'), ms);
    res.on('close', () => clearTimeout(t));
  },
  '/close-mid-body': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
    res.write('only ten b');
    setTimeout(() => res.socket.destroy(), 20);
  },
  '/close-before-head': (req, res) => res.socket.destroy(),
  '/until-close': (req, res) => {
    res.socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nbody delimited by close');
  },
  '/headers': (req, res) => {
    res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2']);
    res.setHeader('X-Multi', ['one', 'two']);
    res.setHeader('X-Mixed-Case', 'Value  with  spaces');
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('Content-Length', 2);
    res.end('ok');
  },
  '/count': (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    json(res, 200, { servedOnThisConnection: n });
  },
  '/barrier': (req, res, url) => {
    // Answers the N requests with the same key only once all N are pending at the same time.
    const key = url.searchParams.get('key');
    const n = Number(url.searchParams.get('n') ?? 2);
    const waiting = barriers.get(key) ?? [];
    waiting.push({ res, i: Number(url.searchParams.get('i')) });
    barriers.set(key, waiting);
    if (waiting.length === n) {
      barriers.delete(key);
      for (const w of waiting) json(w.res, 200, { i: w.i, waited: n });
    }
  },
  '/tiny': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  },
};

const server = http.createServer(async (req, res) => {
  res.sendDate = false;
  const url = new URL(req.url, 'http://127.0.0.1');
  const route = routes[url.pathname];
  try {
    if (route) await route(req, res, url);
    else json(res, 404, { error: 'no such route', path: url.pathname });
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
const stop = () => process.exit(0);
setTimeout(stop, lifetime).unref();
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
