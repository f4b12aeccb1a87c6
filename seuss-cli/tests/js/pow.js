// Bits of b ** k and Math.pow(b, k) for the bases and exponents of js_fidelity.rs.
function main() {
  const bases = [10, 2, 3, 7, 0.5, 1.1, 1.5, 123.456, -2, -10, 1e10, 0.1, 9, 5, 1.0000001];
  const view = new DataView(new ArrayBuffer(8));
  const hex = (x) => { view.setFloat64(0, x); return view.getBigUint64(0).toString(16).padStart(16, '0'); };
  const op = [];
  const fn = [];
  for (const b of bases) {
    for (let k = -330; k <= 330; k++) {
      op.push(hex(b ** k));
      fn.push(hex(Math.pow(b, k)));
    }
  }
  const tenNeg = [];
  for (let k = 0; k <= 330; k++) tenNeg.push(10 ** -k === Number('1e-' + k));
  return { bases, op, fn, tenNeg, nanPow: Number.isNaN(1 ** NaN), tiny: 2 ** -1074 };
}
