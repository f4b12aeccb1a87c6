// Keep-alive: sequential requests reuse one connection (the server counts requests per
// connection); a response with "connection: close" is not reused.
async function main({ base }) {
  const counts = [];
  for (let i = 0; i < 4; i++) counts.push((await (await fetch(base + '/count')).json()).servedOnThisConnection);
  await (await fetch(base + '/until-close')).text();
  counts.push((await (await fetch(base + '/count')).json()).servedOnThisConnection);
  return { counts };
}
