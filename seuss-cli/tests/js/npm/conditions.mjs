// package.json "exports" with import/require conditions, seen from an ES module and from a
// CommonJS module of the same package graph.
import dual from 'dual';
import viaCjs from './lib/dual-from-cjs.js';
export default function main() {
  return { esm: dual.kind, cjs: viaCjs.kind, sub: dual.sub };
}
