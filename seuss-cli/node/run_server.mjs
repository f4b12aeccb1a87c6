// A warm Node.js HTTP server answering OpenWhisk's `POST /run` for one function, as the
// Node.js runtime's warm container does (one process, no isolation between requests): the
// `seuss bench serve` baseline "node_warm_run".
//
//   node run_server.mjs FN.js PORT      (prints "listening" once ready)
import http from 'node:http';
import { load, finish, errorJson } from './contract.mjs';

const main = await load(process.argv[2]);
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let status = 200;
    let out;
    try {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      out = finish(await main(body.value ?? {}));
    } catch (e) {
      status = 502;
      out = errorJson(e);
    }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.listen(Number(process.argv[3]), '127.0.0.1', () => console.log('listening'));
