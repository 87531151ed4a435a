/**
 * Ephemeral room data (client-server API, "Typing Notifications", "Receipts", "Fully read
 * markers"): typing, receipts and read markers. Starting to type, a receipt and a read marker
 * are activity: the user's presence becomes online.
 */
import { AccountDataService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { isValidEventId } from '@hs/protocol';
import { GetEvent, IsJoined, RecordReceipt, type StoredEvent } from '@hs/room';
import { PresenceStore, TypingStore } from '@hs/sync';
import { Body, Controller, HttpCode, Param, Post, Put } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, eventIdParam, parseBody, roomIdParam, userIdParam } from '../rooms/params';

const typingBody = z.object({ typing: z.boolean(), timeout: z.number().int().nonnegative().optional() });
const receiptBody = z.object({ thread_id: z.string().optional() });
const readMarkersBody = z.object({
  'm.fully_read': z.string().optional(),
  'm.read': z.string().optional(),
  'm.read.private': z.string().optional(),
});

const RECEIPT_TYPES = new Set(['m.read', 'm.read.private', 'm.fully_read']);

/** Relations followed from an event towards its thread (the spec recommends at most 3 hops). */
const MAX_THREAD_HOPS = 3;

/** The `m.relates_to` of an event's content: its relation type and parent event id, if any. */
function relationOf(content: Record<string, unknown>): { relType: unknown; eventId: string } | undefined {
  const relation = content['m.relates_to'];
  if (typeof relation !== 'object' || relation === null || Array.isArray(relation)) return undefined;
  const { rel_type: relType, event_id: eventId } = relation as Record<string, unknown>;
  return typeof eventId === 'string' ? { relType, eventId } : undefined;
}

@Controller()
@RequireAuth()
export class EphemeralController {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
    private readonly typing: TypingStore,
    private readonly accountData: AccountDataService,
    private readonly presence: PresenceStore,
  ) {}

  private async requireJoined(roomId: string, userId: string): Promise<void> {
    if (!(await answering(() => this.queryBus.execute(new IsJoined(roomId, userId))))) throw MatrixError.forbidden('You are not joined to this room');
  }

  /**
   * The event a fully read marker is placed at must be an event of the room (spec: "The event
   * MUST belong to the room"); an unknown event, one of another room or a rejected one is
   * 404 M_NOT_FOUND, as for receipts.
   */
  private async requireRoomEvent(roomId: string, eventId: string): Promise<void> {
    const stored: StoredEvent = await answering(() => this.queryBus.execute(new GetEvent(eventId)));
    if (stored.event.room_id !== roomId || stored.rejected) throw MatrixError.notFound(`event ${eventId} is not known in room ${roomId}`);
  }

  /**
   * A threaded receipt's event must be in the thread (client-server API, "Threaded read
   * receipts"): the thread root itself, an event with an `m.thread` relation to it, or an event
   * whose relations lead to one of those within a few hops. 400 M_INVALID_PARAM otherwise.
   */
  private async requireInThread(roomId: string, eventId: string, threadId: string): Promise<void> {
    let current = eventId;
    for (let hop = 0; hop <= MAX_THREAD_HOPS; hop++) {
      if (current === threadId) return;
      let stored: StoredEvent;
      try {
        stored = await answering(() => this.queryBus.execute(new GetEvent(current)));
      } catch (error) {
        // The receipt's own event must exist; a parent this server does not hold ends the walk.
        if (hop === 0) throw error;
        break;
      }
      if (stored.event.room_id !== roomId || stored.rejected) {
        if (hop === 0) throw MatrixError.notFound(`event ${eventId} is not known in room ${roomId}`);
        break;
      }
      const relation = relationOf(stored.event.content);
      if (relation === undefined) break;
      if (relation.relType === 'm.thread') {
        if (relation.eventId === threadId) return;
        break;
      }
      current = relation.eventId;
    }
    throw MatrixError.invalidParam(`event ${eventId} is not in the thread ${threadId}`);
  }

  /** `m.fully_read` is room account data the server writes (clients may not set it directly). */
  private async setFullyRead(user: AuthenticatedUser, roomId: string, eventId: string): Promise<void> {
    await answering(() => this.accountData.putAccountDataAsServer(user.userId, roomId, 'm.fully_read', { event_id: eventId }));
  }

  /** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} */
  @Put(clientPaths('rooms/:roomId/typing/:userId'))
  async setTyping(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('userId') rawUserId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const userId = userIdParam(rawUserId, 'userId');
    if (userId !== user.userId) throw MatrixError.forbidden('You may only set your own typing state');
    const request = parseBody(typingBody.passthrough(), body);
    await this.requireJoined(roomId, user.userId);
    this.typing.setTyping(roomId, userId, request.typing, request.timeout ?? 30_000);
    if (request.typing) this.presence.active(userId);
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} */
  @Post(clientPaths('rooms/:roomId/receipt/:receiptType/:eventId'))
  @HttpCode(200)
  async postReceipt(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('receiptType') receiptType: string,
    @Param('eventId') rawEventId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    if (!RECEIPT_TYPES.has(receiptType)) throw MatrixError.invalidParam(`Unknown receipt type ${JSON.stringify(receiptType)}`);
    const eventId = eventIdParam(rawEventId);
    const { thread_id: threadId } = parseBody(receiptBody.passthrough(), body);
    if (threadId !== undefined) {
      // Bad thread ids are 400 M_INVALID_PARAM (the spec's example for this endpoint).
      if (threadId.length === 0) throw MatrixError.invalidParam('thread_id must be a non-empty string');
      if (receiptType === 'm.fully_read') throw MatrixError.invalidParam('m.fully_read does not take a thread_id');
      if (threadId !== 'main') {
        if (!isValidEventId(threadId)) throw MatrixError.invalidParam('thread_id must be the event id of a thread root, or main');
        await this.requireJoined(roomId, user.userId);
        await this.requireInThread(roomId, eventId, threadId);
      }
    }
    if (receiptType === 'm.fully_read') {
      await this.requireJoined(roomId, user.userId);
      await this.requireRoomEvent(roomId, eventId);
      await this.setFullyRead(user, roomId, eventId);
      this.presence.active(user.userId);
      return {};
    }
    await answering(() => this.commandBus.execute(new RecordReceipt(user.userId, roomId, receiptType, eventId, threadId)));
    this.presence.active(user.userId);
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/read_markers */
  @Post(clientPaths('rooms/:roomId/read_markers'))
  @HttpCode(200)
  async setReadMarker(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const request = parseBody(readMarkersBody.passthrough(), body);
    const fullyRead = request['m.fully_read'] !== undefined ? eventIdParam(request['m.fully_read']) : undefined;
    const read = request['m.read'] !== undefined ? eventIdParam(request['m.read']) : undefined;
    const readPrivate = request['m.read.private'] !== undefined ? eventIdParam(request['m.read.private']) : undefined;
    await this.requireJoined(roomId, user.userId);
    // The marker's event is checked before any receipt is recorded, so a refused request changes nothing.
    if (fullyRead !== undefined) await this.requireRoomEvent(roomId, fullyRead);
    if (read !== undefined) await answering(() => this.commandBus.execute(new RecordReceipt(user.userId, roomId, 'm.read', read)));
    if (readPrivate !== undefined) await answering(() => this.commandBus.execute(new RecordReceipt(user.userId, roomId, 'm.read.private', readPrivate)));
    if (fullyRead !== undefined) await this.setFullyRead(user, roomId, fullyRead);
    this.presence.active(user.userId);
    return {};
  }
}
