// Node.js reference for the function contract: evaluates a function file the way js-launcher
// does (see contract.mjs) and prints console lines, then the result JSON as the last stdout
// line. Exit status 0, 1 for an error result, 2 if the function cannot be imported.
//
//   node harness.mjs FN.js '<json args>'
import { load, finish, errorJson, errorMessage } from './contract.mjs';

const [file, argsText = ''] = process.argv.slice(2);
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
  console.log(finish(await main(params)));
  process.exit(0);
} catch (e) {
  console.log(errorJson(e));
  process.exit(1);
}
