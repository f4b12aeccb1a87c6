// CPU-bound: naive Fibonacci (n = 28 by default: ~140 ms in Boa here).
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function main(params) {
  const n = Number.isInteger(params.n) ? params.n : 28;
  return { n, fib: fib(n) };
}
