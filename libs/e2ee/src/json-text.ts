/**
 * JSON that is already text: stored key objects go out as they are stored instead of being
 * parsed and serialized again (a /keys/query of a thousand users answers half a megabyte of
 * them). `stringifyJson` writes a value holding such texts; `JSON.stringify` still works on
 * it (it parses them back), so nothing that serializes the ordinary way breaks.
 */
export class JsonText {
  /** `text` is one JSON value, valid as it is. */
  constructor(readonly text: string) {}

  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `JSON.stringify(value)`, with each JsonText inside written as its text. */
export function stringifyJson(value: unknown): string {
  if (value instanceof JsonText) return value.text;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : stringifyJson(item))).join(',')}]`;
  }
  if (!isPlainObject(value)) return JSON.stringify(value);
  const members: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    members.push(`${JSON.stringify(key)}:${stringifyJson(item)}`);
  }
  return `{${members.join(',')}}`;
}
