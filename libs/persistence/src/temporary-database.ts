import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TemporaryDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  /** Drops the database (closing any connection left open to it). */
  drop(): Promise<void>;
}

/**
 * Creates an empty PostgreSQL database next to the one `baseUrl` points at (the role needs
 * CREATEDB). Test suites use it so that runs sharing one server never see each other's rows.
 */
export async function createTemporaryDatabase(baseUrl: string, prefix = 'hs_tmp', options: { cCollation?: boolean } = {}): Promise<TemporaryDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`invalid database name prefix ${prefix}`);
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    // The C collation (from template0) is what Synapse requires of its database (bench/compare).
    await admin.query(options.cCollation ? `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'` : `CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
