// Non-2xx statuses, empty bodies, HEAD, reason phrases.
async function main({ base }) {
  const one = async (path, init) => {
    const r = await fetch(base + path, init);
    return { status: r.status, ok: r.ok, statusText: r.statusText, text: await r.text(), length: r.headers.get('content-length') };
  };
  return {
    notFound: await one('/nowhere'),
    status404: await one('/status?code=404'),
    status500: await one('/status?code=500&reason=Custom%20Failure'),
    status204: await one('/status?code=204'),
    status201: await one('/status?code=201'),
    head: await one('/json', { method: 'HEAD' }),
    afterHead: await one('/json'),
  };
}
