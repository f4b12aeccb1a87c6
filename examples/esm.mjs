// An ES module: default export, a module-level constant and a helper.
const greeting = 'Hi';

function shout(s) {
  return s.toUpperCase();
}

export default async function main(params) {
  return { message: `${greeting}, ${shout(params.name ?? 'module')}` };
}
