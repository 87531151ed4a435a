/**
 * Where the key ring keeps other servers' keys between restarts: the verify keys merged from
 * every checked response, and each server's longest-valid response for notary answers. The
 * PostgreSQL store (tables of migrations/keys) runs on PGlite and PostgreSQL alike; the
 * in-memory one serves unit tests.
 */
import { mergeVerifyKey, verifyKeyRecords, withOnlySignaturesOf, type ServerKeys, type VerifyKeyRecord } from '@hs/protocol';
import { createSqlTag, type DatabasePool } from 'slonik';
import { z } from 'zod';

/** A stored key response, as its server signed it. */
export interface StoredKeyResponse {
  json: Record<string, unknown>;
  validUntilTs: number;
  fetchedTs: number;
  fetchedFrom: string;
}

export interface KeyStore {
  /** Every verify key known for `serverName`. */
  keysOf(serverName: string): Promise<VerifyKeyRecord[]>;
  /**
   * Records a checked response received at `receivedAt` from `fetchedFrom` (the server or a
   * notary): merges its keys into what is known and returns the merged keys of the server.
   */
  save(keys: ServerKeys, receivedAt: number, fetchedFrom: string): Promise<VerifyKeyRecord[]>;
  /** The stored response of `serverName` that is valid the longest, or null. */
  responseOf(serverName: string): Promise<StoredKeyResponse | null>;
}

const sql = createSqlTag();

const int = z.union([z.number(), z.bigint(), z.string()]).transform((value) => Number(value));

const KeyRow = z.object({
  server_name: z.string(),
  key_id: z.string(),
  public_key: z.string(),
  valid_until_ts: int,
  expired_ts: int.nullable(),
});

const ResponseRow = z.object({ response_json: z.string(), valid_until_ts: int, fetched_ts: int, fetched_from: z.string() });

function recordOf(row: z.output<typeof KeyRow>): VerifyKeyRecord {
  return { serverName: row.server_name, keyId: row.key_id, key: row.public_key, validUntilTs: row.valid_until_ts, expiredTs: row.expired_ts };
}

function merged(known: readonly VerifyKeyRecord[], keys: ServerKeys, receivedAt: number): VerifyKeyRecord[] {
  const byId = new Map(known.map((record) => [record.keyId, record]));
  for (const incoming of verifyKeyRecords(keys, receivedAt)) byId.set(incoming.keyId, mergeVerifyKey(byId.get(incoming.keyId), incoming));
  return [...byId.values()];
}

export class PostgresKeyStore implements KeyStore {
  constructor(private readonly pool: DatabasePool) {}

  async keysOf(serverName: string): Promise<VerifyKeyRecord[]> {
    const rows = await this.pool.any(sql.type(KeyRow)`
      SELECT server_name, key_id, public_key, valid_until_ts::text AS valid_until_ts, expired_ts::text AS expired_ts
      FROM keys.verify_keys WHERE server_name = ${serverName}`);
    return rows.map((row) => recordOf(KeyRow.parse(row)));
  }

  async save(keys: ServerKeys, receivedAt: number, fetchedFrom: string): Promise<VerifyKeyRecord[]> {
    const json = JSON.stringify(withOnlySignaturesOf(keys.json, keys.serverName));
    return this.pool.transaction(async (tx) => {
      // Serializes concurrent saves for one server (a fetch in two processes at once).
      await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${`keys:${keys.serverName}`}))`);
      const rows = await tx.any(sql.type(KeyRow)`
        SELECT server_name, key_id, public_key, valid_until_ts::text AS valid_until_ts, expired_ts::text AS expired_ts
        FROM keys.verify_keys WHERE server_name = ${keys.serverName}`);
      const records = merged(rows.map((row) => recordOf(KeyRow.parse(row))), keys, receivedAt);
      for (const record of records) {
        await tx.query(sql.unsafe`
          INSERT INTO keys.verify_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts)
          VALUES (${record.serverName}, ${record.keyId}, ${record.key}, ${record.validUntilTs}, ${record.expiredTs}, ${receivedAt})
          ON CONFLICT (server_name, key_id) DO UPDATE SET
            public_key = EXCLUDED.public_key, valid_until_ts = EXCLUDED.valid_until_ts,
            expired_ts = EXCLUDED.expired_ts, fetched_ts = EXCLUDED.fetched_ts`);
      }
      await tx.query(sql.unsafe`
        INSERT INTO keys.server_key_responses (server_name, valid_until_ts, fetched_ts, fetched_from, response_json)
        VALUES (${keys.serverName}, ${keys.validUntilTs}, ${receivedAt}, ${fetchedFrom}, ${json})
        ON CONFLICT (server_name) DO UPDATE SET
          valid_until_ts = EXCLUDED.valid_until_ts, fetched_ts = EXCLUDED.fetched_ts,
          fetched_from = EXCLUDED.fetched_from, response_json = EXCLUDED.response_json
        WHERE EXCLUDED.valid_until_ts >= keys.server_key_responses.valid_until_ts`);
      return records;
    });
  }

  async responseOf(serverName: string): Promise<StoredKeyResponse | null> {
    const row = await this.pool.maybeOne(sql.type(ResponseRow)`
      SELECT response_json, valid_until_ts::text AS valid_until_ts, fetched_ts::text AS fetched_ts, fetched_from
      FROM keys.server_key_responses WHERE server_name = ${serverName}`);
    if (!row) return null;
    const parsed = ResponseRow.parse(row);
    return {
      json: JSON.parse(parsed.response_json) as Record<string, unknown>,
      validUntilTs: parsed.valid_until_ts,
      fetchedTs: parsed.fetched_ts,
      fetchedFrom: parsed.fetched_from,
    };
  }
}

/** The same behaviour in memory (unit tests). */
export class MemoryKeyStore implements KeyStore {
  private readonly keys = new Map<string, VerifyKeyRecord[]>();
  private readonly responses = new Map<string, StoredKeyResponse>();

  async keysOf(serverName: string): Promise<VerifyKeyRecord[]> {
    return [...(this.keys.get(serverName) ?? [])];
  }

  async save(keys: ServerKeys, receivedAt: number, fetchedFrom: string): Promise<VerifyKeyRecord[]> {
    const records = merged(this.keys.get(keys.serverName) ?? [], keys, receivedAt);
    this.keys.set(keys.serverName, records);
    const known = this.responses.get(keys.serverName);
    if (!known || keys.validUntilTs >= known.validUntilTs) {
      this.responses.set(keys.serverName, {
        json: withOnlySignaturesOf(keys.json, keys.serverName),
        validUntilTs: keys.validUntilTs,
        fetchedTs: receivedAt,
        fetchedFrom,
      });
    }
    return [...records];
  }

  async responseOf(serverName: string): Promise<StoredKeyResponse | null> {
    return this.responses.get(serverName) ?? null;
  }
}
