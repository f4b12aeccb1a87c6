// Request and Response objects on their own (no network), and clone().
async function main({ base }) {
  const attempt = async (f) => { try { return { ok: await f() }; } catch (e) { return { error: e.constructor.name, message: e.message }; } };
  const req = new Request(base + '/x?y#z', { method: 'post', body: JSON.stringify({ a: 1 }), headers: { 'X-A': 'b' } });
  const reqInfo = { method: req.method, url: req.url, headers: [...req.headers], redirect: req.redirect, aborted: req.signal.aborted };
  const cloned = req.clone();
  const reqBody = await req.json();
  const clonedText = await cloned.text();
  const res = new Response('hello', { status: 201, statusText: 'Made', headers: { 'X-R': '1' } });
  const resInfo = { status: res.status, ok: res.ok, statusText: res.statusText, url: res.url, type: res.type, redirected: res.redirected, headers: [...res.headers] };
  const rc = res.clone();
  const texts = [await res.text(), await rc.text(), res.bodyUsed, rc.bodyUsed];
  const j = Response.json({ k: [1, 2] }, { status: 202 });
  const e = Response.error();
  const redir = Response.redirect('http://h/next', 301);
  const bin = new Response(new Uint8Array([104, 105]));
  const empty = new Response();
  const fetched = await fetch(base + '/json');
  const fc = fetched.clone();
  return {
    reqInfo, reqBody, clonedText, resInfo, texts,
    json: [j.status, [...j.headers], await j.text()],
    error: [e.status, e.type, e.ok, e.statusText],
    redirect: [redir.status, redir.headers.get('location')],
    bin: [[...bin.headers], await bin.text()],
    empty: [empty.status, await empty.text(), [...empty.headers]],
    form: await new Response(new URLSearchParams('a=1&b=2')).text(),
    bytes: [...new Uint8Array(await new Response('ab').arrayBuffer())],
    fetchedClone: [await fetched.text(), (await fc.json()).hello, fetched.bodyUsed, fc.bodyUsed],
    used: await attempt(async () => { await res.text(); }),
    cloneUsed: await attempt(() => res.clone()),
    badStatus: await attempt(() => new Response('x', { status: 99 })),
    nullBodyStatus: await attempt(() => new Response('x', { status: 204 })),
    tags: [Object.prototype.toString.call(req), Object.prototype.toString.call(res)],
  };
}
