// GET a JSON document: status, headers, url, body.
async function main({ base }) {
  const r = await fetch(base + '/json?q=1#frag');
  return {
    status: r.status, ok: r.ok, statusText: r.statusText, url: r.url, type: r.type,
    redirected: r.redirected, headers: [...r.headers], contentType: r.headers.get('Content-Type'),
    bodyUsedBefore: r.bodyUsed, json: await r.json(), bodyUsedAfter: r.bodyUsed,
  };
}
