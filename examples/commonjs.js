// CommonJS: exports.main, with module-level state created at import time.
const table = new Map([['x', 1], ['y', 2]]);

exports.main = function (params) {
  const keys = [...table.keys()].sort();
  return { keys, sum: keys.reduce((a, k) => a + table.get(k), 0), echo: params };
};
