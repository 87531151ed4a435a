/**
 * Shutting a room down (DELETE /_synapse/admin/v2/rooms/{roomId}): in the background, the room
 * is blocked when asked, every user of this server in it leaves (invites are rejected, knocks
 * withdrawn), its local aliases are deleted, it leaves the room directory and, with `purge`,
 * the read models forget it. Progress is kept in `admin.room_deletions` for the status
 * endpoints; the audit log gets one entry when the shutdown is asked for.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { CommandBus, QueryBus } from '@nestjs/cqrs';
import { GetRoomState, LeaveRoom, SetRoomBlocked, ShutDownRoom } from '@hs/room';
import { createSqlTag, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const sql = createSqlTag();

export type DeletionStatus = 'scheduled' | 'active' | 'purging' | 'complete' | 'failed';

export interface ShutdownResult {
  kicked_users: string[];
  failed_to_kick_users: string[];
  local_aliases: string[];
  new_room_id: string | null;
}

export interface RoomDeletion {
  deleteId: string;
  roomId: string;
  status: DeletionStatus;
  result: ShutdownResult;
  error: string | null;
}

const DeletionRow = z.object({
  delete_id: z.string(),
  room_id: z.string(),
  status: z.enum(['scheduled', 'active', 'purging', 'complete', 'failed']),
  result: z.string().transform((text) => JSON.parse(text) as ShutdownResult),
  error: z.string().nullable(),
});

function toDeletion(row: unknown): RoomDeletion {
  const parsed = DeletionRow.parse(row);
  return { deleteId: parsed.delete_id, roomId: parsed.room_id, status: parsed.status, result: parsed.result, error: parsed.error };
}

/** The local users' memberships given up when a room shuts down. */
const MEMBERSHIPS_TO_LEAVE = new Set(['join', 'invite', 'knock']);

export interface ShutdownRequest {
  roomId: string;
  requester: string;
  block: boolean;
  purge: boolean;
}

export interface RoomShutdownsDependencies {
  pool: CommonQueryMethods;
  serverName: string;
  clock: () => number;
}

export class RoomShutdowns {
  private readonly logger = new Logger('RoomShutdowns');
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: RoomShutdownsDependencies) {}

  /** Records the deletion and starts it; resolves with its id once recorded. */
  async start(
    buses: { commands: CommandBus; queries: QueryBus },
    request: ShutdownRequest,
  ): Promise<string> {
    const deleteId = randomUUID();
    const now = this.deps.clock();
    await this.deps.pool.query(sql.unsafe`
      INSERT INTO admin.room_deletions (delete_id, room_id, requester, status, block, purge, created_ts, updated_ts)
      VALUES (${deleteId}, ${request.roomId}, ${request.requester}, 'scheduled', ${request.block}, ${request.purge}, ${now}, ${now})`);
    const work = this.run(deleteId, buses, request).finally(() => this.running.delete(work));
    this.running.add(work);
    return deleteId;
  }

  private async run(
    deleteId: string,
    { commands, queries }: { commands: CommandBus; queries: QueryBus },
    request: ShutdownRequest,
  ): Promise<void> {
    const result: ShutdownResult = { kicked_users: [], failed_to_kick_users: [], local_aliases: [], new_room_id: null };
    try {
      await this.update(deleteId, 'active', result);
      if (request.block) await commands.execute(new SetRoomBlocked(request.requester, request.roomId, true));
      const state = await queries.execute(new GetRoomState(request.roomId));
      const suffix = `:${this.deps.serverName}`;
      const members = state
        .filter((event) => event.type === 'm.room.member' && typeof event.state_key === 'string' && event.state_key.endsWith(suffix))
        .map((event) => ({ userId: event.state_key as string, membership: String(event.content.membership) }));
      for (const member of members) {
        if (!MEMBERSHIPS_TO_LEAVE.has(member.membership)) continue;
        try {
          await commands.execute(new LeaveRoom(member.userId, request.roomId, 'This room has been shut down by a server administrator'));
          if (member.membership === 'join') result.kicked_users.push(member.userId);
        } catch (error) {
          result.failed_to_kick_users.push(member.userId);
          this.logger.warn(`could not remove ${member.userId} from ${request.roomId}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await this.update(deleteId, request.purge ? 'purging' : 'active', result);
      const { aliases } = await commands.execute(new ShutDownRoom(request.requester, request.roomId, request.purge));
      result.local_aliases = aliases;
      await this.update(deleteId, 'complete', result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(`shutting down ${request.roomId} failed: ${message}`);
      await this.update(deleteId, 'failed', result, message).catch(() => undefined);
    }
  }

  private async update(deleteId: string, status: DeletionStatus, result: ShutdownResult, error: string | null = null): Promise<void> {
    await this.deps.pool.query(sql.unsafe`
      UPDATE admin.room_deletions SET status = ${status}, result = ${JSON.stringify(result)}::jsonb, error = ${error}, updated_ts = ${this.deps.clock()}
       WHERE delete_id = ${deleteId}`);
  }

  async byId(deleteId: string): Promise<RoomDeletion | undefined> {
    const row = await this.deps.pool.maybeOne(sql.unsafe`
      SELECT delete_id, room_id, status, result::text AS result, error FROM admin.room_deletions WHERE delete_id = ${deleteId}`);
    return row ? toDeletion(row) : undefined;
  }

  async ofRoom(roomId: string): Promise<RoomDeletion[]> {
    const rows = await this.deps.pool.any(sql.unsafe`
      SELECT delete_id, room_id, status, result::text AS result, error FROM admin.room_deletions WHERE room_id = ${roomId} ORDER BY created_ts, delete_id`);
    return rows.map(toDeletion);
  }

  /** Waits for the shutdowns in progress (at application shutdown). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
