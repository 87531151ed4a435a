/**
 * Account data (account-data.yaml), global and per room, and room tags (tags.yaml), which
 * are stored as the room account data `m.tag`. Each change takes the next position of the
 * `account_data` stream, handed out under a row lock so positions become visible in commit
 * order: a reader that saw position N has seen every change up to N.
 */
import { Observable, Subject } from 'rxjs';
import { z } from 'zod';
import { CommonQueryMethods, DatabasePool, int, isStorableText, jsonText, sql } from './db';
import { AccountsError } from './errors';
import { isJsonValue, JsonValue } from './profile-rules';

export type JsonObject = { [key: string]: JsonValue };

export interface AccountDataEvent {
  type: string;
  content: JsonObject;
}

/** What changed after a position: the latest content of every entry changed since. */
export interface AccountDataDelta {
  global: AccountDataEvent[];
  rooms: Record<string, AccountDataEvent[]>;
  /** The stream position the answer is complete up to (pass it as `since` next time). */
  position: number;
}

export interface AccountDataChange {
  userId: string;
  /** null for global account data. */
  roomId: string | null;
  type: string;
  position: number;
}

/** The content of `m.tag` room account data. */
export interface TagsContent {
  tags: Record<string, JsonObject & { order?: number }>;
}

/** Global account data types that only the server writes (clients get 405 M_BAD_JSON). */
export const SERVER_CONTROLLED_GLOBAL_TYPES: ReadonlySet<string> = new Set(['m.push_rules']);
/** Room account data types that only the server writes. */
export const SERVER_CONTROLLED_ROOM_TYPES: ReadonlySet<string> = new Set(['m.fully_read']);

const MAX_TYPE_BYTES = 255;
const MAX_TAG_BYTES = 255;
/** Largest content of one account data entry, in bytes of JSON. */
export const MAX_ACCOUNT_DATA_BYTES = 64 * 1024;

const GLOBAL_ROOM = '';

const EntryRow = z.object({ room_id: z.string(), type: z.string(), content: jsonText });
const ContentRow = z.object({ content: jsonText });

function assertType(type: unknown): asserts type is string {
  if (!isStorableText(type) || type.length === 0 || Buffer.byteLength(type, 'utf8') > MAX_TYPE_BYTES) {
    throw new AccountsError('M_INVALID_PARAM', 'Invalid account data type');
  }
}

/** A room id: `!` sigil, at most 255 bytes (v12 room ids have no server part, so no colon is required). */
export function assertRoomId(roomId: unknown): asserts roomId is string {
  if (!isStorableText(roomId) || !roomId.startsWith('!') || roomId.length < 2 || Buffer.byteLength(roomId, 'utf8') > 255) {
    throw new AccountsError('M_INVALID_PARAM', 'Invalid room ID');
  }
}

function assertContent(content: unknown): asserts content is JsonObject {
  if (content === null || typeof content !== 'object' || Array.isArray(content) || !isJsonValue(content)) {
    throw new AccountsError('M_BAD_JSON', 'Content must be a JSON object');
  }
  if (Buffer.byteLength(JSON.stringify(content), 'utf8') > MAX_ACCOUNT_DATA_BYTES) {
    throw new AccountsError('M_TOO_LARGE', 'Account data content is too large');
  }
}

export class AccountDataService {
  private readonly changesSubject = new Subject<AccountDataChange>();
  /** Every committed change, for the sync notifier. */
  readonly changes: Observable<AccountDataChange> = this.changesSubject.asObservable();

  constructor(private readonly pool: DatabasePool) {}

  /** PUT /user/{userId}/account_data/{type}. Server-controlled types get 405 M_BAD_JSON. */
  async setGlobalAccountData(userId: string, type: string, content: unknown): Promise<number> {
    assertType(type);
    if (SERVER_CONTROLLED_GLOBAL_TYPES.has(type)) {
      throw new AccountsError('M_BAD_JSON', `Cannot set ${type} through this API.`, { httpStatus: 405 });
    }
    return this.put(userId, null, type, content);
  }

  /** PUT /user/{userId}/rooms/{roomId}/account_data/{type}. Server-controlled types get 405 M_BAD_JSON. */
  async setRoomAccountData(userId: string, roomId: string, type: string, content: unknown): Promise<number> {
    assertRoomId(roomId);
    assertType(type);
    if (SERVER_CONTROLLED_ROOM_TYPES.has(type)) {
      throw new AccountsError('M_BAD_JSON', `Cannot set ${type} through this API.`, { httpStatus: 405 });
    }
    return this.put(userId, roomId, type, content);
  }

  /**
   * Writes account data on the server's behalf (read markers' `m.fully_read`, push rules'
   * `m.push_rules`): no restriction on the type. Returns the stream position of the change.
   */
  async putAccountDataAsServer(userId: string, roomId: string | null, type: string, content: unknown): Promise<number> {
    if (roomId !== null) assertRoomId(roomId);
    assertType(type);
    return this.put(userId, roomId, type, content);
  }

  /** GET /user/{userId}/account_data/{type}. Throws M_NOT_FOUND when not set. */
  async getGlobalAccountData(userId: string, type: string): Promise<JsonObject> {
    assertType(type);
    const content = await this.read(this.pool, userId, GLOBAL_ROOM, type);
    if (!content) throw new AccountsError('M_NOT_FOUND', 'Account data not found');
    return content;
  }

  /** GET /user/{userId}/rooms/{roomId}/account_data/{type}. Throws M_NOT_FOUND when not set. */
  async getRoomAccountData(userId: string, roomId: string, type: string): Promise<JsonObject> {
    assertRoomId(roomId);
    assertType(type);
    const content = await this.read(this.pool, userId, roomId, type);
    if (!content) throw new AccountsError('M_NOT_FOUND', 'Account data not found');
    return content;
  }

  /** The latest position of the account data stream. */
  async currentPosition(): Promise<number> {
    const value = await this.pool.oneFirst(sql.type(z.object({ position: int }))`
      SELECT position::text AS position FROM accounts.stream_positions WHERE stream = 'account_data'`);
    return int.parse(value);
  }

  /**
   * Account data of `userId` changed after position `since` (0 for everything), with the
   * position the answer is complete up to.
   */
  async accountDataSince(userId: string, since: number): Promise<AccountDataDelta> {
    if (!Number.isSafeInteger(since) || since < 0) throw new AccountsError('M_INVALID_PARAM', 'Invalid stream position');
    if (!isStorableText(userId)) throw new AccountsError('M_INVALID_PARAM', 'Invalid user ID');
    return this.pool.transaction(async (tx) => {
      // Read the position first: every change up to it has committed (positions are handed
      // out under a row lock held until commit), so rows above it are simply left for later.
      const position = int.parse(await tx.oneFirst(sql.type(z.object({ position: int }))`
        SELECT position::text AS position FROM accounts.stream_positions WHERE stream = 'account_data'`));
      const rows = await tx.any(sql.type(EntryRow)`
        SELECT room_id, type, content::text AS content FROM accounts.account_data
        WHERE user_id = ${userId} AND stream_id > ${since} AND stream_id <= ${position}
        ORDER BY stream_id`);
      const delta: AccountDataDelta = { global: [], rooms: {}, position: Math.max(position, since) };
      for (const row of rows) {
        const entry = EntryRow.parse(row);
        const event: AccountDataEvent = { type: entry.type, content: entry.content as JsonObject };
        if (entry.room_id === GLOBAL_ROOM) delta.global.push(event);
        else (delta.rooms[entry.room_id] ??= []).push(event);
      }
      return delta;
    });
  }

  /** GET /user/{userId}/rooms/{roomId}/tags. */
  async getTags(userId: string, roomId: string): Promise<TagsContent> {
    assertRoomId(roomId);
    const content = await this.read(this.pool, userId, roomId, 'm.tag');
    return { tags: tagsOf(content) };
  }

  /** PUT /user/{userId}/rooms/{roomId}/tags/{tag}: `order`, when given, is a number in [0, 1]. */
  async setTag(userId: string, roomId: string, tag: string, body: unknown): Promise<number> {
    assertRoomId(roomId);
    if (!isStorableText(tag) || tag.length === 0 || Buffer.byteLength(tag, 'utf8') > MAX_TAG_BYTES) {
      throw new AccountsError('M_INVALID_PARAM', 'Invalid tag name');
    }
    assertContent(body);
    const order = body.order;
    if (order !== undefined && (typeof order !== 'number' || !(order >= 0 && order <= 1))) {
      throw new AccountsError('M_INVALID_PARAM', 'order must be a number between 0 and 1');
    }
    return written(await this.update(userId, roomId, 'm.tag', (content) => ({ tags: { ...tagsOf(content), [tag]: body } })));
  }

  /** DELETE /user/{userId}/rooms/{roomId}/tags/{tag}; removing a tag that is not set succeeds. */
  async deleteTag(userId: string, roomId: string, tag: string): Promise<number | null> {
    assertRoomId(roomId);
    if (!isStorableText(tag)) throw new AccountsError('M_INVALID_PARAM', 'Invalid tag name');
    return this.update(userId, roomId, 'm.tag', (content) => {
      const tags = tagsOf(content);
      if (!(tag in tags)) return null;
      delete tags[tag];
      return { tags };
    });
  }

  /**
   * After a room upgrade, the user's own data about the old room follows it to the replacement
   * room: every `m.direct` entry that lists the old room gets the new one too, and the old
   * room's tags are copied (a tag already set on the new room keeps its content).
   */
  async copyToReplacementRoom(userId: string, oldRoomId: string, newRoomId: string): Promise<void> {
    assertRoomId(oldRoomId);
    assertRoomId(newRoomId);
    await this.update(userId, null, 'm.direct', (content) => withReplacementRoom(content, oldRoomId, newRoomId));
    const oldTags = tagsOf(await this.read(this.pool, userId, oldRoomId, 'm.tag'));
    if (Object.keys(oldTags).length === 0) return;
    await this.update(userId, newRoomId, 'm.tag', (content) => {
      const tags = tagsOf(content);
      const missing = Object.keys(oldTags).filter((tag) => !(tag in tags));
      return missing.length === 0 ? null : { tags: { ...oldTags, ...tags } };
    });
  }

  private async put(userId: string, roomId: string | null, type: string, content: unknown): Promise<number> {
    assertContent(content);
    return written(await this.update(userId, roomId, type, () => content));
  }

  /**
   * Read-modify-write of one entry under the stream lock; `change` returns the new content
   * or null for "no change". Returns the new position, or null when nothing changed.
   */
  private async update(
    userId: string,
    roomId: string | null,
    type: string,
    change: (current: JsonObject | null) => JsonObject | null,
  ): Promise<number | null> {
    const room = roomId ?? GLOBAL_ROOM;
    if (!isStorableText(userId)) throw new AccountsError('M_INVALID_PARAM', 'Invalid user ID');
    const position = await this.pool.transaction(async (tx) => {
      // Taking the stream row lock first serialises writers, so the read below is current.
      await tx.query(sql.unsafe`SELECT position FROM accounts.stream_positions WHERE stream = 'account_data' FOR UPDATE`);
      const content = change(await this.read(tx, userId, room, type));
      if (content === null) return null;
      const next = int.parse(await tx.oneFirst(sql.type(z.object({ position: int }))`
        UPDATE accounts.stream_positions SET position = position + 1
        WHERE stream = 'account_data' RETURNING position::text AS position`));
      assertContent(content);
      await tx.query(sql.unsafe`
        INSERT INTO accounts.account_data (user_id, room_id, type, content, stream_id)
        VALUES (${userId}, ${room}, ${type}, ${sql.jsonb(content)}, ${next})
        ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id`);
      return next;
    });
    if (position !== null) this.changesSubject.next({ userId, roomId, type, position });
    return position;
  }

  private async read(db: CommonQueryMethods, userId: string, roomId: string, type: string): Promise<JsonObject | null> {
    if (!isStorableText(userId)) return null;
    const row = await db.maybeOne(sql.type(ContentRow)`
      SELECT content::text AS content FROM accounts.account_data
      WHERE user_id = ${userId} AND room_id = ${roomId} AND type = ${type}`);
    return row ? (ContentRow.parse(row).content as JsonObject) : null;
  }

  close(): void {
    this.changesSubject.complete();
  }
}

/** The position of a write whose change function always returns content. */
function written(position: number | null): number {
  if (position === null) throw new Error('account data write produced no position');
  return position;
}

/** `m.direct` content with `newRoomId` added to every entry listing `oldRoomId`; null when nothing changes. */
function withReplacementRoom(content: JsonObject | null, oldRoomId: string, newRoomId: string): JsonObject | null {
  if (content === null) return null;
  let changed = false;
  const next: JsonObject = { ...content };
  for (const [user, rooms] of Object.entries(content)) {
    if (Array.isArray(rooms) && rooms.includes(oldRoomId) && !rooms.includes(newRoomId)) {
      next[user] = [...rooms, newRoomId];
      changed = true;
    }
  }
  return changed ? next : null;
}

function tagsOf(content: JsonObject | null): TagsContent['tags'] {
  const tags = content?.tags;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) return {};
  const result: TagsContent['tags'] = {};
  for (const [name, value] of Object.entries(tags)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) result[name] = value;
  }
  return result;
}
