// A 1 MiB body (content-length) read as arrayBuffer, bytes checked; the same as text.
async function main({ base }) {
  const r = await fetch(base + '/big?size=1048576');
  const buf = new Uint8Array(await r.arrayBuffer());
  let bad = 0;
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== ((i * 7 + (i >> 8)) & 0xff)) bad++;
    sum = (sum + buf[i] * (i % 251 + 1)) % 1000000007;
  }
  const t = await (await fetch(base + '/big?size=300000')).text();
  return { length: buf.length, bad, sum, textLength: t.length, contentLength: r.headers.get('content-length') };
}
