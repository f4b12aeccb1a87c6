// CPU-bound: naive Fibonacci (n = 25 by default, ~100-200 ms in Boa).
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function main(params) {
  const n = Number.isInteger(params.n) ? params.n : 25;
  return { n, fib: fib(n) };
}
