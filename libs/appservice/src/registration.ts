/**
 * Application service registration files (application service API, "Registration"): one YAML
 * file per application service, listed in the homeserver configuration
 * (`app_service_config_files`). Every file is checked at start-up; a problem stops the server
 * with the file, the key and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { isHttpUrl } from '@hs/config';
import YAML from 'yaml';
import { z } from 'zod';

/** One problem with one registration file: the key is `<file>: <dotted key>`. */
export interface RegistrationIssue {
  key: string;
  message: string;
}

/** The registration files cannot be used. */
export class RegistrationError extends Error {
  constructor(readonly issues: readonly RegistrationIssue[]) {
    super(`Invalid application service registration:\n${issues.map((issue) => `  - ${issue.key}: ${issue.message}`).join('\n')}`);
    this.name = 'RegistrationError';
  }
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

const token = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const namespace = z
  .object({
    exclusive: z.boolean({ required_error: 'is required', invalid_type_error: 'must be a boolean (true or false)' }),
    regex: z.string({ required_error: 'is required' }).min(1, 'must not be empty').refine(compiles, 'must be a valid regular expression'),
  })
  .passthrough();

/** The registration format of the spec (unknown keys are allowed and ignored, as bridges add their own). */
const registrationSchema = z
  .object({
    id: z.string({ required_error: 'is required' }).min(1, 'must not be empty').max(255, 'must be at most 255 characters').regex(/^[A-Za-z0-9._~-]+$/, 'must be made of letters, digits and . _ ~ -'),
    url: z.string({ required_error: 'is required (null for an application service that receives nothing)' }).refine(isHttpUrl, 'must be an http:// or https:// URL without query or fragment').nullable(),
    as_token: token,
    hs_token: token,
    sender_localpart: z.string({ required_error: 'is required' }).min(1, 'must not be empty').regex(/^[a-z0-9._=/+-]+$/, 'must be a user id localpart: a-z, 0-9 and . _ = - / +'),
    namespaces: z
      .object({
        users: z.array(namespace).default([]),
        aliases: z.array(namespace).default([]),
        rooms: z.array(namespace).default([]),
      })
      .passthrough()
      .default({}),
    rate_limited: z.boolean().default(true),
    protocols: z.array(z.string().min(1, 'must not be empty')).default([]),
    receive_ephemeral: z.boolean().optional(),
    'de.sorunome.msc2409.push_ephemeral': z.boolean().optional(),
  })
  .passthrough();

/** A namespace of one kind: which ids it holds and whether the service claims them alone. */
export interface Namespace {
  exclusive: boolean;
  /** The regular expression, matched from the start of the id (as bridges write them). */
  regex: RegExp;
  source: string;
}

/** A registration file as the homeserver uses it. */
export interface AppServiceRegistration {
  id: string;
  /** Where transactions and queries go; null: the service receives nothing. */
  url: string | null;
  asToken: string;
  hsToken: string;
  senderLocalpart: string;
  namespaces: { users: Namespace[]; aliases: Namespace[]; rooms: Namespace[] };
  rateLimited: boolean;
  protocols: string[];
  /** The service asked for ephemeral events (typing, receipts, presence) in its transactions. */
  receiveEphemeral: boolean;
  /** The file it came from (for messages). */
  file: string;
}

function compile(entries: Array<{ exclusive: boolean; regex: string }>): Namespace[] {
  return entries.map((entry) => ({ exclusive: entry.exclusive, regex: new RegExp(`^(?:${entry.regex})`, 'u'), source: entry.regex }));
}

/** Validates the parsed YAML of one registration file; issues are pushed to `issues`. */
export function parseRegistration(document: unknown, file: string, issues: RegistrationIssue[]): AppServiceRegistration | undefined {
  const result = registrationSchema.safeParse(document);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join('.') || '(file)';
      const message = issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined' ? 'is required' : issue.message;
      issues.push({ key: `${file}: ${key}`, message });
    }
    return undefined;
  }
  const data = result.data;
  if (data.as_token === data.hs_token) {
    issues.push({ key: `${file}: hs_token`, message: 'must differ from as_token' });
    return undefined;
  }
  return {
    id: data.id,
    url: data.url === null ? null : data.url.replace(/\/+$/, ''),
    asToken: data.as_token,
    hsToken: data.hs_token,
    senderLocalpart: data.sender_localpart,
    namespaces: { users: compile(data.namespaces.users), aliases: compile(data.namespaces.aliases), rooms: compile(data.namespaces.rooms) },
    rateLimited: data.rate_limited,
    protocols: data.protocols,
    receiveEphemeral: data.receive_ephemeral ?? data['de.sorunome.msc2409.push_ephemeral'] ?? false,
    file,
  };
}

/**
 * Reads and checks every registration file; throws {@link RegistrationError} listing every
 * problem (unreadable files, bad keys, ids, tokens or sender users used twice).
 */
export function loadRegistrations(files: readonly string[]): AppServiceRegistration[] {
  const issues: RegistrationIssue[] = [];
  const registrations: AppServiceRegistration[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
      issues.push({ key: file, message: reason });
      continue;
    }
    let document: unknown;
    try {
      document = YAML.parse(text, { uniqueKeys: true });
    } catch (error) {
      issues.push({ key: file, message: `is not valid YAML: ${(error as Error).message.split('\n')[0]}` });
      continue;
    }
    const registration = parseRegistration(document, file, issues);
    if (registration) registrations.push(registration);
  }
  const seen = { id: new Map<string, string>(), token: new Map<string, string>(), sender: new Map<string, string>() };
  for (const registration of registrations) {
    const checks: Array<[keyof typeof seen, string, string]> = [
      ['id', registration.id, 'id'],
      ['token', registration.asToken, 'as_token'],
      ['token', registration.hsToken, 'hs_token'],
      ['sender', registration.senderLocalpart, 'sender_localpart'],
    ];
    for (const [kind, value, key] of checks) {
      const other = seen[kind].get(value);
      if (other !== undefined) issues.push({ key: `${registration.file}: ${key}`, message: `is also used by ${other}` });
      else seen[kind].set(value, registration.file);
    }
  }
  if (issues.length > 0) throw new RegistrationError(issues);
  return registrations;
}
