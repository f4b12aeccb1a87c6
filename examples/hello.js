// Greets params.name (OpenWhisk's hello world).
function main(params) {
  const name = params.name || 'stranger';
  console.log(`greeting ${name}`);
  return { greeting: `Hello, ${name}!` };
}
