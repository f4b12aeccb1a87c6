// Failures as Node's fetch reports them: TypeError "fetch failed" with a cause.
async function main({ base, closedPort }) {
  const err = (e) => ({
    type: e?.constructor?.name ?? null, name: e?.name, message: e?.message,
    cause: e?.cause ? { name: e.cause.name, message: e.cause.message, code: e.cause.code ?? null, errno: e.cause.errno ?? null, syscall: e.cause.syscall ?? null, address: e.cause.address ?? null, port: e.cause.port ?? null } : null,
  });
  const attempt = async (f) => { try { return { ok: await f() }; } catch (e) { return err(e); } };
  return {
    refused: await attempt(() => fetch(`http://127.0.0.1:${closedPort}/`)),
    closeMidBody: await attempt(async () => (await fetch(base + '/close-mid-body')).text()),
    closeBeforeHead: await attempt(() => fetch(base + '/close-before-head')),
    invalidUrl: await attempt(() => fetch('not a url')),
    relativeUrl: await attempt(() => fetch('/json')),
    badPort: await attempt(() => fetch('http://127.0.0.1:25/')),
    unknownScheme: await attempt(() => fetch('ftp://127.0.0.1/')),
    getWithBody: await attempt(() => fetch(base + '/json', { body: 'x' })),
    headWithBody: await attempt(() => fetch(base + '/json', { method: 'HEAD', body: 'x' })),
    badMethod: await attempt(() => fetch(base + '/json', { method: 'CONNECT' })),
    badRedirectMode: await attempt(() => fetch(base + '/json', { redirect: 'sometimes' })),
    credentials: await attempt(() => fetch('http://user:pw@127.0.0.1/')),
    bodyUsedTwice: await attempt(async () => { const r = await fetch(base + '/json'); await r.text(); return r.text(); }),
    invalidJson: await attempt(async () => { const r = await fetch(base + '/status?code=200'); try { await r.json(); return 'parsed'; } catch (e) { return e instanceof SyntaxError; } }),
    stillWorks: await attempt(async () => (await fetch(base + '/json')).status),
  };
}
