// Drives a `seuss serve` node with the official OpenWhisk JS client (npm `openwhisk`), as a
// user would, and prints one JSON object with what each call returned (or how it failed);
// seuss-cli/tests/serve_client.rs asserts on it.
//
//   OW_CLIENT_DIR=target/npm OW_APIHOST=http://127.0.0.1:PORT OW_KEY=UUID:KEY node ow_client_test.mjs
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.env.OW_CLIENT_DIR, 'package.json'));
const openwhisk = require('openwhisk');
const ow = openwhisk({ apihost: process.env.OW_APIHOST, api_key: process.env.OW_KEY });

const failure = (e) => ({ failed: true, statusCode: e.statusCode, message: e.message, error: e.error });
const attempt = (p) => p.catch(failure);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const HELLO = `function main(params) {
  console.log('hello from', params.name);
  console.error('warning for', params.name);
  return { greeting: params.greeting + ', ' + params.name + '!' };
}`;

const out = {};
out.create = await attempt(ow.actions.create({ name: 'hello', action: HELLO, params: { greeting: 'Hello', name: 'stranger' } }));
out.createAgain = await attempt(ow.actions.create({ name: 'hello', action: HELLO }));
out.update = await attempt(ow.actions.update({ name: 'hello', action: HELLO, params: { greeting: 'Hi', name: 'stranger' } }));
out.createFails = await attempt(ow.actions.create({ name: 'fails', action: 'function main() { throw new Error("boom"); }' }));
out.list = await attempt(ow.actions.list());
out.get = await attempt(ow.actions.get('hello'));
out.blocking = await attempt(ow.actions.invoke({ name: 'hello', params: { name: 'Ada' }, blocking: true }));
out.result = await attempt(ow.actions.invoke({ name: 'hello', params: { name: 'Grace' }, blocking: true, result: true }));
out.nonBlocking = await attempt(ow.actions.invoke({ name: 'hello', params: { name: 'Bob' } }));
const id = out.nonBlocking.activationId;
for (let i = 0; i < 200; i++) {
  out.activation = await attempt(ow.activations.get(id));
  if (!out.activation.failed) break;
  await sleep(50);
}
out.logs = await attempt(ow.activations.logs(id));
out.activationResult = await attempt(ow.activations.result(id));
out.activations = await attempt(ow.activations.list({ name: 'hello', limit: 5 }));
out.appError = await attempt(ow.actions.invoke({ name: 'fails', blocking: true }));
out.appErrorResult = await attempt(ow.actions.invoke({ name: 'fails', blocking: true, result: true }));
out.namespaces = await attempt(ow.namespaces.list());
out.missing = await attempt(ow.actions.get('nope'));
const wrong = openwhisk({ apihost: process.env.OW_APIHOST, api_key: process.env.OW_KEY.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x')) });
out.wrongKey = await attempt(wrong.actions.list());
out.delete = await attempt(ow.actions.delete('hello'));
out.afterDelete = await attempt(ow.actions.get('hello'));
await attempt(ow.actions.delete('fails'));
console.log(JSON.stringify(out));
