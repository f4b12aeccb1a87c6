// CommonJS cycles, a JSON file and the Node built-in modules the launcher implements.
const a = require('./lib/a');
const cfg = require('./data.json');
const qs = require('querystring');
const util = require('util');
const { Buffer } = require('buffer');
const crypto = require('crypto');
const { StringDecoder } = require('string_decoder');
const assert = require('assert');
exports.main = function (params) {
  const d = new StringDecoder('utf8');
  const euro = Buffer.from('€');
  let caught;
  try { assert.deepStrictEqual({ a: 1 }, { a: 2 }); } catch (e) { caught = e.code; }
  return {
    a, cfg, qs: qs.stringify({ x: [1, 2], y: 'a b' }), parsed: qs.parse('a=1&a=2&b=%20'),
    fmt: util.format('%s=%d %j', 'n', 42, { k: [1] }), b64: Buffer.from('héllo').toString('base64'), hex: Buffer.from('ff00', 'hex').length,
    sha256: crypto.createHash('sha256').update('abc').digest('hex'), sha1: crypto.createHash('sha1').update(Buffer.from('abc')).digest('base64'),
    md5: crypto.createHash('md5').update('a').update('bc').digest('hex'), rb: crypto.randomBytes(8).length, uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
    dec: d.write(euro.subarray(0, 1)) + '|' + d.write(euro.subarray(1)), caught,
  };
};
