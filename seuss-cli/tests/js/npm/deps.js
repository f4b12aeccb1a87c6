// The function of npm_packages.rs: lodash, mustache, uuid and dayjs through require.
const _ = require('lodash');
const Mustache = require('mustache');
const { v4: uuidv4, v5: uuidv5, validate, version } = require('uuid');
const dayjs = require('dayjs');
function main(params) {
  const id = uuidv4();
  return {
    chunks: _.chunk([1, 2, 3, 4, 5], 2),
    grouped: _.groupBy(['one', 'two', 'three'], 'length'),
    text: Mustache.render('Hello {{name}}! {{#items}}<{{.}}>{{/items}}', { name: params.name || 'x', items: [1, 2] }),
    v4ok: validate(id) && version(id) === 4,
    v5: uuidv5('hello', uuidv5.DNS),
    day: dayjs('2024-02-29T12:00:00Z').add(1, 'year').format('YYYY-MM-DD'),
  };
}
