// fetch() from a function: GET (or POST with `body`) the URL given in the params and return
// what came back. Networked images need the network: see README ("Functions", fetch).
//
//   js-launcher examples/fetch.js '{"url":"http://127.0.0.1:8080/json"}'
async function main({ url, method = 'GET', body, timeoutMs = 10000 }) {
  if (typeof url !== 'string') return { error: 'params.url (a string) is required' };
  const init = { method, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' };
  }
  const started = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return {
    status: res.status,
    ok: res.ok,
    url: res.url,
    redirected: res.redirected,
    contentType: res.headers.get('content-type'),
    length: text.length,
    body: json !== undefined ? json : text.slice(0, 1000),
    ms: Math.round(performance.now() - started) >= 0,
  };
}
