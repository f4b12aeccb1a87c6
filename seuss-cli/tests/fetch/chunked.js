// Chunked transfer coding and a body delimited by the server closing the connection.
async function main({ base }) {
  const r = await fetch(base + '/chunked');
  const c = await fetch(base + '/until-close');
  return {
    chunked: { status: r.status, te: r.headers.get('transfer-encoding'), text: await r.text() },
    untilClose: { status: c.status, text: await c.text() },
    afterwards: (await (await fetch(base + '/json')).json()).hello,
  };
}
