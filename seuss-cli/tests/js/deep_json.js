// Boa's JSON.parse parser is recursive: the patch keeps serde_json's old nesting limit (128)
// so that deeper input is a SyntaxError instead of a stack overflow in the guest. (Node.js
// accepts deeper nesting; this is a documented difference.)
function main() {
  const nest = (n) => '['.repeat(n) + ']'.repeat(n);
  const attempt = (n) => { try { JSON.parse(nest(n)); return 'parsed'; } catch (e) { return e.name; } };
  return { depth128: attempt(128), depth5000: attempt(5000) };
}
