import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Database } from './database';
import { defaultMigrationsDir } from './repo-root';

export interface MigrateOptions {
  /** Folder holding `<owner>/NNNN_name.sql` files; default `<repo>/migrations`. */
  dir?: string;
  log?: (msg: string) => void;
}

/** An applied migration file was changed afterwards; migrations are forward-only. */
export class MigrationChecksumError extends Error {
  constructor(
    readonly migration: string,
    readonly appliedChecksum: string,
    readonly fileChecksum: string,
  ) {
    super(
      `migration ${migration} was changed after it was applied (applied sha256 ${appliedChecksum}, ` +
        `file sha256 ${fileChecksum}); add a new migration instead of editing an applied one`,
    );
    this.name = 'MigrationChecksumError';
  }
}

/** A file in the migrations folder does not follow the `NNNN_name.sql` naming. */
export class MigrationNameError extends Error {
  constructor(readonly file: string) {
    super(`migration file ${file} must be named NNNN_name.sql (four digits, underscore, name)`);
    this.name = 'MigrationNameError';
  }
}

/** A migration file failed to apply; nothing of the run was kept. */
export class MigrationFailedError extends Error {
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`migration ${migration} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MigrationFailedError';
  }
}

export interface MigrationFile {
  /** `<owner>/NNNN_name.sql`, the key the file is recorded under. */
  id: string;
  owner: string;
  path: string;
  sql: string;
  checksum: string;
}

const FILE_PATTERN = /^(\d{4})_[A-Za-z0-9_-]+\.sql$/;
/** Key of the advisory lock taken while migrating ("hs.migrate"). */
const MIGRATION_LOCK_KEY = 0x68732e6d;

/**
 * The migration files in `dir`, ordered: owner folders alphabetically, and within an owner
 * by their number. Owners keep their tables in their own schemas, so the order between
 * owners does not matter; the order within one owner does.
 */
export function listMigrations(dir: string): MigrationFile[] {
  if (!existsSync(dir)) return [];
  const files: MigrationFile[] = [];
  const owners = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort();
  for (const owner of owners) {
    const names = readdirSync(join(dir, owner))
      .filter((name) => name.endsWith('.sql'))
      .sort();
    const seen = new Set<string>();
    for (const name of names) {
      const match = FILE_PATTERN.exec(name);
      if (!match) throw new MigrationNameError(`${owner}/${name}`);
      if (seen.has(match[1])) throw new MigrationNameError(`${owner}/${name} (number ${match[1]} used twice)`);
      seen.add(match[1]);
      const path = join(dir, owner, name);
      const text = readFileSync(path, 'utf8');
      files.push({
        id: `${owner}/${name}`,
        owner,
        path,
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      });
    }
  }
  return files;
}

/**
 * Applies the pending forward-only migrations in one transaction, holding an advisory lock
 * so that two processes starting at once apply each file once. Every applied file is
 * recorded with its sha256; a recorded file whose content changed stops the run with
 * `MigrationChecksumError` before anything is applied. Runs on its own connection because
 * a migration file holds several statements.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const dir = options.dir ?? defaultMigrationsDir();
  const log = options.log ?? (() => undefined);
  const files = listMigrations(dir);
  const client = new Client({ connectionString: db.connectionUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query(`
        CREATE TABLE IF NOT EXISTS public.schema_migrations (
          id text PRIMARY KEY,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const rows = await client.query<{ id: string; checksum: string }>('SELECT id, checksum FROM public.schema_migrations');
      const applied = new Map(rows.rows.map((row) => [row.id, row.checksum]));
      for (const file of files) {
        const recorded = applied.get(file.id);
        if (recorded !== undefined && recorded !== file.checksum) {
          throw new MigrationChecksumError(file.id, recorded, file.checksum);
        }
      }
      const done: string[] = [];
      for (const file of files) {
        if (applied.has(file.id)) continue;
        log(`applying migration ${file.id}`);
        try {
          await client.query(file.sql);
        } catch (error) {
          throw new MigrationFailedError(file.id, error);
        }
        await client.query('INSERT INTO public.schema_migrations (id, checksum) VALUES ($1, $2)', [file.id, file.checksum]);
        done.push(file.id);
      }
      await client.query('COMMIT');
      log(done.length === 0 ? 'migrations: nothing to apply' : `migrations: applied ${done.length}`);
      return { applied: done };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.end();
  }
}
