const a = require('./a');
exports.value = 'b sees a.early=' + a.early + ' a.late=' + a.late;
