/**
 * A walkable description of the configuration schema (./schema.ts): sections and keys with
 * their documentation, defaults and value kinds. The sample file, the reference
 * documentation and the environment overrides are built from it.
 */
import { z } from 'zod';
import { configSchema, keyDoc } from './schema';

/** `list` and `map` are structured values (YAML sequences and mappings; JSON in an environment variable). */
export type ValueKind = 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'map';

export interface ConfigKey {
  kind: 'key';
  /** Segments from the root, e.g. ['database', 'url']. */
  path: string[];
  doc: string;
  valueKind: ValueKind;
  /** The allowed values of an enum key. */
  options?: readonly string[];
  hasDefault: boolean;
  default?: unknown;
  example?: unknown;
  optional: boolean;
  nullable: boolean;
  isPath: boolean;
}

export interface ConfigSection {
  kind: 'section';
  path: string[];
  doc: string;
  children: ConfigNode[];
}

export type ConfigNode = ConfigKey | ConfigSection;

interface Unwrapped {
  inner: z.ZodTypeAny;
  hasDefault: boolean;
  default?: unknown;
  optional: boolean;
  nullable: boolean;
}

function unwrap(schema: z.ZodTypeAny): Unwrapped {
  const out: Unwrapped = { inner: schema, hasDefault: false, optional: false, nullable: false };
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodDefault) {
      out.hasDefault = true;
      out.default = (current._def as { defaultValue: () => unknown }).defaultValue();
      current = current._def.innerType;
    } else if (current instanceof z.ZodOptional) {
      out.optional = true;
      current = current._def.innerType;
    } else if (current instanceof z.ZodNullable) {
      out.nullable = true;
      current = current._def.innerType;
    } else if (current instanceof z.ZodEffects) {
      current = current._def.schema;
    } else {
      break;
    }
  }
  out.inner = current;
  return out;
}

function valueKind(schema: z.ZodTypeAny, path: string[]): { kind: ValueKind; options?: readonly string[] } {
  if (schema instanceof z.ZodString) return { kind: 'string' };
  if (schema instanceof z.ZodNumber) return { kind: 'number' };
  if (schema instanceof z.ZodBoolean) return { kind: 'boolean' };
  if (schema instanceof z.ZodEnum) return { kind: 'enum', options: schema.options as readonly string[] };
  if (schema instanceof z.ZodArray) return { kind: 'list' };
  if (schema instanceof z.ZodRecord) return { kind: 'map' };
  throw new Error(`configuration key ${path.join('.')} has a schema the describer does not know`);
}

function describeObject(shape: z.ZodRawShape, parent: string[]): ConfigNode[] {
  return Object.entries(shape).map(([name, schema]): ConfigNode => {
    const path = [...parent, name];
    const doc = keyDoc(schema);
    if (!doc) throw new Error(`configuration key ${path.join('.')} has no documentation`);
    const unwrapped = unwrap(schema);
    if (unwrapped.inner instanceof z.ZodObject) {
      return { kind: 'section', path, doc: doc.doc, children: describeObject(unwrapped.inner.shape as z.ZodRawShape, path) };
    }
    const kind = valueKind(unwrapped.inner, path);
    return {
      kind: 'key',
      path,
      doc: doc.doc,
      valueKind: kind.kind,
      options: kind.options,
      hasDefault: unwrapped.hasDefault,
      default: unwrapped.default,
      example: doc.example,
      optional: unwrapped.optional,
      nullable: unwrapped.nullable,
      isPath: doc.path === true,
    };
  });
}

let described: ConfigNode[] | undefined;

/** Every section and key of the configuration, in file order. */
export function describeConfig(): ConfigNode[] {
  if (!described) {
    const root = unwrap(configSchema).inner;
    if (!(root instanceof z.ZodObject)) throw new Error('the configuration schema must be an object');
    described = describeObject(root.shape as z.ZodRawShape, []);
  }
  return described;
}

/** Every key (leaf) of the configuration, depth first. */
export function configKeys(nodes: ConfigNode[] = describeConfig()): ConfigKey[] {
  return nodes.flatMap((node) => (node.kind === 'key' ? [node] : configKeys(node.children)));
}

/** The node at a path, if the schema has one. */
export function findConfigNode(path: readonly string[]): ConfigNode | undefined {
  let nodes = describeConfig();
  let found: ConfigNode | undefined;
  for (const segment of path) {
    found = nodes.find((node) => node.path[node.path.length - 1] === segment);
    if (!found) return undefined;
    nodes = found.kind === 'section' ? found.children : [];
  }
  return found;
}

/** The environment variable that overrides a key: HS_ + segments upper-cased, joined by `__`. */
export function envVarName(path: readonly string[]): string {
  return `HS_${path.map((segment) => segment.toUpperCase()).join('__')}`;
}
