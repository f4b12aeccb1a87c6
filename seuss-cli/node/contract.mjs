// The function contract in Node.js (the reference for js-launcher's function.rs/prelude.js):
// how a function file is loaded and how results and errors become JSON.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import path from 'node:path';

export const errorMessage = (e) =>
  (e !== null && typeof e === 'object' && 'message' in e) ? String(e.message) : String(e);
export const finish = (v) => JSON.stringify(v === undefined ? {} : v) ?? '{}';
export const errorJson = (e) => JSON.stringify({ error: errorMessage(e) });

// Returns the function's main (undefined if it defines none).
export async function load(fn) {
  const source = readFileSync(fn, 'utf8');
  if (fn.endsWith('.mjs')) {
    const ns = await import(pathToFileURL(path.resolve(fn)).href);
    return typeof ns.default === 'function' ? ns.default : ns.main;
  }
  const module = { exports: {} };
  // Node's own require, from the function's directory (its node_modules).
  const require = createRequire(path.resolve(fn));
  const body = `${source}\n;return typeof main === 'function' ? main : undefined;`;
  const globalMain = new Function('module', 'exports', 'require', body)(module, module.exports, require);
  if (typeof module.exports === 'function') return module.exports;
  if (module.exports && typeof module.exports.main === 'function') return module.exports.main;
  return globalMain;
}
