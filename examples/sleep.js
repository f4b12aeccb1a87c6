// Waits (setTimeout) for params.ms milliseconds (default 250), then reports how long it waited.
async function main(params) {
  const ms = params.ms ?? 250;
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { waitedAtLeast: Date.now() - start >= ms };
}
