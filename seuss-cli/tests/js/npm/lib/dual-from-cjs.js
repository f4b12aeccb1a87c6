module.exports = require('dual');
