// Node.js reference for the function contract: evaluates a function file the way js-launcher
// does (see js-launcher/src/function.rs and prelude.js) and prints console lines, then the
// result JSON as the last stdout line. Exit status 0, 1 for an error result, 2 if the
// function cannot be imported.
//
//   node harness.mjs FN.js '<json args>'
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [file, argsText = ''] = process.argv.slice(2);
const errorMessage = (e) =>
  (e !== null && typeof e === 'object' && 'message' in e) ? String(e.message) : String(e);
const finish = (v) => JSON.stringify(v === undefined ? {} : v) ?? '{}';

async function load(fn) {
  const source = readFileSync(fn, 'utf8');
  if (fn.endsWith('.mjs')) {
    const ns = await import(pathToFileURL(path.resolve(fn)).href);
    return typeof ns.default === 'function' ? ns.default : ns.main;
  }
  const module = { exports: {} };
  const require = (name) => {
    throw new Error(`require('${name}') is not available: functions must be self-contained`);
  };
  const body = `${source}\n;return typeof main === 'function' ? main : undefined;`;
  const globalMain = new Function('module', 'exports', 'require', body)(module, module.exports, require);
  if (typeof module.exports === 'function') return module.exports;
  if (module.exports && typeof module.exports.main === 'function') return module.exports.main;
  return globalMain;
}

let main;
try {
  main = await load(file);
} catch (e) {
  console.log(JSON.stringify({ error: `import failed: ${errorMessage(e)}` }));
  process.exit(2);
}
if (typeof main !== 'function') {
  console.log(JSON.stringify({ error: 'the function defines no main' }));
  process.exit(2);
}
try {
  const params = argsText.trim() === '' ? {} : JSON.parse(argsText);
  const value = await main(params);
  console.log(finish(value));
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: errorMessage(e) }));
  process.exit(1);
}
