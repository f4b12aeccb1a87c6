// Web APIs a function may use; reports properties that must hold in Node.js too.
function main() {
  const enc = new TextEncoder().encode('héllo');
  const dec = new TextDecoder().decode(enc);
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const r = Math.random();
  const cloned = structuredClone({ a: [1, { b: 2 }], d: new Date(0) });
  const t0 = performance.now();
  const uuid = crypto.randomUUID();
  return {
    encodedLength: enc.length,
    decoded: dec,
    randomBytes: bytes.length,
    randomInRange: r >= 0 && r < 1,
    clone: cloned.a[1].b,
    cloneDate: cloned.d instanceof Date && cloned.d.getTime() === 0,
    b64: btoa('hello'),
    unb64: atob('aGVsbG8='),
    uuidShape: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid),
    perfIsNumber: typeof t0 === 'number' && t0 >= 0,
    dateNowClose: Math.abs(Date.now() - new Date().getTime()) < 1000,
    isoDate: new Date(Date.UTC(2020, 1, 29, 12, 30)).toISOString(),
    json: JSON.stringify({ x: [1, 'two', null] }),
  };
}
