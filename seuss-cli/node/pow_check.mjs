// Checks js_fidelity.rs's pow results against Node.js: reads the function's result JSON on
// stdin, prints a JSON report. Correct rounding is decided exactly with BigInt arithmetic.
//   node pow_check.mjs < result.json
import { readFileSync } from 'node:fs';

const ours = JSON.parse(readFileSync(0, 'utf8'));
const view = new DataView(new ArrayBuffer(8));
const hex = (x) => { view.setFloat64(0, x); return view.getBigUint64(0).toString(16).padStart(16, '0'); };
const fromHex = (h) => { view.setBigUint64(0, BigInt('0x' + h)); return view.getFloat64(0); };
// A finite double as m * 2^e (m a BigInt, e a Number).
const parts = (x) => {
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const exp = Number(bits >> 52n);
  const frac = bits & ((1n << 52n) - 1n);
  return exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075];
};
// Exact |b|^k as a fraction [num, den] (k an integer).
const exactPow = (b, k) => {
  const [m, e] = parts(b);
  const n = BigInt(Math.abs(k));
  let num = m ** n;
  let den = 1n;
  let e2 = e * Math.abs(k);
  if (k < 0) { [num, den] = [den, num]; e2 = -e2; }
  if (e2 >= 0) num <<= BigInt(e2); else den <<= BigInt(-e2);
  return [num, den];
};
// |x - num/den| as a fraction scaled by den * 2^1074 * 2^S (exact compare only).
const dist = (x, [num, den]) => {
  const [m, e] = parts(x);
  // x = m * 2^e; scale everything by 2^1074 (e >= -1074).
  const xs = m << BigInt(e + 1074);
  const d = xs * den - (num << 1074n);
  return d < 0n ? -d : d;
};
const next = (x, up) => { view.setFloat64(0, x); const b = view.getBigUint64(0); view.setBigUint64(0, up ? b + 1n : b - 1n); return view.getFloat64(0); };
const correctlyRounded = (b, k, x) => {
  if (!Number.isFinite(x) || x === 0) return true; // over/underflow: not judged here
  const ax = Math.abs(x);
  const exact = exactPow(b, k);
  const d = dist(ax, exact);
  for (const y of [next(ax, true), ax > Number.MIN_VALUE ? next(ax, false) : 0]) {
    if (y === 0 || !Number.isFinite(y)) continue;
    if (dist(y, exact) < d) return false;
  }
  return true;
};
const report = { cases: 0, oursNotCorrect: [], differsWhereNodeCorrect: [], nodeNotCorrect: 0, opVsFn: [], tenNegMissing: [] };
let i = 0;
for (const b of ours.bases) {
  for (let k = -330; k <= 330; k++, i++) {
    report.cases++;
    const o = fromHex(ours.op[i]);
    const n = b ** k;
    if (ours.op[i] !== ours.fn[i]) report.opVsFn.push(`${b}**${k}`);
    const nodeOk = correctlyRounded(b, k, n);
    if (!nodeOk) report.nodeNotCorrect++;
    if (!correctlyRounded(b, k, o)) report.oursNotCorrect.push(`${b}**${k}: ${o}`);
    if (nodeOk && hex(n) !== ours.op[i]) report.differsWhereNodeCorrect.push(`${b}**${k}: ours ${o}, node ${n}`);
  }
}
for (let k = 0; k <= 330; k++) if (10 ** -k === Number('1e-' + k) && !ours.tenNeg[k]) report.tenNegMissing.push(k);
report.nodeTenNegTrue = Array.from({ length: 331 }, (_, k) => 10 ** -k === Number('1e-' + k)).filter(Boolean).length;
report.oursTenNegTrue = ours.tenNeg.filter(Boolean).length;
console.log(JSON.stringify(report));
