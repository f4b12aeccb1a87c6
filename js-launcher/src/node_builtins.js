  // Node.js built-in modules offered to functions (spliced into prelude.js by engine.rs; it
  // sees the prelude's private bindings). Each is a small implementation of the part of the
  // Node API that packages commonly use; anything else is missing, not faked. Modules not
  // listed here are refused by requireBuiltin with an error naming the module.

  builtinFactories.path = () => {
    const normalizeParts = (parts, absolute) => {
      const out = [];
      for (const p of parts) {
        if (p === '' || p === '.') continue;
        if (p === '..') { if (out.length > 0 && out[out.length - 1] !== '..') out.pop(); else if (!absolute) out.push('..'); } else out.push(p);
      }
      return out;
    };
    const normalize = (p) => {
      if (p === '') return '.';
      const absolute = p.startsWith('/');
      const trailing = p.endsWith('/');
      let r = normalizeParts(p.split('/'), absolute).join('/');
      if (r === '' && !absolute) r = '.';
      if (r !== '' && trailing) r += '/';
      return (absolute ? '/' : '') + r;
    };
    const join = (...parts) => { const j = parts.filter((p) => p !== '').join('/'); return j === '' ? '.' : normalize(j); };
    const resolve = (...parts) => {
      let r = '';
      for (let i = parts.length - 1; i >= 0 && !r.startsWith('/'); i--) if (parts[i] !== '') r = parts[i] + (r === '' ? '' : '/' + r);
      if (!r.startsWith('/')) r = '/function' + (r === '' ? '' : '/' + r);
      const n = '/' + normalizeParts(r.split('/'), true).join('/');
      return n;
    };
    const dirname = (p) => {
      if (p === '') return '.';
      const s = p.replace(/\/+$/, '');
      if (s === '') return '/';
      const i = s.lastIndexOf('/');
      if (i < 0) return '.';
      if (i === 0) return '/';
      return s.slice(0, i).replace(/\/+$/, '') || '/';
    };
    const basename = (p, ext) => {
      const s = p.replace(/\/+$/, '');
      let b = s.slice(s.lastIndexOf('/') + 1);
      if (ext !== undefined && b.endsWith(ext) && b !== ext) b = b.slice(0, b.length - ext.length);
      return b;
    };
    const extname = (p) => {
      const b = basename(p);
      const i = b.lastIndexOf('.');
      return i <= 0 ? '' : b.slice(i);
    };
    const relative = (from, to) => {
      const f = resolve(from).split('/').filter(Boolean);
      const t = resolve(to).split('/').filter(Boolean);
      let i = 0;
      while (i < f.length && i < t.length && f[i] === t[i]) i++;
      return [...f.slice(i).map(() => '..'), ...t.slice(i)].join('/');
    };
    const parsePath = (p) => {
      const root = p.startsWith('/') ? '/' : '';
      const base = basename(p);
      const ext = extname(p);
      const dir = dirname(p);
      return { root, dir: dir === '.' && !p.includes('/') ? '' : dir, base, ext, name: ext ? base.slice(0, base.length - ext.length) : base };
    };
    const format = (o) => {
      const dir = o.dir || o.root || '';
      const base = o.base || (o.name || '') + (o.ext || '');
      return dir === '' ? base : dir === o.root ? dir + base : dir + '/' + base;
    };
    const path = { sep: '/', delimiter: ':', normalize, join, resolve, dirname, basename, extname, relative,
      isAbsolute: (p) => p.startsWith('/'), parse: parsePath, format, toNamespacedPath: (p) => p };
    path.posix = path;
    return path;
  };

  builtinFactories.events = () => {
    class EventEmitter {
      constructor() { this._events = create(null); this._maxListeners = undefined; }
      _list(name) { if (this._events === undefined) this._events = create(null); return this._events[name] || (this._events[name] = []); }
      on(name, listener) { this.emit('newListener', name, listener); this._list(name).push(listener); return this; }
      addListener(name, listener) { return this.on(name, listener); }
      prependListener(name, listener) { this._list(name).unshift(listener); return this; }
      once(name, listener) {
        const wrapper = (...args) => { this.removeListener(name, wrapper); return apply(listener, this, args); };
        wrapper.listener = listener;
        return this.on(name, wrapper);
      }
      removeListener(name, listener) {
        const list = this._list(name);
        const i = list.findIndex((l) => l === listener || l.listener === listener);
        if (i >= 0) list.splice(i, 1);
        return this;
      }
      off(name, listener) { return this.removeListener(name, listener); }
      removeAllListeners(name) { if (name === undefined) this._events = create(null); else this._list(name).length = 0; return this; }
      emit(name, ...args) {
        const list = this._events === undefined ? undefined : this._events[name];
        if (list === undefined || list.length === 0) {
          if (name === 'error') throw args[0] instanceof ErrorCtor ? args[0] : new ErrorCtor('Unhandled error. (' + StringCtor(args[0]) + ')');
          return false;
        }
        for (const l of list.slice()) apply(l, this, args);
        return true;
      }
      listeners(name) { return this._list(name).map((l) => l.listener || l); }
      rawListeners(name) { return this._list(name).slice(); }
      listenerCount(name) { return this._list(name).length; }
      eventNames() { return keys(this._events).filter((k) => this._events[k].length > 0); }
      setMaxListeners(n) { this._maxListeners = n; return this; }
      getMaxListeners() { return this._maxListeners === undefined ? EventEmitter.defaultMaxListeners : this._maxListeners; }
    }
    EventEmitter.defaultMaxListeners = 10;
    EventEmitter.EventEmitter = EventEmitter;
    EventEmitter.once = (emitter, name) => new Promise((resolve, reject) => {
      emitter.once(name, (...args) => resolve(args));
      if (name !== 'error') emitter.once('error', reject);
    });
    return EventEmitter;
  };

  builtinFactories.util = () => {
    const inspect = (value, depth = 2) => {
      const seen = [];
      const go = (v, d) => {
        if (typeof v === 'string') return d === 0 ? v : `'${v}'`;
        if (typeof v === 'function') return `[Function: ${v.name || '(anonymous)'}]`;
        if (typeof v === 'bigint') return `${v}n`;
        if (typeof v === 'symbol') return v.toString();
        if (v === null || typeof v !== 'object') return StringCtor(v);
        if (v instanceof ErrorCtor) return v.stack || `${v.name}: ${v.message}`;
        if (seen.includes(v)) return '[Circular *1]';
        if (d > depth) return Array.isArray(v) ? '[Array]' : '[Object]';
        seen.push(v);
        const r = Array.isArray(v)
          ? (v.length === 0 ? '[]' : `[ ${v.map((x) => go(x, d + 1)).join(', ')} ]`)
          : (keys(v).length === 0 ? '{}' : `{ ${keys(v).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${go(v[k], d + 1)}`).join(', ')} }`);
        seen.pop();
        return r;
      };
      return go(value, 0);
    };
    const format = (f, ...args) => {
      if (typeof f !== 'string') return [f, ...args].map((a) => (typeof a === 'string' ? a : inspect(a, 2))).join(' ');
      let i = 0;
      let s = f.replace(/%[sdifjoO%]/g, (m) => {
        if (m === '%%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (m) {
          case '%s': return typeof a === 'string' ? a : typeof a === 'object' && a !== null ? inspect(a, 1) : StringCtor(a);
          case '%d': case '%i': return typeof a === 'bigint' ? `${a}n` : StringCtor(m === '%i' ? parseInt(a) : Number(a));
          case '%f': return StringCtor(parseFloat(a));
          case '%j': try { return stringify(a); } catch (e) { return '[Circular]'; }
          default: return inspect(a, 2);
        }
      });
      for (; i < args.length; i++) s += ' ' + (typeof args[i] === 'string' ? args[i] : inspect(args[i], 2));
      return s;
    };
    const promisify = (fn) => function (...args) {
      return new Promise((resolve, reject) => apply(fn, this, [...args, (err, value) => (err ? reject(err) : resolve(value))]));
    };
    const inherits = (ctor, superCtor) => {
      defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
      Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
    };
    const deprecate = (fn) => fn;
    const isDeepStrictEqual = (a, b) => deepEqual(a, b, true);
    const types = {
      isDate: (v) => v instanceof Date, isRegExp: (v) => v instanceof RegExp, isPromise: (v) => v instanceof Promise,
      isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView), isUint8Array: (v) => v instanceof Uint8Array,
      isMap: (v) => v instanceof Map, isSet: (v) => v instanceof Set, isNativeError: (v) => v instanceof ErrorCtor,
      isArrayBuffer: (v) => v instanceof ArrayBuffer, isAsyncFunction: (v) => typeof v === 'function' && v[Symbol.toStringTag] === 'AsyncFunction',
    };
    return { format, inspect, promisify, inherits, deprecate, isDeepStrictEqual, types,
      isArray: Array.isArray, TextEncoder: global.TextEncoder, TextDecoder: global.TextDecoder };
  };

  // Deep equality of assert.deepStrictEqual (strict) and assert.deepEqual (loose).
  const deepEqual = (a, b, strict, seen = []) => {
    if (strict ? Object.is(a, b) : (a == b || (a !== a && b !== b))) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (seen.some(([x, y]) => x === a && y === b)) return true;
    seen.push([a, b]);
    if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
    if (a instanceof RegExp && b instanceof RegExp) return StringCtor(a) === StringCtor(b);
    if (a instanceof Map && b instanceof Map) {
      if (a.size !== b.size) return false;
      for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), strict, seen)) return false;
      return true;
    }
    if (a instanceof Set && b instanceof Set) {
      if (a.size !== b.size) return false;
      for (const v of a) if (!b.has(v)) return false;
      return true;
    }
    const ka = keys(a);
    const kb = keys(b);
    if (ka.length !== kb.length || Array.isArray(a) !== Array.isArray(b)) return false;
    for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k], strict, seen)) return false;
    return true;
  };

  builtinFactories.assert = () => {
    class AssertionError extends ErrorCtor {
      constructor(options) {
        super(options.message);
        this.name = 'AssertionError';
        this.code = 'ERR_ASSERTION';
        this.actual = options.actual;
        this.expected = options.expected;
        this.operator = options.operator;
        this.generatedMessage = options.generated;
      }
    }
    const inspect = requireBuiltin('util').inspect;
    const fail = (actual, expected, message, operator, defaultMessage) => {
      if (message instanceof ErrorCtor) throw message;
      throw new AssertionError({ message: message === undefined ? defaultMessage : message, actual, expected, operator, generated: message === undefined });
    };
    const ok = (value, message) => { if (!value) fail(value, true, message, '==', 'The expression evaluated to a falsy value:\n\n  assert.ok(' + inspect(value) + ')\n'); };
    const assert = (value, message) => ok(value, message);
    assert.ok = ok;
    assert.AssertionError = AssertionError;
    assert.fail = (message = 'Failed') => fail(undefined, undefined, message, 'fail');
    assert.equal = (a, b, m) => { if (!(a == b || (a !== a && b !== b))) fail(a, b, m, '==', `${inspect(a)} == ${inspect(b)}`); };
    assert.notEqual = (a, b, m) => { if (a == b) fail(a, b, m, '!=', `${inspect(a)} != ${inspect(b)}`); };
    assert.strictEqual = (a, b, m) => { if (!Object.is(a, b)) fail(a, b, m, 'strictEqual', `Expected values to be strictly equal:\n\n${inspect(a)} !== ${inspect(b)}\n`); };
    assert.notStrictEqual = (a, b, m) => { if (Object.is(a, b)) fail(a, b, m, 'notStrictEqual', `Expected "actual" to be strictly unequal to: ${inspect(b)}`); };
    assert.deepEqual = (a, b, m) => { if (!deepEqual(a, b, false)) fail(a, b, m, 'deepEqual', `Expected values to be loosely deep-equal:\n\n${inspect(a)}\n\nshould loosely deep-equal\n\n${inspect(b)}`); };
    assert.deepStrictEqual = (a, b, m) => { if (!deepEqual(a, b, true)) fail(a, b, m, 'deepStrictEqual', `Expected values to be strictly deep-equal:\n${inspect(a)}\n\nshould equal\n\n${inspect(b)}`); };
    assert.notDeepStrictEqual = (a, b, m) => { if (deepEqual(a, b, true)) fail(a, b, m, 'notDeepStrictEqual', `Expected "actual" not to be strictly deep-equal to: ${inspect(b)}`); };
    const matches = (e, expected) => {
      if (expected === undefined) return true;
      if (typeof expected === 'function') return expected.prototype !== undefined && e instanceof expected ? true : expected.prototype === undefined ? expected(e) === true : false;
      if (expected instanceof RegExp) return expected.test(StringCtor(e));
      return keys(expected).every((k) => deepEqual(e[k], expected[k], true));
    };
    assert.throws = (fn, expected, message) => {
      try { fn(); } catch (e) { if (!matches(e, expected)) throw e; return; }
      fail(undefined, expected, typeof expected === 'string' ? expected : message, 'throws', 'Missing expected exception.');
    };
    assert.doesNotThrow = (fn, message) => { try { fn(); } catch (e) { fail(e, undefined, message, 'doesNotThrow', 'Got unwanted exception.\nActual message: "' + (e && e.message) + '"'); } };
    assert.rejects = async (p, expected, message) => {
      try { await (typeof p === 'function' ? p() : p); } catch (e) { if (!matches(e, expected)) throw e; return; }
      fail(undefined, expected, message, 'rejects', 'Missing expected rejection.');
    };
    assert.match = (s, re, m) => { if (!re.test(s)) fail(s, re, m, 'match', `The input did not match the regular expression ${StringCtor(re)}. Input:\n\n${inspect(s)}\n`); };
    assert.strict = assert;
    return assert;
  };

  builtinFactories.querystring = () => {
    const escape = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    const unescape = (s) => { try { return decodeURIComponent(s); } catch (e) { return s; } };
    const str = (v) => (typeof v === 'string' ? v : (typeof v === 'number' && isFinite(v)) || typeof v === 'boolean' || typeof v === 'bigint' ? StringCtor(v) : '');
    const stringify = (obj, sep = '&', eq = '=') => {
      if (obj === null || typeof obj !== 'object') return '';
      return keys(obj).map((k) => {
        const v = obj[k];
        const ek = escape(str(k)) + eq;
        return Array.isArray(v) ? v.map((x) => ek + escape(str(x))).join(sep) : ek + escape(str(v));
      }).filter((s) => s !== '').join(sep);
    };
    const parseQs = (s, sep = '&', eq = '=') => {
      const out = create(null);
      if (typeof s !== 'string' || s === '') return out;
      for (const part of s.split(sep)) {
        if (part === '') continue;
        const i = part.indexOf(eq);
        const k = unescape((i < 0 ? part : part.slice(0, i)).replace(/\+/g, ' '));
        const v = i < 0 ? '' : unescape(part.slice(i + eq.length).replace(/\+/g, ' '));
        if (k in out) out[k] = Array.isArray(out[k]) ? [...out[k], v] : [out[k], v]; else out[k] = v;
      }
      return out;
    };
    return { stringify, parse: parseQs, encode: stringify, decode: parseQs, escape, unescape };
  };

  // Buffer: a Uint8Array subclass with the encodings packages use (utf8, hex, base64,
  // base64url, latin1/binary, ascii).
  builtinFactories.buffer = () => {
    const encoder = new global.TextEncoder();
    const decoder = new global.TextDecoder();
    const normEnc = (e) => {
      const n = (e === undefined ? 'utf8' : StringCtor(e)).toLowerCase();
      if (n === 'utf-8') return 'utf8';
      if (n === 'binary') return 'latin1';
      if (['utf8', 'hex', 'base64', 'base64url', 'latin1', 'ascii'].includes(n)) return n;
      throw new TypeErrorCtor(`Unknown encoding: ${e}`);
    };
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const toBase64 = (bytes, url) => {
      let s = '';
      for (let i = 0; i < bytes.length; i += 3) {
        const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
        s += b64[(n >> 18) & 63] + b64[(n >> 12) & 63] + (i + 1 < bytes.length ? b64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? b64[n & 63] : '=');
      }
      return url ? s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : s;
    };
    const fromBase64 = (s) => {
      const clean = s.replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, '');
      const out = [];
      let bits = 0;
      let acc = 0;
      for (const c of clean) { acc = (acc << 6) | b64.indexOf(c); bits += 6; if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 255); } }
      return out;
    };
    const bytesOf = (string, enc) => {
      switch (normEnc(enc)) {
        case 'utf8': return encoder.encode(string);
        case 'hex': { const out = []; for (let i = 0; i + 1 < string.length; i += 2) { const b = parseInt(string.slice(i, i + 2), 16); if (b !== b) break; out.push(b); } return out; }
        case 'base64': case 'base64url': return fromBase64(string);
        case 'ascii': case 'latin1': { const out = []; for (let i = 0; i < string.length; i++) out.push(string.charCodeAt(i) & 255); return out; }
      }
    };
    class Buffer extends Uint8Array {
      static from(value, encOrOffset, length) {
        if (typeof value === 'string') return Buffer._of(bytesOf(value, encOrOffset));
        if (value instanceof ArrayBuffer) return new Buffer(value, encOrOffset || 0, length === undefined ? value.byteLength - (encOrOffset || 0) : length);
        if (ArrayBuffer.isView(value) || Array.isArray(value)) return Buffer._of(value);
        if (value !== null && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer._of(value.data);
        throw new TypeErrorCtor('The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object.');
      }
      static _of(bytes) { const b = new Buffer(bytes.length); for (let i = 0; i < bytes.length; i++) b[i] = bytes[i]; return b; }
      static alloc(n, fill) { const b = new Buffer(n); if (fill !== undefined) b.fill(typeof fill === 'string' ? bytesOf(fill)[0] : fill); return b; }
      static allocUnsafe(n) { return new Buffer(n); }
      static isBuffer(b) { return b instanceof Buffer; }
      static isEncoding(e) { try { normEnc(e); return true; } catch (x) { return false; } }
      static byteLength(s, enc) { return typeof s === 'string' ? bytesOf(s, enc).length : s.byteLength; }
      static concat(list, total) {
        const n = total === undefined ? list.reduce((a, b) => a + b.length, 0) : total;
        const out = Buffer.alloc(n);
        let off = 0;
        for (const b of list) { for (let i = 0; i < b.length && off < n; i++) out[off++] = b[i]; }
        return out;
      }
      static compare(a, b) { return a.compare(b); }
      toString(enc, start = 0, end = this.length) {
        const bytes = this.subarray(start, end);
        switch (normEnc(enc)) {
          case 'utf8': return decoder.decode(bytes);
          case 'hex': { let s = ''; for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16); return s; }
          case 'base64': return toBase64(bytes, false);
          case 'base64url': return toBase64(bytes, true);
          case 'ascii': { let s = ''; for (const b of bytes) s += StringCtor.fromCharCode(b & 127); return s; }
          case 'latin1': { let s = ''; for (const b of bytes) s += StringCtor.fromCharCode(b); return s; }
        }
      }
      write(string, offset = 0, length, enc) {
        if (typeof offset === 'string') { enc = offset; offset = 0; }
        const bytes = bytesOf(string, enc);
        const n = Math.min(bytes.length, this.length - offset, length === undefined ? Infinity : length);
        for (let i = 0; i < n; i++) this[offset + i] = bytes[i];
        return n;
      }
      equals(other) { return this.compare(other) === 0; }
      compare(other) {
        const n = Math.min(this.length, other.length);
        for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
        return this.length === other.length ? 0 : this.length < other.length ? -1 : 1;
      }
      slice(start, end) { return this.subarray(start, end); }
      subarray(start, end) { const u = super.subarray(start, end); return new Buffer(u.buffer, u.byteOffset, u.length); }
      toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
      readUInt8(o = 0) { return this[o]; }
      readUInt16BE(o = 0) { return (this[o] << 8) | this[o + 1]; }
      readUInt32BE(o = 0) { return ((this[o] << 24) >>> 0) + ((this[o + 1] << 16) | (this[o + 2] << 8) | this[o + 3]); }
      writeUInt8(v, o = 0) { this[o] = v; return o + 1; }
    }
    return { Buffer, kMaxLength: 2 ** 32, constants: { MAX_LENGTH: 2 ** 32 } };
  };

  builtinFactories.string_decoder = () => {
    class StringDecoder {
      constructor(encoding = 'utf8') {
        this.encoding = StringCtor(encoding).toLowerCase().replace('-', '');
        if (this.encoding !== 'utf8') throw new TypeErrorCtor(`string_decoder: only utf8 is available, not ${encoding}`);
        this._decoder = new global.TextDecoder('utf-8');
        this._pending = [];
      }
      write(buf) {
        const bytes = [...this._pending, ...buf];
        // Keep an incomplete UTF-8 sequence at the end for the next write.
        let keep = 0;
        for (let i = bytes.length - 1; i >= 0 && i >= bytes.length - 4; i--) {
          const b = bytes[i];
          if ((b & 0xc0) === 0x80) continue;
          const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
          if (bytes.length - i < need) keep = bytes.length - i;
          break;
        }
        this._pending = bytes.slice(bytes.length - keep);
        return this._decoder.decode(new Uint8Array(bytes.slice(0, bytes.length - keep)));
      }
      end(buf) { const s = buf === undefined ? '' : this.write(buf); const rest = this._pending.length ? this._decoder.decode(new Uint8Array(this._pending)) : ''; this._pending = []; return s + rest; }
    }
    return { StringDecoder };
  };

  // `url`: the legacy helpers, and the WHATWG URL classes the launcher's fetch provides as
  // globals (the same objects, as in Node.js).
  builtinFactories.url = () => {
    const qs = requireBuiltin('querystring');
    const WhatwgURL = globalThis.URL;
    const fileURLToPath = (u) => {
      const url = typeof u === 'string' ? new WhatwgURL(u) : u;
      if (url.protocol !== 'file:') throw new TypeError('The URL must be of scheme file');
      return decodeURIComponent(url.pathname);
    };
    const pathToFileURL = (p) => new WhatwgURL('file://' + encodeURI(String(p)).replace(/[?#]/g, encodeURIComponent));
    const parseUrl = (s, parseQuery) => {
      const m = /^(?:([a-z][a-z0-9+.-]*:))?(?:\/\/(?:([^@/?#]*)@)?([^:/?#]*)(?::(\d+))?)?([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(s);
      const [, protocol = null, auth = null, hostname = null, port = null, pathname = '', search = null, hash = null] = m;
      const query = search === null ? (parseQuery ? create(null) : null) : parseQuery ? qs.parse(search.slice(1)) : search.slice(1);
      return { protocol: protocol && protocol.toLowerCase(), slashes: s.includes('//') || null, auth, host: hostname === null ? null : hostname + (port ? ':' + port : ''),
        port, hostname, hash, search, query, pathname: pathname || (hostname ? '/' : null), path: (pathname || '') + (search || ''), href: s };
    };
    const format = (o) => (o.protocol ? o.protocol + '//' : '') + (o.auth ? o.auth + '@' : '') + (o.host || o.hostname || '') + (o.pathname || '') + (o.search || (o.query && typeof o.query === 'object' ? '?' + qs.stringify(o.query) : ''));
    return { parse: parseUrl, format, URL: WhatwgURL, URLSearchParams: globalThis.URLSearchParams, fileURLToPath, pathToFileURL };
  };

  // crypto: hashes through the launcher's Rust natives (sha256, sha1, md5), random bytes.
  builtinFactories.crypto = () => {
    const { Buffer } = requireBuiltin('buffer');
    const algorithms = ['sha256', 'sha1', 'md5'];
    class Hash {
      constructor(algorithm) {
        const a = StringCtor(algorithm).toLowerCase().replace('-', '');
        if (!algorithms.includes(a)) throw new ErrorCtor(`Digest method not supported: crypto.createHash('${algorithm}') (available: ${algorithms.join(', ')})`);
        this._algorithm = a;
        this._chunks = [];
      }
      update(data, enc) { this._chunks.push(typeof data === 'string' ? Buffer.from(data, enc) : Buffer.from(data)); return this; }
      digest(enc) {
        const out = Buffer.from(hash(this._algorithm, Buffer.concat(this._chunks).buffer));
        return enc === undefined ? out : out.toString(enc);
      }
    }
    const randomBytesNode = (n, cb) => {
      const b = Buffer.alloc(n);
      for (let off = 0; off < n; off += 65536) fillRandom(b.subarray(off, Math.min(n, off + 65536)));
      if (typeof cb === 'function') { queueMicrotask(() => cb(null, b)); return undefined; }
      return b;
    };
    const randomFillSync = (view, offset = 0, size) => {
      const end = size === undefined ? view.byteLength : offset + size;
      const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, end - offset);
      for (let off = 0; off < bytes.length; off += 65536) fillRandom(bytes.subarray(off, Math.min(bytes.length, off + 65536)));
      return view;
    };
    return { createHash: (a) => new Hash(a), getHashes: () => algorithms.slice(), randomBytes: randomBytesNode,
      randomFillSync, randomUUID: () => randomUUID(), getRandomValues: (a) => crypto.getRandomValues(a), webcrypto: crypto };
  };
