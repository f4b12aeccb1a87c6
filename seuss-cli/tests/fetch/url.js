// URL and URLSearchParams parsing and mutation.
function main() {
  const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.constructor.name, message: e.message, code: e.code ?? null }; } };
  const parts = (u) => ({ href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash });
  const inputs = [
    ['https://user:pa%20ss@Example.COM:443/a/./b/../c?x=1&y=%20#frag'],
    ['http://127.0.0.1:8080'],
    ['HTTP://[::1]:80/p'],
    ['../x?q#h', 'http://h/a/b/c'],
    ['//other/path', 'https://h/'],
    ['file:///tmp/a b'],
    ['mailto:ada@example.com'],
    ['http://ex.com/ä?ü=€#ö'],
    ['http://xn--nxasmq6b.com/'],
    ['http://bücher.de/'],
    ['  http://trim.me/  '],
    ['http://h/%zz'],
    ['data:text/plain,hi'],
  ];
  const parsed = inputs.map(([i, b]) => attempt(() => parts(new URL(i, b))));
  const errors = [
    attempt(() => new URL('nope')),
    attempt(() => new URL('/a', 'nope')),
    attempt(() => new URL('http://a b/')),
    attempt(() => new URL('http://h:99999/')),
  ];
  const u = new URL('http://h/p?a=1&b=2&a=3');
  const sp = u.searchParams;
  sp.append('c', 'x y&z');
  sp.delete('b');
  const afterParams = u.href;
  u.search = '?k=v';
  const afterSearch = [u.href, [...u.searchParams]];
  u.pathname = '/new path';
  u.hash = 'h1';
  u.port = '8080';
  u.hostname = 'example.org';
  u.protocol = 'https';
  u.username = 'me';
  const afterSetters = u.href;
  u.port = 'not a port';
  const afterBadPort = u.href;
  u.href = 'http://replaced/';
  const afterHref = [u.href, u.searchParams.size];
  const p = new URLSearchParams('?b=2&a=1&b=1&c=%20+d&e');
  const beforeSort = p.toString();
  p.sort();
  const q = new URLSearchParams({ x: '1', y: 'ä ö', z: '*-._~!\'()' });
  const r = new URLSearchParams([['a', '1'], ['a', '2']]);
  r.set('a', '3');
  const seen = [];
  q.forEach((v, k) => seen.push(k + '=' + v));
  return {
    parsed, errors, afterParams, afterSearch, afterSetters, afterBadPort, afterHref,
    beforeSort, sorted: p.toString(), entries: [...p], get: [p.get('b'), p.getAll('b'), p.get('none'), p.has('e'), p.has('b', '1'), p.has('b', '9')],
    record: q.toString(), seen, set: r.toString(), size: r.size,
    canParse: [URL.canParse('http://x'), URL.canParse('x'), URL.canParse('x', 'http://b/')],
    json: JSON.stringify({ u: new URL('http://j/') }),
    str: String(new URL('http://s/?a')),
    tags: [Object.prototype.toString.call(u), Object.prototype.toString.call(sp)],
    badPairs: attempt(() => new URLSearchParams([['a']])),
  };
}
