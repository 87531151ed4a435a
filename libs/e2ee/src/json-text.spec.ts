import { JsonText, stringifyJson } from './json-text';

describe('stringifyJson', () => {
  it('writes what JSON.stringify writes, JsonText as its text', () => {
    const keys = { algorithms: ['a'], keys: { 'ed25519:D': 'k' }, unsigned: { device_display_name: 'Phone "1" \u2603 \\' } };
    const value = {
      device_keys: { '@a:x': { D: new JsonText(JSON.stringify(keys)), E: { plain: [1, 'two', null, true, { nested: 1.5 }] } }, '@b:x': {} },
      failures: {},
      skipped: undefined,
      list: [undefined, new JsonText('"text"'), -0, 'quote " and \n newline'],
      'odd "key"\u2028': 1,
    };
    const text = stringifyJson(value);
    expect(text).toBe(JSON.stringify(value));
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify({ ...value, device_keys: { ...value.device_keys, '@a:x': { ...value.device_keys['@a:x'], D: keys } } })));
  });

  it('writes the text of a JsonText without parsing it, and JSON.stringify parses it back', () => {
    const text = '{"b":1,"a":[2]}';
    expect(stringifyJson({ k: new JsonText(text) })).toBe(`{"k":${text}}`);
    expect(JSON.stringify({ k: new JsonText(text) })).toBe('{"k":{"b":1,"a":[2]}}');
  });

  it('leaves objects that are not plain (dates) to JSON.stringify', () => {
    const date = new Date(0);
    expect(stringifyJson({ at: date })).toBe(JSON.stringify({ at: date }));
  });
});
