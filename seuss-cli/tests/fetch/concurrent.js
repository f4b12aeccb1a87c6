// Several fetches in flight at once: the server's barrier answers only when all N requests
// are pending together, so a client that ran them one by one would hang (and be cut by the
// timeout signal).
async function main({ base }) {
  const n = 6;
  const key = 'k' + Math.floor(Math.random() * 1e9);
  const signal = AbortSignal.timeout(10000);
  const results = await Promise.all(Array.from({ length: n }, (_, i) =>
    fetch(`${base}/barrier?key=${key}&n=${n}&i=${i}`, { signal }).then((r) => r.json())));
  const mixed = await Promise.all([
    fetch(base + '/json').then((r) => r.json()).then((j) => j.hello),
    fetch(base + '/big?size=200000').then((r) => r.arrayBuffer()).then((b) => b.byteLength),
    fetch(base + '/chunked').then((r) => r.text()).then((t) => t.length),
    new Promise((resolve) => setTimeout(() => resolve('timer'), 10)),
  ]);
  return { results: results.map((r) => r.i), arrived: results.map((r) => r.waited), mixed };
}
