import { MatrixError } from '@hs/http';
import { z } from 'zod';
import { booleanQueryParam, parseBody, parseObjectBody, queryParam, requireQueryParam } from './validation';

function errorOf(action: () => unknown): { status: number; errcode: string; message: string } | null {
  try {
    action();
    return null;
  } catch (error) {
    if (!(error instanceof MatrixError)) throw error;
    return { status: error.status, errcode: error.errcode, message: error.message };
  }
}

const Body = z.object({ name: z.string(), count: z.number().int().optional(), nested: z.object({ flag: z.boolean() }).optional() });

describe('parseBody', () => {
  it('returns the parsed body', () => {
    expect(parseBody(Body, { name: 'x', count: 2 })).toEqual({ name: 'x', count: 2 });
  });

  it('M_MISSING_PARAM for a missing field, also when there is no body at all', () => {
    expect(errorOf(() => parseBody(Body, {}))).toEqual({ status: 400, errcode: 'M_MISSING_PARAM', message: 'Missing name' });
    expect(errorOf(() => parseBody(Body, undefined))?.errcode).toBe('M_MISSING_PARAM');
  });

  it('M_BAD_JSON for a wrong type (naming the field) and for a body that is not an object', () => {
    expect(errorOf(() => parseBody(Body, { name: 1 }))).toMatchObject({ errcode: 'M_BAD_JSON', message: expect.stringContaining('name') });
    expect(errorOf(() => parseBody(Body, { name: 'x', nested: { flag: 'yes' } }))).toMatchObject({
      errcode: 'M_BAD_JSON',
      message: expect.stringContaining('nested.flag'),
    });
    expect(errorOf(() => parseBody(Body, { name: 'x', count: 1.5 }))?.errcode).toBe('M_BAD_JSON');
    for (const body of [null, [], 'text', 3]) expect(errorOf(() => parseBody(Body, body))?.errcode).toBe('M_BAD_JSON');
  });
});

describe('parseObjectBody', () => {
  it('accepts objects, refuses anything else', () => {
    expect(parseObjectBody({ a: 1 })).toEqual({ a: 1 });
    expect(errorOf(() => parseObjectBody(undefined))?.errcode).toBe('M_NOT_JSON');
    expect(errorOf(() => parseObjectBody([1]))?.errcode).toBe('M_BAD_JSON');
    expect(errorOf(() => parseObjectBody(null))?.errcode).toBe('M_BAD_JSON');
  });
});

describe('query parameters', () => {
  it('reads the first value of a parameter', () => {
    expect(queryParam({ a: ['1', '2'] }, 'a')).toBe('1');
    expect(queryParam({ a: '1' }, 'b')).toBeUndefined();
    expect(queryParam(undefined, 'a')).toBeUndefined();
    expect(requireQueryParam({ a: 'x' }, 'a')).toBe('x');
    expect(errorOf(() => requireQueryParam({}, 'a'))?.errcode).toBe('M_MISSING_PARAM');
  });

  it('parses booleans strictly', () => {
    expect(booleanQueryParam({ f: 'true' }, 'f', false)).toBe(true);
    expect(booleanQueryParam({ f: 'false' }, 'f', true)).toBe(false);
    expect(booleanQueryParam({}, 'f', true)).toBe(true);
    expect(errorOf(() => booleanQueryParam({ f: 'yes' }, 'f', true))?.errcode).toBe('M_INVALID_PARAM');
  });
});
