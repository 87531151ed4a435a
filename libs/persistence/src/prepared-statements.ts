/**
 * Named prepared statements for the homeserver's PostgreSQL connections.
 *
 * slonik sends every query as an unnamed statement, which PostgreSQL parses, analyses and
 * plans on every execution; for the homeserver's short, frequent statements that was more
 * than a third of the database's CPU. A statement text the process has run a few times is
 * sent with a name instead: each connection prepares it on first use and then only binds
 * and executes it, and PostgreSQL may keep a generic plan for it (`plan_cache_mode`, default
 * `auto`, chooses one only when it costs no more than planning each time).
 *
 * slonik's PostgreSQL driver offers no hook for this, so the `query` method of `pg.Client` is
 * wrapped once per process; only clients whose `application_name` was registered with
 * {@link prepareStatementsFor} (the pools {@link openDatabase} opens on PostgreSQL) are
 * affected. The embedded database never is: PGlite has a single session shared by every
 * connection of its socket, where one connection's prepared name would collide with
 * another's.
 *
 * Bounds: a text is counted among at most {@link MAX_COUNTED} recent texts (statements built
 * with lists of varying length rarely repeat and are never named), and at most
 * {@link MAX_PREPARED} texts are named per process, so a connection holds at most that many
 * prepared statements. When PostgreSQL refuses a prepared statement (its result type changed
 * under it, e.g. a projection's views were replaced by a rebuild, or it is gone), that one
 * execution fails as it would have, and the text gets a fresh name that every connection
 * prepares again.
 */
import { createHash } from 'node:crypto';
import { Client } from 'pg';

/** Executions of a text after which it is sent as a named statement. */
export const PREPARE_AFTER = 3;
/** Statement texts named at most (per process). */
export const MAX_PREPARED = 200;
/** Distinct unnamed texts counted at most; the counts start over beyond that. */
const MAX_COUNTED = 5_000;
/** Fresh names a text gets after refusals before it stays unnamed. */
const MAX_RENAMES = 3;

/** SQLSTATEs with which PostgreSQL refuses a prepared statement that must be prepared again. */
const REFUSED = new Set(['0A000', '26000']);

type QueryFunction = (this: Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

interface Named {
  name: string;
  renames: number;
}

const applicationNames = new Set<string>();
const counts = new Map<string, number>();
/** Named texts; `null` marks a text that stays unnamed. */
const named = new Map<string, Named | null>();
let installed = false;

/** Names statements on the PostgreSQL clients connecting with this `application_name`. */
export function prepareStatementsFor(applicationName: string): void {
  applicationNames.add(applicationName);
  install();
}

/** The statement name a text is sent with now (undefined: sent unnamed). */
export function preparedNameOf(text: string): string | undefined {
  return named.get(text)?.name;
}

function nameFor(text: string): Named | undefined {
  const known = named.get(text);
  if (known !== undefined) return known ?? undefined;
  if (named.size >= MAX_PREPARED) return undefined;
  const seen = (counts.get(text) ?? 0) + 1;
  if (seen < PREPARE_AFTER) {
    if (counts.size >= MAX_COUNTED) counts.clear();
    counts.set(text, seen);
    return undefined;
  }
  counts.delete(text);
  const entry = { name: `hs_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, renames: 0 };
  named.set(text, entry);
  return entry;
}

function refused(text: string, entry: Named): void {
  if (named.get(text) !== entry) return;
  if (entry.renames >= MAX_RENAMES) {
    named.set(text, null);
    return;
  }
  const renames = entry.renames + 1;
  named.set(text, { name: `${entry.name.slice(0, 27)}_${renames}`, renames });
}

function applicationNameOf(client: Client): string | undefined {
  return (client as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters?.application_name;
}

function install(): void {
  if (installed) return;
  installed = true;
  const prototype = Client.prototype as unknown as { query: QueryFunction };
  const original = prototype.query;
  prototype.query = function query(this: Client, config: unknown, values?: unknown, callback?: unknown): unknown {
    if (typeof config !== 'string' || !Array.isArray(values) || callback !== undefined) return original.call(this, config, values, callback);
    const appName = applicationNameOf(this);
    if (appName === undefined || !applicationNames.has(appName)) return original.call(this, config, values);
    const entry = nameFor(config);
    if (!entry) return original.call(this, config, values);
    const pending = original.call(this, { name: entry.name, text: config, values }) as Promise<unknown>;
    return pending.catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && REFUSED.has(code)) refused(config, entry);
      throw error;
    });
  };
}
