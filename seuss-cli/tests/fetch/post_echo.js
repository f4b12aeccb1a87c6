// POST/PUT/PATCH bodies of every supported kind; the server echoes what it received.
async function main({ base }) {
  const echo = async (init, input = base + '/echo') => {
    const r = await fetch(input, init);
    const text = await r.text();
    try { return { status: r.status, ...JSON.parse(text) }; } catch { return { status: r.status, text }; }
  };
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
  return {
    json: await echo({ method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Trace': 'abc' }, body: JSON.stringify({ a: 1, b: ['x', 'ü'] }) }),
    text: await echo({ method: 'post', body: 'plain text ✓' }),
    form: await echo({ method: 'POST', body: new URLSearchParams({ name: 'Ada Lovelace', lang: 'en&fr', emoji: '🙂' }) }),
    arrayBuffer: await echo({ method: 'PUT', body: bytes.buffer }),
    typedArray: await echo({ method: 'POST', body: bytes.subarray(2, 6) }),
    dataView: await echo({ method: 'POST', body: new DataView(bytes.buffer, 1, 3) }),
    emptyPost: await echo({ method: 'POST' }),
    patch: await echo({ method: 'PATCH', body: 'p' }),
    lowercasePatch: await echo({ method: 'patch', body: 'p' }),
    del: await echo({ method: 'delete' }),
    headersObject: await echo({ headers: new Headers([['X-One', '1'], ['x-two', '2'], ['X-One', '3']]) }),
    requestObject: await echo(undefined, new Request(base + '/echo?from=request', { method: 'POST', body: 'from a Request', headers: { 'x-r': 'yes' } })),
    requestAndInit: await echo({ headers: { 'x-init': 'wins' } }, new Request(base + '/echo', { method: 'PUT', body: 'kept', headers: { 'x-r': 'dropped' } })),
    objectBody: await echo({ method: 'POST', body: { toString() { return 'stringified'; } } }),
  };
}
