// Number formatting, Date strings and JSON.parse where Boa 0.22 differed from Node.js.
function main() {
  return {
    toPrecision: [(1e-300).toPrecision(13), Number.MIN_VALUE.toPrecision(1), (1.2345678e-95).toPrecision(10),
      (123.456).toPrecision(4), (0.000001234).toPrecision(2), (1e21).toPrecision(3), (99.99).toPrecision(3), (-5e-324).toPrecision(3)],
    toExponential: [(25).toExponential(0), (12345).toExponential(3), (1.25).toExponential(1), (-0.00015).toExponential(1),
      (0).toExponential(2), (123.456).toExponential(), Number.MAX_VALUE.toExponential(20), (5e-324).toExponential(5), (35).toExponential(0)],
    toFixed: [(1.005).toFixed(2), (1e-10).toFixed(5)],
    dates: [new Date(0).toString(), new Date(0).toTimeString(), new Date(Date.UTC(2024, 1, 29, 12, 30)).toString(), new Date(NaN).toString()],
    json: [JSON.parse('{"a":"\\ud800"}').a.charCodeAt(0), JSON.parse('"\\udc00x"').length, JSON.parse('[' .repeat(100) + ']'.repeat(100)).length],
    roundIdiom: [1.005, 2.675, 1.255, 8.345].map((x) => Math.round(x * 10 ** 2) / 10 ** 2),
  };
}
