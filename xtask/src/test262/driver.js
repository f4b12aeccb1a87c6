// The test262 driver: a seuss function whose `main(params)` runs one test (cargo xtask
// test262). Imported once into a function snapshot, after the harness (assert.js, sta.js)
// unless the snapshot is the raw one; every test is then a hot invocation of a fresh clone,
// so every test gets a new realm. The host hooks come from the js-launcher-test262 binary.
var main = (function () {
  var host = globalThis.__test262_host;
  delete globalThis.__test262_host;
  var runScript = host.runScript;
  var runModule = host.runModule;
  var StringCtor = String;
  var printed = [];
  Object.defineProperty(globalThis, 'print', {
    value: function print(s) { printed[printed.length] = StringCtor(s); },
    writable: true, enumerable: false, configurable: true,
  });
  var nameOf = function (e) {
    try { return e !== null && typeof e === 'object' ? StringCtor(e.constructor.name) : typeof e; } catch (x) { return '?'; }
  };
  var textOf = function (e) {
    try {
      return e !== null && typeof e === 'object' && 'message' in e ? nameOf(e) + ': ' + StringCtor(e.message) : StringCtor(e);
    } catch (x) { return 'unprintable exception'; }
  };
  return function main(p) {
    for (var i = 0; i < p.includes.length; i++) {
      var r = runScript(p.includes[i][1]);
      if (r[0] !== 'ok') return { pass: false, error: 'harness file ' + p.includes[i][0] + ': ' + textOf(r[1]) };
    }
    var src = (p.strict ? '"use strict";\n' : '') + p.src;
    var res = p.module ? runModule(src) : runScript(src);
    var settled = { state: 'pending', value: undefined };
    if (p.module && res[0] === 'ok') {
      res[1].then(function () { settled.state = 'ok'; }, function (e) { settled.state = 'error'; settled.value = e; });
    }
    // Evaluated by the launcher's JSON.stringify after every job and timer has run.
    var verdict = function () {
      var phase = res[0];
      var thrown = res[1];
      if (p.module && phase === 'ok') {
        if (settled.state === 'error') { phase = 'runtime'; thrown = settled.value; }
        else if (settled.state === 'pending' && !p.async) return { pass: false, error: 'module evaluation never settled' };
      }
      if (p.negative) {
        var wantPhase = p.negative.phase === 'parse' ? 'parse' : 'runtime';
        if (phase === 'ok') return { pass: false, error: 'expected ' + p.negative.type + ' at ' + p.negative.phase + ', but nothing was thrown' };
        if (phase !== wantPhase) return { pass: false, error: 'expected ' + p.negative.phase + ' phase, got ' + phase + ' ' + textOf(thrown) };
        if (nameOf(thrown) !== p.negative.type) return { pass: false, error: 'expected ' + p.negative.type + ', got ' + textOf(thrown) };
        return { pass: true };
      }
      if (phase !== 'ok') return { pass: false, error: (phase === 'parse' ? 'parse: ' : '') + textOf(thrown) };
      if (p.async) {
        for (var j = 0; j < printed.length; j++) {
          if (printed[j].indexOf('Test262:AsyncTestFailure:') === 0) return { pass: false, error: printed[j] };
          if (printed[j] === 'Test262:AsyncTestComplete') return { pass: true };
        }
        return { pass: false, error: 'async test never called $DONE' };
      }
      return { pass: true };
    };
    return { toJSON: verdict };
  };
})();
