// Abort: AbortSignal.timeout cutting a slow head and a slow body, AbortController mid-flight,
// an already aborted signal, and timers firing while a fetch waits.
async function main({ base }) {
  const err = (e) => ({ name: e?.name ?? null, message: e?.message ?? String(e), code: e?.code ?? null, isDOMException: e instanceof DOMException });
  const out = {};
  try {
    await fetch(base + '/slow?ms=3000', { signal: AbortSignal.timeout(100) });
    out.slowHead = 'not cut';
  } catch (e) { out.slowHead = err(e); }
  try {
    const r = await fetch(base + '/slow-body?ms=3000', { signal: AbortSignal.timeout(150) });
    out.slowBodyStatus = r.status;
    await r.text();
    out.slowBody = 'not cut';
  } catch (e) { out.slowBody = err(e); }
  const c = new AbortController();
  const events = [];
  c.signal.addEventListener('abort', (ev) => events.push(`event:${ev.type}`));
  c.signal.onabort = () => events.push('onabort');
  setTimeout(() => { events.push('timer'); c.abort(); }, 50);
  try {
    await fetch(base + '/slow?ms=3000', { signal: c.signal });
  } catch (e) { out.controller = err(e); }
  out.events = events;
  out.signal = { aborted: c.signal.aborted, reason: err(c.signal.reason) };
  const pre = new AbortController();
  pre.abort(new Error('custom reason'));
  try { await fetch(base + '/json', { signal: pre.signal }); } catch (e) { out.preAborted = err(e); }
  try { AbortSignal.abort().throwIfAborted(); } catch (e) { out.throwIfAborted = err(e); }
  // Timers keep firing while a fetch waits for its response.
  const ticks = [];
  const iv = setInterval(() => ticks.push('tick'), 40);
  const r = await fetch(base + '/slow?ms=300');
  clearInterval(iv);
  out.tickedWhileWaiting = ticks.length >= 2;
  out.slowOk = await r.json();
  // A timeout signal that never fires does not keep the invocation alive (checked by the test's time limit).
  out.unfired = (await (await fetch(base + '/json', { signal: AbortSignal.timeout(30000) })).json()).hello;
  out.any = (() => { const a = new AbortController(); const s = AbortSignal.any([a.signal]); a.abort('r'); return [s.aborted, s.reason]; })();
  return out;
}
