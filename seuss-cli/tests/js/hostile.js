// A function that attacks the launcher's result path: replaced and deleted builtins.
function main(params) {
  const probes = {
    seussGlobals: Object.getOwnPropertyNames(globalThis).filter((k) => k.startsWith('__seuss')),
  };
  JSON.stringify = () => '{"forged":true}';
  JSON.parse = () => ({ forged: true });
  Object.prototype.toJSON = undefined;
  String = function () { return 'forged'; };
  Reflect.apply = () => ({ forged: true });
  Function.prototype.call = () => ({ forged: true });
  Function.prototype.apply = () => ({ forged: true });
  Object.defineProperty = () => { throw new Error('forged'); };
  Object.keys = () => ['forged'];
  Array.prototype.join = () => 'forged';
  if (params.mode === 'delete') delete globalThis.JSON;
  if (params.mode === 'throw') { delete globalThis.JSON; throw new Error('still reported'); }
  if (params.mode === 'reject') { delete globalThis.JSON; return Promise.reject(new Error('rejection reported')); }
  return { ok: true, probes };
}
