import { MAX_JSON_BODY_DEPTH, hasLoneSurrogate, jsonBodyProblem, parseJsonBody } from './json-body';
import { MatrixError } from './matrix-error';

function refusal(body: string | Uint8Array): { errcode: string; status: number } | undefined {
  try {
    parseJsonBody(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
    return undefined;
  } catch (error) {
    if (!(error instanceof MatrixError)) throw error;
    return { errcode: error.errcode, status: error.status };
  }
}

const NOT_JSON = { errcode: 'M_NOT_JSON', status: 400 };
const BAD_JSON = { errcode: 'M_BAD_JSON', status: 400 };

describe('JSON request bodies', () => {
  it('parses JSON with escapes, paired surrogates and non-ASCII text', () => {
    expect(parseJsonBody(Buffer.from('{"a":"\\ud83d\\ude00 é \u{1F600}","\\u00e9":[1,{"b":null}]}'))).toEqual({
      a: '\u{1F600} é \u{1F600}',
      é: [1, { b: null }],
    });
  });

  it('refuses lone surrogates in values and keys with M_BAD_JSON', () => {
    for (const body of ['{"a":"\\ud800"}', '{"a":"x\\udc00y"}', '{"x\\udc00y":1}', '["\\ud83d"]', '{"a":"\\ude00\\ud83d"}', '"\\ud800"']) {
      expect(refusal(body)).toEqual(BAD_JSON);
    }
    expect(hasLoneSurrogate('\ud83d\ude00')).toBe(false);
    expect(hasLoneSurrogate('a\ud800')).toBe(true);
    expect(hasLoneSurrogate('\udc00a')).toBe(true);
  });

  it('refuses bytes that are not UTF-8 (invalid, overlong, encoded surrogates) with M_NOT_JSON', () => {
    const wrap = (bytes: number[]) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')]);
    for (const bytes of [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3]]) {
      expect(refusal(wrap(bytes))).toEqual(NOT_JSON);
    }
  });

  it('refuses text that is not JSON with M_NOT_JSON', () => {
    for (const body of ['{"a":', 'nope', '{"a":1}x', '\ufeff{}']) expect(refusal(body)).toEqual(NOT_JSON);
  });

  it(`accepts ${MAX_JSON_BODY_DEPTH} levels of nesting and refuses more with M_BAD_JSON`, () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(refusal(nested(MAX_JSON_BODY_DEPTH))).toBeUndefined();
    expect(refusal(`{"a":${nested(MAX_JSON_BODY_DEPTH - 1)}}`)).toBeUndefined();
    expect(refusal(nested(MAX_JSON_BODY_DEPTH + 1))).toEqual(BAD_JSON);
    expect(refusal(`{"a":${nested(MAX_JSON_BODY_DEPTH)}}`)).toEqual(BAD_JSON);
    expect(refusal(`{"a":${nested(3_000)}}`)).toEqual(BAD_JSON);
    expect(refusal(`{"a":${nested(100_000)}}`)).toEqual(BAD_JSON);
  });

  it('jsonBodyProblem names the problem of a parsed value', () => {
    expect(jsonBodyProblem({ a: ['x'] })).toBeUndefined();
    expect(jsonBodyProblem({ a: ['\ud800'] })).toMatch(/surrogate/);
    expect(jsonBodyProblem({ a: ['\ud800'] }, false)).toBeUndefined();
  });
});
