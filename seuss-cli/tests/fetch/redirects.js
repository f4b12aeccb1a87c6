// Redirects: status codes and the method rewrite rules, relative locations, manual and error
// modes, 20 redirects allowed, the 21st refused, a loop.
async function main({ base }) {
  const run = async (path, init) => {
    try {
      const r = await fetch(base + path, init);
      const text = await r.text();
      let body = text;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, url: r.url, redirected: r.redirected, location: r.headers.get('location'), body };
    } catch (e) {
      return { error: e.message, name: e.name, cause: e.cause && { name: e.cause.name, message: e.cause.message, code: e.cause.code ?? null } };
    }
  };
  const out = {};
  for (const code of [301, 302, 303, 307, 308]) {
    out[`get${code}`] = await run(`/redirect?code=${code}&to=/echo?after=${code}`);
    out[`post${code}`] = await run(`/redirect?code=${code}&to=/echo`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/x-custom', 'x-keep': 'k' } });
    out[`put${code}`] = await run(`/redirect?code=${code}&to=/echo`, { method: 'PUT', body: 'payload' });
  }
  out.relative = await run('/redirect?code=302&to=json');
  out.absolute = await run(`/redirect?code=302&to=${encodeURIComponent(base + '/json')}`);
  out.fragment = await run('/redirect?code=302&to=/json%23f2');
  out.manual = await run('/redirect?code=301&to=/json', { redirect: 'manual' });
  out.error = await run('/redirect?code=307&to=/json', { redirect: 'error' });
  out.twenty = await run('/chain?n=19');
  out.twentyOne = await run('/chain?n=20');
  out.loop = await run('/loop');
  out.badScheme = await run('/redirect?code=302&to=ftp://example/');
  out.noLocation = await run('/status?code=302');
  return out;
}
