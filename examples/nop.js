// Does nothing: the start-time benchmark function.
function main() {
  return {};
}
