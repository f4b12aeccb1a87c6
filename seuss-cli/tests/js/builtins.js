function main() {
  const out = {};
  const desc = (obj, key) => {
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (!d) return null;
    const r = { enumerable: d.enumerable, configurable: d.configurable };
    if ('value' in d) { r.writable = d.writable; r.type = typeof d.value; } else { r.get = typeof d.get; r.set = typeof d.set; }
    const f = 'value' in d ? d.value : d.get;
    if (typeof f === 'function') {
      r.length = f.length; r.name = f.name;
      let constructs = true; try { Reflect.construct(String, [], f); } catch (e) { constructs = false; }
      r.constructor = constructs;
      r.lengthDesc = JSON.stringify(Object.getOwnPropertyDescriptor(f, 'length'));
      r.nameDesc = JSON.stringify(Object.getOwnPropertyDescriptor(f, 'name'));
    }
    return r;
  };
  for (const g of ['console', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask', 'structuredClone', 'atob', 'btoa', 'TextEncoder', 'TextDecoder', 'crypto', 'performance', 'Crypto', 'Performance']) out[g] = desc(globalThis, g);
  out['Math.random'] = desc(Math, 'random');
  for (const k of ['log', 'error', 'warn', 'info', 'debug']) out['console.' + k] = desc(console, k);
  const cp = Object.getPrototypeOf(crypto);
  for (const k of ['getRandomValues', 'randomUUID']) { out['crypto.' + k] = desc(crypto, k); out['Crypto.prototype.' + k] = desc(cp, k); }
  const pp = Object.getPrototypeOf(performance);
  for (const k of ['now', 'timeOrigin', 'toJSON']) { out['performance.' + k] = desc(performance, k); out['Performance.prototype.' + k] = desc(pp, k); }
  out.cryptoTag = Object.prototype.toString.call(crypto);
  out.perfTag = Object.prototype.toString.call(performance);
  try { new Math.random(); out.newRandom = 'no error'; } catch (e) { out.newRandom = e.constructor.name; }
  return out;
}
