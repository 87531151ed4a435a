/** Queries of the media projection (view `proj_media.media`). */
import { sql, type CommonQueryMethods } from 'slonik';

export interface MediaRecord {
  serverName: string;
  mediaId: string;
  userId: string | null;
  createdTs: number | null;
  unusedExpiresAt: number | null;
  /** Null while a reserved media id has no content yet. */
  contentType: string | null;
  uploadName: string | null;
  size: number | null;
  sha256: string | null;
  uploadedTs: number | null;
  quarantinedBy: string | null;
  deleted: boolean;
}

interface MediaRow {
  server_name: string;
  media_id: string;
  user_id: string | null;
  created_ts: bigint | null;
  unused_expires_at: bigint | null;
  content_type: string | null;
  upload_name: string | null;
  size: bigint | null;
  sha256: string | null;
  uploaded_ts: bigint | null;
  quarantined_by: string | null;
  deleted: boolean;
}

const num = (value: bigint | null): number | null => (value === null ? null : Number(value));

function toRecord(row: MediaRow): MediaRecord {
  return {
    serverName: row.server_name,
    mediaId: row.media_id,
    userId: row.user_id,
    createdTs: num(row.created_ts),
    unusedExpiresAt: num(row.unused_expires_at),
    contentType: row.content_type,
    uploadName: row.upload_name,
    size: num(row.size),
    sha256: row.sha256,
    uploadedTs: num(row.uploaded_ts),
    quarantinedBy: row.quarantined_by,
    deleted: row.deleted,
  };
}

const COLUMNS = sql.fragment`server_name, media_id, user_id, created_ts, unused_expires_at, content_type, upload_name, size, sha256, uploaded_ts, quarantined_by, deleted`;

/** The metadata of one media item, or undefined when the read model knows nothing of it. */
export async function getMedia(conn: CommonQueryMethods, serverName: string, mediaId: string): Promise<MediaRecord | undefined> {
  const row = (await conn.maybeOne(sql.unsafe`SELECT ${COLUMNS} FROM proj_media.media WHERE server_name = ${serverName} AND media_id = ${mediaId}`)) as MediaRow | null;
  return row ? toRecord(row) : undefined;
}

/** A user's media items, newest first (the admin listing). */
export async function listUserMedia(conn: CommonQueryMethods, userId: string, limit: number, offset: number): Promise<MediaRecord[]> {
  const rows = (await conn.any(sql.unsafe`
    SELECT ${COLUMNS} FROM proj_media.media WHERE user_id = ${userId}
     ORDER BY created_ts DESC, media_id LIMIT ${limit} OFFSET ${offset}`)) as unknown as MediaRow[];
  return rows.map(toRecord);
}

/** How many media ids the user reserved that are neither uploaded nor expired at `now`. */
export async function countPendingCreates(conn: CommonQueryMethods, userId: string, now: number): Promise<number> {
  const count = await conn.oneFirst(sql.unsafe`
    SELECT count(*) FROM proj_media.media
     WHERE user_id = ${userId} AND sha256 IS NULL AND NOT deleted AND unused_expires_at > ${now}`);
  return Number(count);
}

/** Whether any media item that is neither deleted nor quarantined still refers to the content. */
export async function contentInUse(conn: CommonQueryMethods, sha256: string): Promise<boolean> {
  return (await conn.oneFirst(sql.unsafe`
    SELECT EXISTS (SELECT 1 FROM proj_media.media WHERE sha256 = ${sha256} AND NOT deleted)`)) as boolean;
}
