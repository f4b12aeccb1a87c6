// The same packages through ES module imports, plus node:path, events and a JSON import.
import _ from 'lodash';
import Mustache from 'mustache';
import { v5 as uuidv5, validate } from 'uuid';
import dayjs from 'dayjs';
import path from 'node:path';
import { EventEmitter } from 'events';
import data from './data.json' with { type: 'json' };
export default async function main(params) {
  const e = new EventEmitter();
  let got = null;
  e.on('x', (v) => { got = v; });
  e.emit('x', 42);
  return {
    max: _.max([3, 9, 2]), text: Mustache.render('{{a}}-{{b}}', { a: 1, b: data.b }),
    v5: uuidv5('x', uuidv5.URL), ok: validate(uuidv5('x', uuidv5.URL)),
    day: dayjs('2020-01-01').format('dddd'), p: path.join('a', '..', 'b'), got,
  };
}
