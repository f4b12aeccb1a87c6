// js-launcher prelude: evaluated once at engine initialisation (part of the runtime snapshot).
// Keep the invocation helpers here in step with the Node harness (seuss-cli/node/contract.mjs).
//
// The value of this file is a function that engine.rs calls once with the launcher's natives
// (never reachable from user code: no globals). It returns the helpers function.rs calls, each
// holding private references to the builtins it needs, taken before any user code runs, so a
// function that replaces or deletes JSON, String, Object... cannot forge or break its result.
//
// Globals are defined as their specifications define them (WebIDL for the web APIs,
// ECMAScript for Math.random): operations are writable, enumerable, configurable methods that
// are not constructors, with the spec's `length` and `name`.
(function (natives) {
  'use strict';
  const { randomBytes, nowMs, timeOrigin, mathRandom, hash, compileCommonJs, bundleResolve, bundleKind } = natives;
  const { stringify, parse } = JSON;
  const { defineProperty, getOwnPropertyDescriptor, keys, freeze, create } = Object;
  const apply = Reflect.apply;
  const StringCtor = String;
  const TypeErrorCtor = TypeError;
  const ErrorCtor = Error;
  const trim = (s) => apply(String.prototype.trim, s, []);
  const global = globalThis;

  const data = (obj, name, value, enumerable) =>
    defineProperty(obj, name, { value, writable: true, enumerable, configurable: true });
  // A WebIDL operation: a method (so not a constructor) with the spec's name and length.
  const operation = (obj, name, fn, length) => {
    defineProperty(fn, 'length', { value: length, writable: false, enumerable: false, configurable: true });
    defineProperty(fn, 'name', { value: name, writable: false, enumerable: false, configurable: true });
    data(obj, name, fn, true);
  };
  const illegal = () => { throw new TypeErrorCtor('Illegal constructor'); };

  // ECMAScript Math.random (length 0, not a constructor), re-seeded per invocation.
  data(Math, 'random', { random() { return mathRandom(); } }.random, false);

  // HTML timers and queueMicrotask (boa_runtime's, wrapped: those are constructors with
  // other lengths and empty names).
  const timers = {
    setTimeout: [global.setTimeout, 1], setInterval: [global.setInterval, 1],
    clearTimeout: [global.clearTimeout, 0], clearInterval: [global.clearInterval, 0],
    queueMicrotask: [global.queueMicrotask, 1], structuredClone: [global.structuredClone, 1],
    atob: [global.atob, 1], btoa: [global.btoa, 1],
  };
  for (const name of keys(timers)) {
    const [native, length] = timers[name];
    operation(global, name, { [name](...args) { return apply(native, undefined, args); } }[name], length);
  }
  // WHATWG console: a namespace whose operations are enumerable.
  for (const name of Object.getOwnPropertyNames(console)) {
    const d = getOwnPropertyDescriptor(console, name);
    if (typeof d.value === 'function') data(console, name, d.value, true);
  }
  // Interface objects are not enumerable; TextDecoder's constructor has no required argument.
  data(global, 'TextEncoder', global.TextEncoder, false);
  data(global, 'TextDecoder', global.TextDecoder, false);
  defineProperty(global.TextDecoder, 'length', { value: 0, writable: false, enumerable: false, configurable: true });

  // W3C WebCrypto's Crypto (getRandomValues, randomUUID).
  const hex = (b) => (b < 16 ? '0' : '') + b.toString(16);
  const randomUUID = () => {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let s = '';
    for (let i = 0; i < 16; i++) s += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + hex(b[i]);
    return s;
  };
  const isIntegerView = (a) => ArrayBuffer.isView(a) && !(a instanceof DataView) &&
    !(a instanceof Float32Array) && !(a instanceof Float64Array);
  const fillRandom = (array) => {
    const bytes = randomBytes(array.byteLength);
    const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) view[i] = bytes[i];
    return array;
  };
  function Crypto() { illegal(); }
  const cryptoProto = Crypto.prototype;
  operation(cryptoProto, 'getRandomValues', { getRandomValues(array) {
    if (!isIntegerView(array)) throw new TypeErrorCtor('The data argument must be an integer-type TypedArray');
    if (array.byteLength > 65536) {
      throw new RangeError(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`);
    }
    return fillRandom(array);
  } }.getRandomValues, 1);
  operation(cryptoProto, 'randomUUID', { randomUUID() { return randomUUID(); } }.randomUUID, 0);
  defineProperty(cryptoProto, Symbol.toStringTag, { value: 'Crypto', writable: false, enumerable: false, configurable: true });
  const crypto = create(cryptoProto);
  data(global, 'Crypto', Crypto, false);
  defineProperty(global, 'crypto', { get: getOwnPropertyDescriptor({ get crypto() { return crypto; } }, 'crypto').get, enumerable: true, configurable: true });

  // W3C High Resolution Time's Performance (now, timeOrigin, toJSON); `performance` is
  // [Replaceable].
  const origin = timeOrigin - nowMs();
  function Performance() { illegal(); }
  const perfProto = Performance.prototype;
  operation(perfProto, 'now', { now() { return nowMs(); } }.now, 0);
  defineProperty(perfProto, 'timeOrigin', { get: getOwnPropertyDescriptor({ get timeOrigin() { return origin; } }, 'timeOrigin').get, enumerable: true, configurable: true });
  operation(perfProto, 'toJSON', { toJSON() { return { timeOrigin: origin }; } }.toJSON, 0);
  defineProperty(perfProto, Symbol.toStringTag, { value: 'Performance', writable: false, enumerable: false, configurable: true });
  const performance = create(perfProto);
  data(global, 'Performance', Performance, false);
  const perfAccessors = {
    get performance() { return performance; },
    set performance(v) { data(global, 'performance', v, true); },
  };
  defineProperty(global, 'performance', {
    get: getOwnPropertyDescriptor(perfAccessors, 'performance').get,
    set: getOwnPropertyDescriptor(perfAccessors, 'performance').set,
    enumerable: true, configurable: true,
  });

  // ---- Node.js built-in modules (require('events'), import path from 'node:path', ...) ----
  const builtinCache = create(null);
  const builtinFactories = create(null);
  // node_builtins.js defines the factories (it is appended to this file by engine.rs).
  /*@NODE_BUILTINS@*/
  const requireBuiltin = (name) => {
    const bare = name.startsWith('node:') ? name.slice(5) : name;
    if (bare in builtinCache) return builtinCache[bare];
    const factory = builtinFactories[bare];
    if (factory === undefined) {
      throw new ErrorCtor(`Node.js built-in module '${bare}' is not available in seuss functions ` +
        `(available: ${keys(builtinFactories).join(', ')})`);
    }
    const exports = factory();
    builtinCache[bare] = exports;
    return exports;
  };

  // ---- CommonJS modules of a bundle (cargo xtask build-image with node_modules) ----
  const moduleCache = create(null);
  const makeRequire = (fromId) => {
    const require = function require(specifier) {
      if (typeof specifier !== 'string') throw new TypeErrorCtor('The "id" argument must be of type string');
      return requireResolved(bundleResolve(fromId, specifier), specifier);
    };
    return require;
  };
  const requireResolved = (id, specifier) => {
    if (id.startsWith('node:')) return requireBuiltin(id);
    const cached = moduleCache[id];
    if (cached !== undefined) return cached.exports;
    const kind = bundleKind(id);
    if (kind === 'esm') {
      const e = new ErrorCtor(`require() of ES Module ${id} (from '${specifier}') not supported: use import`);
      e.code = 'ERR_REQUIRE_ESM';
      throw e;
    }
    const module = { id, filename: '/function/' + id, loaded: false, exports: {}, children: [] };
    moduleCache[id] = module;
    if (kind === 'json') {
      module.exports = parse(compileCommonJs(id));
    } else {
      const dir = module.filename.slice(0, module.filename.lastIndexOf('/'));
      const wrapper = compileCommonJs(id);
      apply(wrapper, module.exports, [module.exports, makeRequire(id), module, module.filename, dir]);
    }
    module.loaded = true;
    return module.exports;
  };

  // ---- OpenWhisk glue for `seuss serve` (seuss-node); keep it in this section ----
  // `process.env`: what the function's source set at import (the node's action-proxy mode
  // prepends its init env), plus, per invocation, the `__OW_*` values the node passes as the
  // `__ow_env` member of the args (removed from the params main sees). Every invocation gets
  // a fresh copy, so nothing one invocation writes leaks into the next, even when reused.
  // An entry point other than `main` (OpenWhisk's `exec.main`) is named by the node's glue,
  // appended to the source, in `globalThis.__seuss_main`.
  const assign = Object.assign;
  const hasOwn = Object.prototype.hasOwnProperty;
  const isArray = Array.isArray;
  const process = { env: {} };
  data(global, 'process', process, false);
  // Node's name for the global object (bundled actions assign `global.main = ...`).
  data(global, 'global', global, false);
  let importEnv;
  const owEntry = () => {
    importEnv = assign({}, process.env);
    const entry = global.__seuss_main;
    return typeof entry === 'function' ? entry : undefined;
  };
  const owParams = (params) => {
    const env = assign({}, importEnv);
    if (params !== null && typeof params === 'object' && !isArray(params) && apply(hasOwn, params, ['__ow_env'])) {
      const ow = params.__ow_env;
      delete params.__ow_env;
      if (ow !== null && typeof ow === 'object') {
        for (const k of keys(ow)) env[k] = StringCtor(ow[k]);
      }
    }
    process.env = env;
    return params;
  };
  // ---- end of the OpenWhisk glue ----

  const errorMessage = (e) =>
    (e !== null && typeof e === 'object' && 'message' in e) ? StringCtor(e.message) : StringCtor(e);

  return freeze({
    // CommonJS environment for a script (Node's module/exports/require); `entry` is the
    // bundle id of the script when it comes from a bundle.
    commonjs(entry) {
      const module = { exports: {} };
      data(global, 'module', module, false);
      data(global, 'exports', module.exports, false);
      data(global, 'require', entry === undefined ? function require(name) {
        return requireBuiltin(name);
      } : makeRequire(entry), false);
    },
    // `require` of a resolved bundle id (ES module imports of CommonJS, JSON and built-ins).
    requireId(id) { return requireResolved(id, id); },
    // The named exports an ES module sees in a CommonJS value.
    exportNames(v) {
      return v !== null && (typeof v === 'object' || typeof v === 'function') ? keys(v).filter((k) => k !== 'default') : [];
    },
    // The function's main, in the order OpenWhisk's Node.js runtime looks for it.
    findMain(namespace) {
      const entry = owEntry();
      if (entry !== undefined) return entry;
      if (namespace !== undefined) {
        if (typeof namespace.default === 'function') return namespace.default;
        if (typeof namespace.main === 'function') return namespace.main;
        return undefined;
      }
      const m = global.module;
      if (m && typeof m.exports === 'function') return m.exports;
      if (m && m.exports && typeof m.exports.main === 'function') return m.exports.main;
      if (global.exports && typeof global.exports.main === 'function') return global.exports.main;
      if (typeof global.main === 'function') return global.main;
      return undefined;
    },
    call(main, argsText) {
      const params = trim(argsText) === '' ? {} : parse(argsText);
      return apply(main, undefined, [owParams(params)]);
    },
    finish(value) {
      const text = stringify(value === undefined ? {} : value);
      return text === undefined ? '{}' : text;
    },
    error(e) {
      return stringify({ error: errorMessage(e) });
    },
    hash,
  });
})
