exports.early = 'a-early';
const b = require('./b');
exports.fromB = b.value;
exports.late = 'a-late';
