// Promises, await, timers with real delays, Promise.all and queueMicrotask.
const sleep = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms));

async function main(params) {
  const delay = params.delay ?? 20;
  const order = [];
  queueMicrotask(() => order.push('microtask'));
  const start = Date.now();
  const results = await Promise.all([sleep(delay, 'a'), sleep(delay / 2, 'b'), Promise.resolve('c')]);
  order.push('all');
  let ticks = 0;
  await new Promise((resolve) => {
    const id = setInterval(() => {
      ticks += 1;
      if (ticks === 3) {
        clearInterval(id);
        resolve();
      }
    }, 5);
  });
  const cancelled = setTimeout(() => order.push('must not run'), 1);
  clearTimeout(cancelled);
  await sleep(5);
  const waited = Date.now() - start;
  return { results, order, ticks, waitedAtLeastDelay: waited >= delay };
}
