/**
 * JSON request bodies as every endpoint receives them. Beyond the JSON grammar a body must be
 * valid UTF-8 (no invalid or overlong byte sequences), must not nest arrays and objects more
 * than {@link MAX_JSON_BODY_DEPTH} levels deep, and no string in it (key or value) may hold a
 * lone UTF-16 surrogate (`"\ud800"`: JSON.parse accepts the escape, but such a string has no
 * UTF-8 form, so it can neither be stored nor signed).
 */
import { MatrixError } from './matrix-error';

/**
 * The deepest nesting of arrays and objects accepted in a request body (the body's own object
 * is level 1). Nothing a client legitimately sends comes near it.
 */
export const MAX_JSON_BODY_DEPTH = 100;

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` holds a UTF-16 surrogate without its pair. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/**
 * Why a parsed JSON value cannot be accepted as a request body, or undefined when it can.
 * `checkStrings: false` skips the search for lone surrogates (valid UTF-8 text without a
 * `\u` escape cannot produce one).
 */
export function jsonBodyProblem(value: unknown, checkStrings = true): string | undefined {
  return findProblem(value, 0, checkStrings);
}

/** `depth` is the number of arrays and objects around `value`. */
function findProblem(value: unknown, depth: number, checkStrings: boolean): string | undefined {
  if (typeof value === 'string') return checkStrings && hasLoneSurrogate(value) ? LONE_SURROGATE_MESSAGE : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= MAX_JSON_BODY_DEPTH) return `Arrays and objects in the request body may not nest more than ${MAX_JSON_BODY_DEPTH} levels deep`;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      const problem = findProblem(item, depth + 1, checkStrings);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    if (checkStrings && hasLoneSurrogate(key)) return LONE_SURROGATE_MESSAGE;
    const problem = findProblem(item, depth + 1, checkStrings);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

const LONE_SURROGATE_MESSAGE = 'The request body holds a string with a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair)';

/**
 * Parses a request body: 400 M_NOT_JSON for bytes that are not UTF-8 JSON, 400 M_BAD_JSON for
 * JSON nested too deep or holding a lone surrogate.
 */
export function parseJsonBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw MatrixError.notJson('Content not JSON: the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw MatrixError.notJson('Content not JSON.');
  }
  const problem = jsonBodyProblem(value, text.includes('\\u'));
  if (problem !== undefined) throw MatrixError.badJson(problem);
  return value;
}
