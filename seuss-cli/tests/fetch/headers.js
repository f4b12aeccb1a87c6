// Headers semantics: construction, case-insensitivity, combined values, set-cookie, iteration
// order, validation errors, immutable response headers, and headers from the server.
async function main({ base }) {
  const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.constructor.name, message: e.message }; } };
  const h = new Headers({ 'Content-Type': 'text/plain', 'X-B': ' padded\t' });
  h.append('x-a', '1');
  h.append('X-A', '2');
  h.append('Set-Cookie', 'a=1');
  h.append('set-cookie', 'b=2');
  const seen = [];
  h.forEach((v, k, self) => seen.push([k, v, self === h]));
  const out = {
    entries: [...h],
    keys: [...h.keys()],
    values: [...h.values()],
    seen,
    getA: h.get('X-a'),
    getCookie: h.get('set-cookie'),
    setCookies: h.getSetCookie(),
    hasB: h.has('x-B'),
    missing: h.get('nope'),
    fromEntries: Object.fromEntries(h),
  };
  h.set('x-a', 'replaced');
  h.delete('Content-Type');
  out.afterSetDelete = [...h];
  out.copy = [...new Headers(h)];
  out.fromPairs = [...new Headers([['b', '2'], ['a', '1'], ['b', '3']])];
  out.fromMap = [...new Headers(new Map([['m', 'v']]))];
  out.badName = attempt(() => new Headers({ 'bad name': 'x' }));
  out.badValue = attempt(() => new Headers({ a: 'x\ny' }));
  out.badPair = attempt(() => new Headers([['only-one']]));
  out.badGet = attempt(() => new Headers().get('a b'));
  out.badInit = attempt(() => new Headers(42));
  out.tag = Object.prototype.toString.call(h);
  const r = await fetch(base + '/headers');
  out.response = [...r.headers];
  out.responseCookie = r.headers.get('Set-Cookie');
  out.responseMulti = r.headers.get('x-multi');
  out.immutable = attempt(() => r.headers.set('x', 'y'));
  out.immutableDelete = attempt(() => r.headers.delete('x-multi'));
  return out;
}
