// js-launcher prelude: evaluated once at engine initialisation (part of the runtime snapshot).
// Keep the invocation helpers here in step with the Node harness (seuss-cli/node/contract.mjs).
(function () {
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });

  define(Math, 'random', function random() { return __seuss_math_random(); });

  const hex = (b) => b.toString(16).padStart(2, '0');
  const crypto = {
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof DataView ||
          array instanceof Float32Array || array instanceof Float64Array) {
        throw new TypeError("The data argument must be an integer-type TypedArray");
      }
      if (array.byteLength > 65536) {
        throw new RangeError(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`);
      }
      const bytes = __seuss_random_bytes(array.byteLength);
      const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) view[i] = bytes[i];
      return array;
    },
    randomUUID() {
      const b = __seuss_random_bytes(16);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = b.map(hex);
      return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
    },
  };
  define(globalThis, 'crypto', crypto);

  const origin = __seuss_time_origin - __seuss_now_ms();
  define(globalThis, 'performance', {
    now() { return __seuss_now_ms(); },
    get timeOrigin() { return origin; },
  });

  // ---- OpenWhisk glue for `seuss serve` (seuss-node); keep it in this section ----
  // `process.env`: what the function's source set at import (the node's action-proxy mode
  // prepends its init env), plus, per invocation, the `__OW_*` values the node passes as the
  // `__ow_env` member of the args (removed from the params main sees). Every invocation gets
  // a fresh copy, so nothing one invocation writes leaks into the next, even when reused.
  // An entry point other than `main` (OpenWhisk's `exec.main`) is named by the node's glue,
  // appended to the source, in `globalThis.__seuss_main`.
  const process = { env: {} };
  define(globalThis, 'process', process);
  // Node's name for the global object (bundled actions assign `global.main = ...`).
  define(globalThis, 'global', globalThis);
  let importEnv;
  const owEntry = () => {
    importEnv = Object.assign({}, process.env);
    const entry = globalThis.__seuss_main;
    return typeof entry === 'function' ? entry : undefined;
  };
  const owParams = (params) => {
    const env = Object.assign({}, importEnv);
    if (params !== null && typeof params === 'object' && !Array.isArray(params) &&
        Object.prototype.hasOwnProperty.call(params, '__ow_env')) {
      const ow = params.__ow_env;
      delete params.__ow_env;
      if (ow !== null && typeof ow === 'object') {
        for (const k of Object.keys(ow)) env[k] = String(ow[k]);
      }
    }
    process.env = env;
    return params;
  };
  // ---- end of the OpenWhisk glue ----

  const errorMessage = (e) =>
    (e !== null && typeof e === 'object' && 'message' in e) ? String(e.message) : String(e);

  define(globalThis, '__seuss', {
    // CommonJS environment for scripts (Node's module/exports/require).
    commonjs() {
      const module = { exports: {} };
      define(globalThis, 'module', module);
      define(globalThis, 'exports', module.exports);
      define(globalThis, 'require', function require(name) {
        throw new Error(`require('${name}') is not available: functions must be self-contained`);
      });
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
      const m = globalThis.module;
      if (m && typeof m.exports === 'function') return m.exports;
      if (m && m.exports && typeof m.exports.main === 'function') return m.exports.main;
      if (globalThis.exports && typeof globalThis.exports.main === 'function') return globalThis.exports.main;
      if (typeof globalThis.main === 'function') return globalThis.main;
      return undefined;
    },
    call(main, argsText) {
      const params = argsText.trim() === '' ? {} : JSON.parse(argsText);
      return main(owParams(params));
    },
    finish(value) {
      const text = JSON.stringify(value === undefined ? {} : value);
      return text === undefined ? '{}' : text;
    },
    error(e) {
      return JSON.stringify({ error: errorMessage(e) });
    },
  });
})();
