// A long-lived Node.js process serving one function, as OpenWhisk's warm container does: it
// imports FN.js once, then reads one args JSON per stdin line and writes one result line.
// The benchmarks' "node_warm" baseline.
//
//   node warm.mjs FN.js
import { createInterface } from 'node:readline';
import { load, finish, errorJson } from './contract.mjs';

// Console output must not mix with the result lines on stdout.
console.log = console.info = console.debug = console.error;

const main = await load(process.argv[2]);
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let out;
  try {
    const params = line.trim() === '' ? {} : JSON.parse(line);
    out = finish(await main(params));
  } catch (e) {
    out = errorJson(e);
  }
  process.stdout.write(out + '\n');
}
