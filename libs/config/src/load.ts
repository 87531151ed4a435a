/**
 * Reads homeserver.yaml, applies environment overrides (HS_<KEY>, `__` between nested
 * keys), validates every key against ./schema.ts and resolves relative paths against the
 * config file's folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { configKeys, envVarName, findConfigNode } from './describe';
import { configSchema } from './schema';
import type { HomeserverConfig } from './types';

/** One problem with one key; `key` is the dotted path (e.g. `database.url`), or `(file)` for the file as a whole. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/** The configuration cannot be used; start-up stops with exit code {@link CONFIG_ERROR_EXIT_CODE}. */
export class ConfigError extends Error {
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly source?: string,
  ) {
    super(
      `Invalid configuration${source ? ` in ${source}` : ''}:\n` + issues.map((issue) => `  - ${issue.key}: ${issue.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Exit code of the homeserver and the CLI when the configuration is invalid. */
export const CONFIG_ERROR_EXIT_CODE = 2;

export interface ParseConfigOptions {
  /** Folder relative paths resolve against (the config file's folder). */
  baseDir: string;
  /** Environment to read HS_* overrides from; defaults to none. */
  env?: NodeJS.ProcessEnv;
  /** Name of the source, for messages. */
  source?: string;
}

export const ENV_PREFIX = 'HS_';

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Applies HS_* variables to the raw document; returns the keys they set, by dotted path. */
function applyEnvironment(raw: Raw, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Map<string, string> {
  const setBy = new Map<string, string>();
  const names = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && name.length > ENV_PREFIX.length)
    .sort();
  for (const name of names) {
    const value = env[name] ?? '';
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    const dotted = path.join('.');
    const node = findConfigNode(path);
    if (!node) {
      issues.push({ key: dotted, message: `unknown key (set by environment variable ${name})` });
      continue;
    }
    if (node.kind === 'section') {
      issues.push({
        key: dotted,
        message: `is a section; set its keys one by one, e.g. ${envVarName([...path, (node.children[0]?.path.at(-1) ?? 'key')])} (environment variable ${name})`,
      });
      continue;
    }
    let parsed: unknown = value;
    if (node.nullable && (value === '' || value === 'null')) parsed = null;
    else if (node.valueKind === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) parsed = Number(value);
    else if (node.valueKind === 'boolean' && TRUE.has(value.toLowerCase())) parsed = true;
    else if (node.valueKind === 'boolean' && FALSE.has(value.toLowerCase())) parsed = false;
    else if (node.valueKind === 'list' || node.valueKind === 'map') {
      try {
        parsed = JSON.parse(value);
      } catch {
        issues.push({ key: dotted, message: `must be JSON (set by environment variable ${name})` });
        continue;
      }
    }
    let target = raw;
    let blocked = false;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      if (next === undefined || next === null) target[segment] = {};
      else if (!isRecord(next)) {
        blocked = true;
        break;
      }
      target = target[segment] as Raw;
    }
    if (blocked) continue; // the file's own value for the section is reported as invalid by validation
    target[path[path.length - 1]] = parsed;
    setBy.set(dotted, name);
  }
  return setBy;
}

const EXPECTED: Record<string, string> = {
  object: 'a section (a mapping of keys)',
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
};

function describeIssue(issue: z.ZodIssue): ConfigIssue[] {
  const key = issue.path.join('.');
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return issue.keys.map((unknown) => ({ key: key ? `${key}.${unknown}` : unknown, message: 'unknown key' }));
  }
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (issue.received === 'undefined') return [{ key, message: 'is required' }];
    const expected = EXPECTED[issue.expected] ?? `of type ${issue.expected}`;
    return [{ key, message: `must be ${expected}, got ${issue.received}` }];
  }
  return [{ key, message: issue.message }];
}

/** Validates a parsed YAML document (plus environment overrides) into the configuration. */
export function validateConfig(document: unknown, options: ParseConfigOptions): HomeserverConfig {
  const issues: ConfigIssue[] = [];
  let raw: Raw;
  if (document === null || document === undefined) raw = {};
  else if (isRecord(document)) raw = structuredClone(document);
  else throw new ConfigError([{ key: '(file)', message: 'must be a YAML mapping of keys' }], options.source);

  const setBy = applyEnvironment(raw, options.env ?? {}, issues);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const described of describeIssue(issue)) {
        const variable = setBy.get(described.key);
        issues.push(variable ? { ...described, message: `${described.message} (set by environment variable ${variable})` } : described);
      }
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues, options.source);

  const config = result.data;
  for (const entry of configKeys()) {
    if (!entry.isPath) continue;
    let holder: Raw = config as unknown as Raw;
    for (const segment of entry.path.slice(0, -1)) holder = holder[segment] as Raw;
    const name = entry.path[entry.path.length - 1];
    const value = holder[name];
    const resolved = (path: string) => (isAbsolute(path) ? path : resolve(options.baseDir, path));
    if (typeof value === 'string') holder[name] = resolved(value);
    else if (Array.isArray(value)) holder[name] = value.map((item) => (typeof item === 'string' ? resolved(item) : item));
  }
  return {
    ...config,
    public_baseurl: config.public_baseurl ?? `https://${config.server_name}/`,
  };
}

/** Parses YAML text into the configuration; throws {@link ConfigError}. */
export function parseConfig(text: string, options: ParseConfigOptions): HomeserverConfig {
  let document: unknown;
  try {
    document = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError([{ key: '(file)', message: `is not valid YAML: ${message}` }], options.source);
  }
  return validateConfig(document, options);
}

/** Reads and validates a configuration file; relative paths resolve against its folder. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): HomeserverConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
    throw new ConfigError([{ key: '(file)', message: `${absolute} ${reason}` }], absolute);
  }
  return parseConfig(text, { baseDir: dirname(absolute), env, source: absolute });
}
