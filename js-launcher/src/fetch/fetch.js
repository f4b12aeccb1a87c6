// fetch() and the WHATWG types around it, as Node.js 20 has them (the reference for every
// behaviour and error message here). Evaluated once at engine initialisation: this file is a
// function expression that mod.rs calls with the natives object; it installs the globals and
// keeps the natives in its closure (they are never globals).
//
// Natives (mod.rs, url.rs): httpStart, httpBody, httpAbort, timerUnref, timerClear, urlParse,
// urlSet, urlComponents, formParse, formSerialize, utf8Decode.
(function install(native) {
  'use strict';
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });
  const tag = (cls, name) =>
    Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: name, configurable: true });

  // ---- DOMException, Event, EventTarget --------------------------------------------------
  const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };
  class DOMException extends Error {
    #name;
    #message;
    constructor(message = '', options = 'Error') {
      super();
      this.#message = String(message);
      this.#name = (options !== null && typeof options === 'object')
        ? (options.name === undefined ? 'Error' : String(options.name)) : String(options);
      if (options !== null && typeof options === 'object' && 'cause' in options) {
        define(this, 'cause', options.cause);
      }
      delete this.message;
    }
    get name() { return this.#name; }
    get message() { return this.#message; }
    get code() { return legacyCodes[this.#name] ?? 0; }
  }
  tag(DOMException, 'DOMException');
  for (const [name, code] of Object.entries(legacyCodes)) {
    const constName = name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase().replace(/_ERROR$/, '_ERR');
    Object.defineProperty(DOMException, constName, { value: code, enumerable: true });
  }
  const abortError = () => new DOMException('This operation was aborted', 'AbortError');

  class Event {
    #type;
    #target = null;
    #defaultPrevented = false;
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
      this.#type = String(type);
      this.bubbles = !!init.bubbles;
      this.cancelable = !!init.cancelable;
      this.timeStamp = performance.now();
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get currentTarget() { return this.#target; }
    get defaultPrevented() { return this.#defaultPrevented; }
    preventDefault() { if (this.cancelable) this.#defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() {}
    static setTarget(event, target) { event.#target = target; }
  }
  tag(Event, 'Event');
  const setEventTarget = Event.setTarget;
  delete Event.setTarget;

  class EventTarget {
    #listeners = new Map();
    addEventListener(type, listener, options) {
      if (listener === null || listener === undefined) return;
      const once = typeof options === 'object' && options !== null && !!options.once;
      const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
      if (signal?.aborted) return;
      const list = this.#listeners.get(type) ?? [];
      if (list.some((l) => l.listener === listener)) return;
      list.push({ listener, once });
      this.#listeners.set(type, list);
      signal?.addEventListener('abort', () => this.removeEventListener(type, listener), { once: true });
    }
    removeEventListener(type, listener) {
      const list = this.#listeners.get(type);
      if (!list) return;
      const i = list.findIndex((l) => l.listener === listener);
      if (i >= 0) list.splice(i, 1);
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError('The "event" argument must be an instance of Event');
      setEventTarget(event, this);
      const list = [...(this.#listeners.get(event.type) ?? [])];
      const call = (fn) => {
        try {
          if (typeof fn === 'function') fn.call(this, event);
          else if (fn && typeof fn.handleEvent === 'function') fn.handleEvent(event);
        } catch (e) {
          queueMicrotask(() => { throw e; });
        }
      };
      for (const l of list) {
        if (l.once) this.removeEventListener(event.type, l.listener);
        call(l.listener);
      }
      return !event.defaultPrevented;
    }
  }
  tag(EventTarget, 'EventTarget');

  // ---- AbortController / AbortSignal ------------------------------------------------------
  let creatingSignal = false;
  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    #onabort = null;
    #onabortListening = false;
    constructor() {
      if (!creatingSignal) throw new TypeError('Illegal constructor');
      super();
    }
    // An event handler attribute takes its place among the listeners when first set.
    get onabort() { return this.#onabort; }
    set onabort(fn) {
      this.#onabort = typeof fn === 'function' ? fn : null;
      if (!this.#onabortListening) {
        this.#onabortListening = true;
        this.addEventListener('abort', (event) => this.#onabort?.call(this, event));
      }
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    static abort(reason) {
      const s = newSignal();
      signalAbort(s, reason === undefined ? abortError() : reason);
      return s;
    }
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`The value of "delay" is out of range. It must be >= 0 && <= 4294967295. Received ${ms}`);
      }
      const s = newSignal();
      native.timerUnref(ms, () =>
        signalAbort(s, new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
      return s;
    }
    static any(signals) {
      const s = newSignal();
      for (const other of signals) {
        if (other.aborted) { signalAbort(s, other.reason); return s; }
      }
      for (const other of signals) {
        other.addEventListener('abort', () => signalAbort(s, other.reason), { once: true });
      }
      return s;
    }
    static doAbort(s, reason) {
      if (s.#aborted) return;
      s.#aborted = true;
      s.#reason = reason;
      s.dispatchEvent(new Event('abort'));
    }
  }
  tag(AbortSignal, 'AbortSignal');
  const signalAbort = AbortSignal.doAbort;
  delete AbortSignal.doAbort;
  const newSignal = () => {
    creatingSignal = true;
    try { return new AbortSignal(); } finally { creatingSignal = false; }
  };

  class AbortController {
    #signal = newSignal();
    get signal() { return this.#signal; }
    abort(reason) { signalAbort(this.#signal, reason === undefined ? abortError() : reason); }
  }
  tag(AbortController, 'AbortController');

  // ---- URLSearchParams and URL ------------------------------------------------------------
  const C = Object.fromEntries(native.urlComponents.map((name, i) => [name, i]));
  const invalidUrl = (input, base) => {
    const e = new TypeError('Invalid URL');
    e.code = 'ERR_INVALID_URL';
    e.input = input;
    if (base !== undefined) e.base = base;
    return e;
  };
  const toUSV = (v) => String(v);

  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (init instanceof URLSearchParams) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const p = [...pair];
            if (p.length !== 2) {
              const e = new TypeError('Each query pair must be an iterable [name, value] tuple');
              e.code = 'ERR_INVALID_TUPLE';
              throw e;
            }
            this.#list.push([toUSV(p[0]), toUSV(p[1])]);
          }
        } else {
          for (const k of Reflect.ownKeys(init)) {
            if (typeof k === 'string' && Object.prototype.propertyIsEnumerable.call(init, k)) {
              this.#list.push([k, toUSV(init[k])]);
            }
          }
        }
      } else {
        let s = toUSV(init);
        if (s.startsWith('?')) s = s.slice(1);
        this.#list = parseForm(s);
      }
    }
    static attach(params, url) { params.#url = url; }
    static reset(params, query) { params.#list = parseForm(query.startsWith('?') ? query.slice(1) : query); }
    #update() {
      if (this.#url) urlSetSearch(this.#url, this.toString());
    }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([toUSV(name), toUSV(value)]); this.#update(); }
    delete(name, value) {
      name = toUSV(name);
      const v = value === undefined ? undefined : toUSV(value);
      this.#list = this.#list.filter(([k, x]) => !(k === name && (v === undefined || x === v)));
      this.#update();
    }
    get(name) { name = toUSV(name); const e = this.#list.find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = toUSV(name); return this.#list.filter(([k]) => k === name).map(([, v]) => v); }
    has(name, value) {
      name = toUSV(name);
      const v = value === undefined ? undefined : toUSV(value);
      return this.#list.some(([k, x]) => k === name && (v === undefined || x === v));
    }
    set(name, value) {
      name = toUSV(name);
      value = toUSV(value);
      const i = this.#list.findIndex(([k]) => k === name);
      if (i < 0) this.#list.push([name, value]);
      else {
        this.#list[i][1] = value;
        this.#list = this.#list.filter(([k], j) => j <= i || k !== name);
      }
      this.#update();
    }
    sort() {
      // Stable sort by UTF-16 code units of the names.
      this.#list = this.#list.map((e, i) => [e, i])
        .sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j)).map(([e]) => e);
      this.#update();
    }
    forEach(callback, thisArg) {
      if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
      for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
    }
    *entries() { for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]]; }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return native.formSerialize(this.#list.flat()); }
  }
  tag(URLSearchParams, 'URLSearchParams');
  const attachParams = URLSearchParams.attach;
  const resetParams = URLSearchParams.reset;
  delete URLSearchParams.attach;
  delete URLSearchParams.reset;

  function parseForm(s) {
    const flat = native.formParse(s);
    const list = [];
    for (let i = 0; i + 1 < flat.length; i += 2) list.push([flat[i], flat[i + 1]]);
    return list;
  }

  let urlSetSearch;
  class URL {
    #c;
    #params;
    constructor(url, base) {
      if (arguments.length === 0) throw new TypeError('The "url" argument must be specified');
      const input = toUSV(url);
      const b = base === undefined ? undefined : toUSV(base);
      const c = native.urlParse(input, b);
      if (c === null) throw invalidUrl(input, b);
      this.#c = c;
      this.#params = new URLSearchParams(c[C.search]);
      attachParams(this.#params, this);
    }
    static canParse(url, base) {
      return native.urlParse(toUSV(url), base === undefined ? undefined : toUSV(base)) !== null;
    }
    static parse(url, base) {
      try { return new URL(url, base); } catch { return null; }
    }
    static setSearch(url, query) {
      const c = native.urlSet(url.#c[C.href], 'search', query);
      if (c !== null) url.#c = c;
    }
    #set(which, value) {
      const c = native.urlSet(this.#c[C.href], which, toUSV(value));
      if (c === null) throw invalidUrl(toUSV(value));
      this.#c = c;
      if (which === 'href' || which === 'search') resetParams(this.#params, c[C.search]);
    }
    get href() { return this.#c[C.href]; }
    set href(v) { this.#set('href', v); }
    get origin() { return this.#c[C.origin]; }
    get protocol() { return this.#c[C.protocol]; }
    set protocol(v) { this.#set('protocol', v); }
    get username() { return this.#c[C.username]; }
    set username(v) { this.#set('username', v); }
    get password() { return this.#c[C.password]; }
    set password(v) { this.#set('password', v); }
    get host() { return this.#c[C.host]; }
    set host(v) { this.#set('host', v); }
    get hostname() { return this.#c[C.hostname]; }
    set hostname(v) { this.#set('hostname', v); }
    get port() { return this.#c[C.port]; }
    set port(v) { this.#set('port', v); }
    get pathname() { return this.#c[C.pathname]; }
    set pathname(v) { this.#set('pathname', v); }
    get search() { return this.#c[C.search]; }
    set search(v) { this.#set('search', v); }
    get searchParams() { return this.#params; }
    get hash() { return this.#c[C.hash]; }
    set hash(v) { this.#set('hash', v); }
    toString() { return this.#c[C.href]; }
    toJSON() { return this.#c[C.href]; }
  }
  tag(URL, 'URL');
  urlSetSearch = URL.setSearch;
  delete URL.setSearch;

  // ---- Headers -----------------------------------------------------------------------------
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const normalizeValue = (v) => String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  const validValue = (v) => !/[\0\r\n]/.test(v) && !/[^\u0000-\u00ff]/.test(v);

  class Headers {
    // [lowercase name, value] in insertion order.
    #list = [];
    #guard = 'none';
    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.#list) this.#list.push([k, v]);
        return;
      }
      if (typeof init !== 'object' && typeof init !== 'function') {
        throw new TypeError('Headers constructor: Argument 1 could not be converted to one of: sequence<sequence<ByteString>>, record<ByteString, ByteString>.');
      }
      if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          if (typeof pair === 'string' || typeof pair?.[Symbol.iterator] !== 'function') {
            throw new TypeError('Headers constructor: expected name/value pair to be length 2, found 1.');
          }
          const p = [...pair];
          if (p.length !== 2) {
            throw new TypeError(`Headers constructor: expected name/value pair to be length 2, found ${p.length}.`);
          }
          this.append(p[0], p[1]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          if (typeof k === 'string' && Object.prototype.propertyIsEnumerable.call(init, k)) this.append(k, init[k]);
        }
      }
    }
    static guard(h, g) { h.#guard = g; return h; }
    static list(h) { return h.#list; }
    #check(op, name, value) {
      name = String(name);
      if (!TOKEN.test(name)) throw new TypeError(`Headers.${op}: "${name}" is an invalid header name.`);
      if (value !== undefined && !validValue(value)) {
        throw new TypeError(`Headers.${op}: "${value}" is an invalid header value.`);
      }
      if (this.#guard === 'immutable') throw new TypeError('immutable');
      return name.toLowerCase();
    }
    append(name, value) {
      value = normalizeValue(value);
      const key = this.#check('append', name, value);
      this.#list.push([key, value]);
    }
    delete(name) {
      const key = this.#check('delete', name);
      this.#list = this.#list.filter(([k]) => k !== key);
    }
    get(name) {
      name = String(name);
      if (!TOKEN.test(name)) throw new TypeError(`Headers.get: "${name}" is an invalid header name.`);
      const key = name.toLowerCase();
      const values = this.#list.filter(([k]) => k === key).map(([, v]) => v);
      return values.length === 0 ? null : values.join(', ');
    }
    getSetCookie() { return this.#list.filter(([k]) => k === 'set-cookie').map(([, v]) => v); }
    has(name) {
      name = String(name);
      if (!TOKEN.test(name)) throw new TypeError(`Headers.has: "${name}" is an invalid header name.`);
      const key = name.toLowerCase();
      return this.#list.some(([k]) => k === key);
    }
    set(name, value) {
      value = normalizeValue(value);
      const key = this.#check('set', name, value);
      const i = this.#list.findIndex(([k]) => k === key);
      if (i < 0) this.#list.push([key, value]);
      else {
        this.#list[i][1] = value;
        this.#list = this.#list.filter(([k], j) => j <= i || k !== key);
      }
    }
    // Sorted and combined, as the Fetch standard's "sort and combine" (set-cookie kept apart).
    #sorted() {
      const names = [...new Set(this.#list.map(([k]) => k))].sort();
      const out = [];
      for (const n of names) {
        if (n === 'set-cookie') {
          for (const v of this.getSetCookie()) out.push([n, v]);
        } else {
          out.push([n, this.#list.filter(([k]) => k === n).map(([, v]) => v).join(', ')]);
        }
      }
      return out;
    }
    forEach(callback, thisArg) {
      if (typeof callback !== 'function') {
        throw new TypeError("Headers.forEach: Argument 1 could not be converted to: Function.");
      }
      for (const [k, v] of this.#sorted()) callback.call(thisArg, v, k, this);
    }
    *entries() { yield* this.#sorted(); }
    *keys() { for (const [k] of this.#sorted()) yield k; }
    *values() { for (const [, v] of this.#sorted()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  tag(Headers, 'Headers');
  const guardHeaders = Headers.guard;
  const headerList = Headers.list;
  delete Headers.guard;
  delete Headers.list;

  // ---- Bodies ------------------------------------------------------------------------------
  const encoder = new TextEncoder();
  const copyBuffer = (view) => {
    const out = new Uint8Array(view.byteLength);
    out.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return out.buffer;
  };
  // BodyInit → { bytes: ArrayBuffer, type: default Content-Type or null }.
  function extractBody(body) {
    if (body instanceof ArrayBuffer) return { bytes: body.slice(0), type: null };
    if (ArrayBuffer.isView(body)) return { bytes: copyBuffer(body), type: null };
    if (body instanceof URLSearchParams) {
      return { bytes: copyBuffer(encoder.encode(body.toString())), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    }
    if (typeof body === 'object' && body !== null && typeof body.getReader === 'function') {
      throw new TypeError('fetch: ReadableStream bodies are not supported in this runtime (use a string, ArrayBuffer, TypedArray or URLSearchParams)');
    }
    return { bytes: copyBuffer(encoder.encode(String(body))), type: 'text/plain;charset=UTF-8' };
  }

  // A body: bytes known now (constructed objects) or later (a network response).
  class Body {
    constructor(bytes, pending, signal, drop = () => {}) {
      this.bytes = bytes;       // ArrayBuffer | null (null: no body)
      this.pending = pending;   // () => Promise<ArrayBuffer> for network bodies, else null
      this.signal = signal;
      this.drop = drop;         // closes the network task (on abort)
      this.used = false;
      this.promise = null;
    }
    load() {
      if (this.promise === null) {
        if (this.pending === null) this.promise = Promise.resolve(this.bytes ?? new ArrayBuffer(0));
        else this.promise = raceSignal(this.pending(), this.signal, this.drop).catch((e) => {
          if (isAbortReason(e, this.signal)) throw e;
          throw new TypeError('terminated', { cause: toCause(e) });
        });
      }
      return this.promise;
    }
    async consume() {
      if (this.used) throw new TypeError('Body is unusable: Body has already been read');
      this.used = true;
      return (await this.load()).slice(0);
    }
    clone() {
      if (this.used) throw new TypeError('Response.clone: Body has already been consumed.');
      const b = new Body(this.bytes, null, this.signal);
      if (this.pending !== null) {
        const shared = this.load();
        b.pending = () => shared;
        b.promise = shared;
      }
      return b;
    }
  }
  const isAbortReason = (e, signal) => signal !== undefined && signal !== null && signal.aborted && e === signal.reason;

  const bodyMixin = (cls) => {
    Object.defineProperties(cls.prototype, {
      bodyUsed: { get() { return this._body_().used; }, configurable: true, enumerable: true },
      arrayBuffer: { value() { return this._body_().consume(); }, writable: true, configurable: true },
      bytes: { value() { return this._body_().consume().then((b) => new Uint8Array(b)); }, writable: true, configurable: true },
      text: { value() { return this._body_().consume().then((b) => native.utf8Decode(b)); }, writable: true, configurable: true },
      json: { value() { return this.text().then((t) => JSON.parse(t)); }, writable: true, configurable: true },
    });
  };

  // ---- Request -----------------------------------------------------------------------------
  const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'];
  const normalizeMethod = (m) => {
    const upper = m.toUpperCase();
    return METHODS.includes(upper) && upper !== 'PATCH' ? upper : m;
  };

  class Request {
    #url;
    #method;
    #headers;
    #body;
    #redirect;
    #signal;
    constructor(input, init = {}) {
      if (arguments.length === 0) {
        throw new TypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
      }
      init = init ?? {};
      let base = null;
      if (input instanceof Request) {
        base = input;
      } else {
        const s = String(input);
        const c = native.urlParse(s);
        if (c === null) throw new TypeError(`Failed to parse URL from ${s}`, { cause: invalidUrl(s) });
        if (c[C.username] !== '' || c[C.password] !== '') {
          throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${s}`);
        }
        this.#url = c[C.href];
      }
      if (base) this.#url = base.#url;
      let method = base ? base.#method : 'GET';
      if (init.method !== undefined) {
        method = String(init.method);
        if (!TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
        const upper = method.toUpperCase();
        if (upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK') {
          throw new TypeError(`'${method}' HTTP method is unsupported.`);
        }
        method = normalizeMethod(method);
      }
      this.#method = method;
      this.#redirect = init.redirect !== undefined ? String(init.redirect) : (base ? base.#redirect : 'follow');
      if (!['follow', 'error', 'manual'].includes(this.#redirect)) {
        throw new TypeError(`Request constructor: ${this.#redirect} is not an accepted type. Expected one of follow, manual, error.`);
      }
      const signal = init.signal !== undefined ? init.signal : (base ? base.#signal : undefined);
      if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
        throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
      }
      // The request's own signal follows the given one, as in Node.
      this.#signal = signal ? AbortSignal.any([signal]) : new AbortController().signal;
      this.#headers = new Headers(init.headers !== undefined ? init.headers : (base ? base.#headers : undefined));
      let body = null;
      if (init.body !== undefined && init.body !== null) {
        if (method === 'GET' || method === 'HEAD') {
          throw new TypeError('Request with GET/HEAD method cannot have body.');
        }
        const { bytes, type } = extractBody(init.body);
        if (type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', type);
        body = new Body(bytes, null, this.#signal);
      } else if (base && init.body === undefined && base.#body) {
        if (base.#body.used) throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
        body = base.#body.clone();
      }
      this.#body = body ?? new Body(null, null, this.#signal);
    }
    _body_() { return this.#body; }
    get method() { return this.#method; }
    get url() { return this.#url; }
    get headers() { return this.#headers; }
    get redirect() { return this.#redirect; }
    get signal() { return this.#signal; }
    get body() { return null; }
    get cache() { return 'default'; }
    get credentials() { return 'same-origin'; }
    get mode() { return 'cors'; }
    get referrer() { return 'about:client'; }
    get keepalive() { return false; }
    clone() {
      if (this.#body.used) throw new TypeError('Request.clone: Body has already been consumed.');
      return new Request(this);
    }
    static bytesOf(r) { return r.#body.bytes; }
  }
  tag(Request, 'Request');
  bodyMixin(Request);
  const requestBytes = Request.bytesOf;
  delete Request.bytesOf;

  // ---- Response ----------------------------------------------------------------------------
  const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
  const NULL_BODY_STATUSES = [101, 103, 204, 205, 304];
  let internal = null;  // set while fetch builds a Response

  class Response {
    #status;
    #statusText;
    #headers;
    #body;
    #url = '';
    #redirected = false;
    #type = 'default';
    constructor(body = null, init = {}) {
      init = init ?? {};
      if (internal !== null) {
        const i = internal;
        internal = null;
        this.#status = i.status;
        this.#statusText = i.statusText;
        this.#headers = i.headers;
        this.#body = i.body;
        this.#url = i.url;
        this.#redirected = i.redirected;
        this.#type = i.type;
        return;
      }
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
      }
      const statusText = init.statusText === undefined ? '' : String(init.statusText);
      this.#status = status;
      this.#statusText = statusText;
      this.#headers = new Headers(init.headers);
      if (body !== null && body !== undefined) {
        if (NULL_BODY_STATUSES.includes(status)) throw new TypeError('Response constructor: Invalid response status code ' + status);
        const { bytes, type } = extractBody(body);
        if (type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', type);
        this.#body = new Body(bytes, null, null);
      } else {
        this.#body = new Body(null, null, null);
      }
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Value is not JSON serializable');
      const headers = new Headers(init?.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return new Response(text, { ...init, headers });
    }
    static error() {
      internal = { status: 0, statusText: '', headers: guardHeaders(new Headers(), 'immutable'), body: new Body(null, null, null), url: '', redirected: false, type: 'error' };
      return new Response();
    }
    static redirect(url, status = 302) {
      const c = native.urlParse(String(url));
      if (c === null) throw new TypeError(`Failed to parse URL from ${url}`, { cause: invalidUrl(String(url)) });
      if (!REDIRECT_STATUSES.includes(status)) throw new RangeError(`Invalid status code ${status}`);
      internal = { status, statusText: '', headers: guardHeaders(new Headers({ location: c[C.href] }), 'immutable'), body: new Body(null, null, null), url: '', redirected: false, type: 'default' };
      return new Response();
    }
    _body_() { return this.#body; }
    get status() { return this.#status; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get type() { return this.#type; }
    get body() { return null; }
    clone() {
      const body = this.#body.clone();
      const headers = new Headers(this.#headers);
      internal = { status: this.#status, statusText: this.#statusText, headers: this.#type === 'default' ? headers : guardHeaders(headers, 'immutable'), body, url: this.#url, redirected: this.#redirected, type: this.#type };
      return new Response();
    }
  }
  tag(Response, 'Response');
  bodyMixin(Response);

  // ---- fetch -------------------------------------------------------------------------------
  // Ports the Fetch standard blocks ("bad port"), as Node.js does.
  const BAD_PORTS = new Set([1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87,
    95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995,
    1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679,
    6697, 10080]);
  const REQUEST_BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];

  const failed = (cause) => new TypeError('fetch failed', { cause });
  function toCause(info) {
    if (info instanceof Error) return info;
    const e = new Error(info.message);
    if (info.name !== undefined) Object.defineProperty(e, 'name', { value: info.name, configurable: true, writable: true });
    for (const k of ['errno', 'code', 'syscall', 'address', 'port', 'hostname']) {
      if (info[k] !== undefined) e[k] = info[k];
    }
    return e;
  }

  // Settles with `promise`, or rejects with the signal's reason when it aborts first
  // (then `onAbort` runs, e.g. to drop the network task).
  function raceSignal(promise, signal, onAbort) {
    if (!signal) return promise;
    return new Promise((resolve, reject) => {
      if (signal.aborted) { onAbort(); reject(signal.reason); return; }
      const listener = () => { onAbort(); reject(signal.reason); };
      signal.addEventListener('abort', listener, { once: true });
      promise.then(
        (v) => { signal.removeEventListener('abort', listener); resolve(v); },
        (e) => { signal.removeEventListener('abort', listener); reject(e); });
    });
  }

  async function fetch(input, init = undefined) {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal.aborted) throw signal.reason;
    let method = request.method;
    let bytes = requestBytes(request);
    if (request._body_().used) throw new TypeError('Body is unusable: Body has already been read');
    if (bytes !== null) request._body_().used = true;
    const headers = headerList(request.headers).map(([k, v]) => [k, v]);
    let current = native.urlParse(request.url);
    let redirects = 0;
    const urlList = [current[C.href]];
    for (;;) {
      const protocol = current[C.protocol];
      const port = current[C.port] === '' ? (protocol === 'https:' ? 443 : 80) : Number(current[C.port]);
      if (protocol === 'http:' || protocol === 'https:') {
        if (BAD_PORTS.has(port)) throw failed(new Error('bad port'));
      }
      if (protocol === 'https:') {
        throw failed(new Error(`HTTPS is not supported in this runtime yet (no TLS stack in the unikernel): ${current[C.href]}`));
      }
      if (protocol !== 'http:') throw failed(new Error('unknown scheme'));
      let hostname = current[C.hostname];
      if (hostname.startsWith('[')) hostname = hostname.slice(1, -1);
      const target = current[C.pathname] + current[C.search];
      const [id, headPromise] = native.httpStart(method, hostname, port, current[C.host], target,
        headers.flat(), bytes ?? undefined);
      let head;
      try {
        head = await raceSignal(headPromise, signal, () => native.httpAbort(id));
      } catch (e) {
        if (isAbortReason(e, signal)) throw e;
        throw failed(toCause(e));
      }
      const location = head.status >= 300 && REDIRECT_STATUSES.includes(head.status)
        ? headerValue(head.headers, 'location') : null;
      if (location !== null && request.redirect !== 'manual') {
        native.httpAbort(id);
        if (request.redirect === 'error') throw failed(new Error('unexpected redirect'));
        const next = native.urlParse(location, current[C.href]);
        if (next === null) throw failed(invalidUrl(location, current[C.href]));
        if (next[C.protocol] !== 'http:' && next[C.protocol] !== 'https:') {
          throw failed(new Error('URL scheme must be a HTTP(S) scheme'));
        }
        if (++redirects > 20) throw failed(new Error('redirect count exceeded'));
        if (((head.status === 301 || head.status === 302) && method === 'POST') ||
            (head.status === 303 && method !== 'GET' && method !== 'HEAD')) {
          method = 'GET';
          bytes = null;
          for (let i = headers.length - 1; i >= 0; i--) {
            if (REQUEST_BODY_HEADERS.includes(headers[i][0])) headers.splice(i, 1);
          }
        }
        if (next[C.origin] !== current[C.origin]) {
          for (let i = headers.length - 1; i >= 0; i--) {
            if (['authorization', 'proxy-authorization', 'cookie', 'host'].includes(headers[i][0])) headers.splice(i, 1);
          }
        }
        current = next;
        urlList.push(current[C.href]);
        continue;
      }
      const responseHeaders = new Headers();
      const list = headerList(responseHeaders);
      for (let i = 0; i + 1 < head.headers.length; i += 2) list.push([head.headers[i].toLowerCase(), head.headers[i + 1]]);
      guardHeaders(responseHeaders, 'immutable');
      const noBody = method === 'HEAD' || NULL_BODY_STATUSES.includes(head.status);
      const body = noBody
        ? (native.httpAbort(id), new Body(null, null, signal))
        : new Body(null, () => native.httpBody(id), signal, () => native.httpAbort(id));
      const href = current[C.href];
      const hash = href.indexOf('#');
      internal = {
        status: head.status,
        statusText: head.statusText,
        headers: responseHeaders,
        body,
        url: hash < 0 ? href : href.slice(0, hash),
        redirected: redirects > 0,
        type: 'basic',
      };
      return new Response();
    }
  }

  function headerValue(flat, name) {
    const values = [];
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i].toLowerCase() === name) values.push(flat[i + 1]);
    return values.length === 0 ? null : values.join(', ');
  }

  for (const [name, value] of Object.entries({
    DOMException, Event, EventTarget, AbortSignal, AbortController, URLSearchParams, URL, Headers, Request,
    Response, fetch,
  })) {
    define(globalThis, name, value);
  }
})
