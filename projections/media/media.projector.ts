/**
 * The media metadata read model: one row per media item (local or cached remote) from the
 * media facts of its stream: who reserved or uploaded it and when, its content type, file
 * name, size and content hash, and whether it is quarantined or deleted. Rebuildable from the
 * store like every projection.
 */
import { sql, type DatabaseTransactionConnection, type FragmentSqlToken, type IdentifierSqlToken } from 'slonik';
import {
  MEDIA_CREATED,
  MEDIA_DELETED,
  MEDIA_EVENT_TYPES,
  MEDIA_QUARANTINED,
  MEDIA_UPLOADED,
  type MediaCreated,
  type MediaDeleted,
  type MediaQuarantined,
  type MediaUploaded,
} from '@hs/contracts';
import { searchPathTable, type BatchStatement, type GenerationTable, type Projector, type RecordedEvent } from '@hs/eventstore';

export const MEDIA_PROJECTION = 'media';

/** One media item as the batch leaves it (merged over the batch's facts of that item). */
interface ItemChange {
  server_name: string;
  media_id: string;
  user_id: string | null;
  created_ts: number | null;
  unused_expires_at: number | null;
  content_type: string | null;
  upload_name: string | null;
  size: number | null;
  sha256: string | null;
  uploaded_ts: number | null;
  quarantined_by: string | null;
  deleted: boolean;
  position: bigint;
}

const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function itemOf(data: unknown): { server_name: string; media_id: string } | undefined {
  const d = data as { v?: unknown; server_name?: unknown; media_id?: unknown } | null;
  if (!d || d.v !== 1 || !isString(d.server_name) || !isString(d.media_id)) return undefined;
  return { server_name: d.server_name, media_id: d.media_id };
}

/** Folds the batch's well-formed media facts into one change per item, in store order. */
export function mediaChanges(batch: readonly RecordedEvent[]): ItemChange[] {
  const changes = new Map<string, ItemChange>();
  for (const record of batch) {
    const item = itemOf(record.data);
    if (!item) continue;
    const key = `${item.server_name}/${item.media_id}`;
    const change: ItemChange = changes.get(key) ?? {
      ...item,
      user_id: null,
      created_ts: null,
      unused_expires_at: null,
      content_type: null,
      upload_name: null,
      size: null,
      sha256: null,
      uploaded_ts: null,
      quarantined_by: null,
      deleted: false,
      position: record.position,
    };
    const data = record.data as Record<string, unknown>;
    switch (record.type) {
      case MEDIA_CREATED: {
        const d = data as unknown as MediaCreated;
        if (!isString(d.user_id) || !isCount(d.ts) || !isCount(d.unused_expires_at)) continue;
        Object.assign(change, { user_id: d.user_id, created_ts: d.ts, unused_expires_at: d.unused_expires_at });
        break;
      }
      case MEDIA_UPLOADED: {
        const d = data as unknown as MediaUploaded;
        if (!isString(d.content_type) || !isCount(d.size) || !isString(d.sha256) || !isCount(d.ts)) continue;
        if (d.user_id !== undefined && !isString(d.user_id)) continue;
        Object.assign(change, {
          user_id: d.user_id ?? change.user_id,
          content_type: d.content_type,
          upload_name: typeof d.upload_name === 'string' ? d.upload_name : null,
          size: d.size,
          sha256: d.sha256,
          uploaded_ts: d.ts,
          created_ts: change.created_ts ?? d.ts,
        });
        break;
      }
      case MEDIA_QUARANTINED: {
        const d = data as unknown as MediaQuarantined;
        if (!isString(d.by)) continue;
        change.quarantined_by = d.by;
        break;
      }
      case MEDIA_DELETED: {
        const d = data as unknown as MediaDeleted;
        if (!isString(d.by)) continue;
        change.deleted = true;
        break;
      }
      default:
        continue;
    }
    change.position = record.position;
    changes.set(key, change);
  }
  return [...changes.values()];
}

export class MediaProjector implements Projector {
  readonly name = MEDIA_PROJECTION;
  readonly version = 1;
  readonly eventTypes = MEDIA_EVENT_TYPES;
  readonly tables = ['media'] as const;

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`
      CREATE TABLE media (
        server_name text NOT NULL,
        media_id text NOT NULL,
        user_id text,
        created_ts bigint,
        unused_expires_at bigint,
        content_type text,
        upload_name text,
        size bigint,
        sha256 text,
        uploaded_ts bigint,
        quarantined_by text,
        deleted boolean NOT NULL DEFAULT false,
        position bigint NOT NULL,
        PRIMARY KEY (server_name, media_id)
      )`);
    await tx.query(sql.unsafe`CREATE INDEX media_by_user ON media (user_id, created_ts) WHERE user_id IS NOT NULL`);
    await tx.query(sql.unsafe`CREATE INDEX media_by_sha256 ON media (sha256) WHERE sha256 IS NOT NULL`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const write = mediaWrite(batch, searchPathTable('media'));
    if (write) await tx.query(sql.unsafe`${write}`);
  }

  /** Every batch is one statement, the same as `handle`. */
  statement(batch: RecordedEvent[], table: GenerationTable): BatchStatement {
    const write = mediaWrite(batch, table('media'));
    return { writes: write ? [write] : [] };
  }
}

/** The batch's changes as one upsert; a column the batch did not set keeps its stored value. */
function mediaWrite(batch: RecordedEvent[], media: IdentifierSqlToken): FragmentSqlToken | undefined {
  const rows = mediaChanges(batch);
  if (rows.length === 0) return undefined;
  const col = <K extends keyof ItemChange>(key: K) => rows.map((row) => row[key]);
  return sql.fragment`
    INSERT INTO ${media} (server_name, media_id, user_id, created_ts, unused_expires_at, content_type, upload_name, size, sha256, uploaded_ts, quarantined_by, deleted, position)
    SELECT * FROM unnest(${sql.array(col('server_name'), 'text')}, ${sql.array(col('media_id'), 'text')}, ${sql.array(col('user_id'), 'text')},
                         ${sql.array(col('created_ts'), 'int8')}, ${sql.array(col('unused_expires_at'), 'int8')}, ${sql.array(col('content_type'), 'text')},
                         ${sql.array(col('upload_name'), 'text')}, ${sql.array(col('size'), 'int8')}, ${sql.array(col('sha256'), 'text')},
                         ${sql.array(col('uploaded_ts'), 'int8')}, ${sql.array(col('quarantined_by'), 'text')}, ${sql.array(col('deleted'), 'bool')},
                         ${sql.array(col('position'), 'int8')})
    ON CONFLICT (server_name, media_id) DO UPDATE SET
      user_id = COALESCE(EXCLUDED.user_id, ${media}.user_id),
      created_ts = COALESCE(${media}.created_ts, EXCLUDED.created_ts),
      unused_expires_at = COALESCE(EXCLUDED.unused_expires_at, ${media}.unused_expires_at),
      content_type = COALESCE(EXCLUDED.content_type, ${media}.content_type),
      upload_name = CASE WHEN EXCLUDED.sha256 IS NOT NULL THEN EXCLUDED.upload_name ELSE ${media}.upload_name END,
      size = COALESCE(EXCLUDED.size, ${media}.size),
      sha256 = COALESCE(EXCLUDED.sha256, ${media}.sha256),
      uploaded_ts = COALESCE(EXCLUDED.uploaded_ts, ${media}.uploaded_ts),
      quarantined_by = COALESCE(EXCLUDED.quarantined_by, ${media}.quarantined_by),
      deleted = ${media}.deleted OR EXCLUDED.deleted,
      position = EXCLUDED.position`;
}
