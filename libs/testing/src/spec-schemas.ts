/**
 * Validates response bodies against the Matrix spec's OpenAPI descriptions (OpenAPI 3.1,
 * so JSON Schema 2020-12). Loads `<spec>/data/api/<api>/<file>`, picks the response schema of
 * one path, method and status, and inlines relative `$ref`s across files.
 *
 * The spec data is looked up in `$MATRIX_SPEC_DIR`, else `../shared/matrix-spec` beside the
 * repository. Where it does not exist, schema checks are skipped (one console.warn says so).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

export type SpecApi = 'client-server' | 'server-server' | 'application-service' | 'identity' | 'push-gateway';

export interface SpecResponse {
  api: SpecApi;
  /** File under data/api/<api>/, e.g. `versions.yaml`. */
  file: string;
  /** Path as written in the file, e.g. `/versions`. */
  path: string;
  method: 'get' | 'put' | 'post' | 'delete';
  status: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** The spec data folder, or null when this checkout has none. */
export function specDataDir(): string | null {
  const base = process.env.MATRIX_SPEC_DIR ?? resolve(repositoryRoot(), '..', 'shared', 'matrix-spec');
  const data = join(base, 'data');
  return existsSync(data) ? data : null;
}

let warned = false;
function warnMissing(): void {
  if (warned) return;
  warned = true;
  console.warn('Matrix spec data not found (set MATRIX_SPEC_DIR or place it at ../shared/matrix-spec): response schema checks are skipped.');
}

const documents = new Map<string, Json>();
function loadDocument(file: string): Json {
  let document = documents.get(file);
  if (document === undefined) {
    document = YAML.parse(readFileSync(file, 'utf8')) as Json;
    documents.set(file, document);
  }
  return document;
}

function pointer(document: Json, fragment: string): Json {
  let current = document;
  for (const raw of fragment.split('/').filter(Boolean)) {
    const segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !(segment in current)) {
      throw new Error(`JSON pointer #${fragment} not found`);
    }
    current = (current as Record<string, Json>)[segment];
  }
  return current;
}

/** Inlines every `$ref` (relative file, optional #fragment) of `node`, which lives in `file`. */
function inline(node: Json, file: string, stack: readonly string[]): Json {
  if (Array.isArray(node)) return node.map((item) => inline(item, file, stack));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') continue;
    if (key === 'example' || key === 'examples') continue;
    out[key] = inline(value, file, stack);
  }
  const ref = (node as Record<string, Json>).$ref;
  if (typeof ref !== 'string') return out;
  const [target, fragment = ''] = ref.split('#');
  const targetFile = target ? resolve(dirname(file), target) : file;
  const id = `${targetFile}#${fragment}`;
  if (stack.includes(id)) return out; // a recursive schema: the inner occurrence is left open
  const resolved = inline(pointer(loadDocument(targetFile), fragment), targetFile, [...stack, id]);
  if (typeof resolved !== 'object' || resolved === null || Array.isArray(resolved)) return resolved;
  return Object.keys(out).length === 0 ? resolved : { allOf: [resolved, out] };
}

let ajv: Ajv2020 | undefined;
function validatorEngine(data: string): Ajv2020 {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const formats = YAML.parse(readFileSync(join(data, 'string-formats.yaml'), 'utf8')) as Record<string, { regex?: string }>;
    for (const [name, format] of Object.entries(formats ?? {})) {
      if (ajv.formats[name] !== undefined) continue;
      ajv.addFormat(name, format.regex ? new RegExp(format.regex) : true);
    }
  }
  return ajv;
}

/** The response schema, with every `$ref` inlined; null when the spec data is missing. */
export function loadResponseSchema(response: SpecResponse): Json | null {
  const data = specDataDir();
  if (!data) {
    warnMissing();
    return null;
  }
  const file = join(data, 'api', response.api, response.file);
  const document = loadDocument(file);
  const operation = pointer(document, `/paths/${response.path.replace(/~/g, '~0').replace(/\//g, '~1')}/${response.method}`);
  const responses = pointer(operation, '/responses') as Record<string, Json>;
  const entry = responses[String(response.status)];
  if (entry === undefined) throw new Error(`${response.file} ${response.method.toUpperCase()} ${response.path} has no ${response.status} response`);
  const schema = pointer(inline(entry, file, []), '/content/application~1json/schema');
  return schema;
}

/**
 * The schema errors of `body` for that response (empty when valid); null when the spec data
 * is missing and the check is skipped.
 */
export function specSchemaErrors(body: unknown, response: SpecResponse): string[] | null {
  const schema = loadResponseSchema(response);
  const data = specDataDir();
  if (schema === null || data === null) return null;
  const validate = validatorEngine(data).compile(schema as object);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '(root)'} ${error.message ?? 'is invalid'}`);
}

/** Throws when `body` does not match the spec's schema for that response (a skipped check passes). */
export function assertMatchesSpec(body: unknown, response: SpecResponse): void {
  const errors = specSchemaErrors(body, response);
  if (errors && errors.length > 0) {
    throw new Error(`${response.method.toUpperCase()} ${response.path} ${response.status} does not match ${response.file}:\n  ${errors.join('\n  ')}`);
  }
}

/**
 * Throws when `event` does not match the spec's schema of its event type
 * (`data/event-schemas/schema/<type>.yaml`, e.g. `m.presence`); a skipped check passes.
 */
export function assertMatchesEventSchema(event: unknown, type: string): void {
  const data = specDataDir();
  if (data === null) {
    warnMissing();
    return;
  }
  const file = join(data, 'event-schemas', 'schema', `${type}.yaml`);
  const schema = inline(loadDocument(file), file, []) as Record<string, Json>;
  // The engine is 2020-12 already; a $schema key inside the inlined parts would be refused.
  const validate = validatorEngine(data).compile(withoutSchemaKeys(schema) as object);
  if (validate(event)) return;
  const errors = (validate.errors ?? []).map((error) => `${error.instancePath || '(root)'} ${error.message ?? 'is invalid'}`);
  throw new Error(`event does not match the ${type} schema:\n  ${errors.join('\n  ')}`);
}

function withoutSchemaKeys(node: Json): Json {
  if (Array.isArray(node)) return node.map(withoutSchemaKeys);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(Object.entries(node).filter(([key]) => key !== '$schema').map(([key, value]) => [key, withoutSchemaKeys(value)]));
}
