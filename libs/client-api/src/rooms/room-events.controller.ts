/**
 * Sending events (client-server API, "Sending events to a room"), redactions and room
 * upgrades. Sending an event or a redaction is activity: the sender's presence becomes online.
 */
import { AccountDataService } from '@hs/accounts';
import { AuditLog } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { GetEvent, RedactEvent, SendRoomEvent, UpgradeRoom } from '@hs/room';
import { PresenceStore } from '@hs/sync';
import { Body, Controller, HttpCode, Inject, Logger, Param, Post, Put } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { RequestId } from '../admin/server-admin';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths } from '../prefixes';
import { GuestAccessRevocation } from './guest-access';
import { RateLimited } from '../rate-limit';
import { answering, eventIdParam, eventTypeParam, objectBody, optionalReason, parseBody, roomIdParam, stateKeyParam, txnIdParam } from './params';

const upgradeBody = z.object({ new_version: z.string() });

@Controller()
@RequireAuth()
export class RoomEventsController {
  private readonly logger = new Logger('RoomEventsController');

  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
    private readonly accountData: AccountDataService,
    private readonly presence: PresenceStore,
    @Inject(AuditLog) private readonly audit: AuditLog,
    private readonly guestAccess: GuestAccessRevocation,
  ) {}

  /** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} */
  @GuestAllowed()
  @Put(clientPaths('rooms/:roomId/send/:eventType/:txnId'))
  @RateLimited('message')
  async sendMessage(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Param('txnId') rawTxnId: string,
    @Body() body: unknown,
  ): Promise<{ event_id: string }> {
    const eventType = eventTypeParam(rawType);
    // Guests send messages only (client-server API, "Guest Access").
    if (user.isGuest && eventType !== 'm.room.message') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests may only send m.room.message events');
    const roomId = roomIdParam(rawRoomId);
    // The transaction id's scope is the path: the room and the event type.
    return this.send(user, roomId, eventType, body, { txn: { deviceId: user.deviceId, txnId: txnIdParam(rawTxnId), scope: `send\n${roomId}\n${eventType}` } });
  }

  /**
   * POST /_matrix/client/v3/rooms/{roomId}/send/{eventType}: the pre-r0 form without a
   * transaction id, still called by old bridges and scripts (Synapse serves it too). Each
   * call sends a new event: there is no transaction id to deduplicate retries by.
   */
  @Post(clientPaths('rooms/:roomId/send/:eventType'))
  @HttpCode(200)
  @RateLimited('message')
  async sendMessageWithoutTxn(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Body() body: unknown,
  ): Promise<{ event_id: string }> {
    return this.send(user, roomIdParam(rawRoomId), eventTypeParam(rawType), body, {});
  }

  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  @Put(clientPaths('rooms/:roomId/state/:eventType/:stateKey'))
  async setRoomStateWithKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Param('stateKey') rawStateKey: string,
    @Body() body: unknown,
  ): Promise<{ event_id: string }> {
    return this.send(user, roomIdParam(rawRoomId), eventTypeParam(rawType), body, { stateKey: stateKeyParam(rawStateKey) });
  }

  /** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/ (the empty state key; the router ignores the last slash) */
  @Put(clientPaths('rooms/:roomId/state/:eventType'))
  async setRoomState(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Body() body: unknown,
  ): Promise<{ event_id: string }> {
    return this.send(user, roomIdParam(rawRoomId), eventTypeParam(rawType), body, { stateKey: '' });
  }

  /** Sends a message or state event (the body checked to be an object); sending is activity. */
  private async send(
    user: AuthenticatedUser,
    roomId: string,
    type: string,
    body: unknown,
    options: ConstructorParameters<typeof SendRoomEvent>[4],
  ): Promise<{ event_id: string }> {
    const content = objectBody(body);
    const { eventId } = await answering(() => this.commandBus.execute(new SendRoomEvent(user.userId, roomId, type, content, options)));
    this.presence.active(user.userId);
    // Guests leave before the change is answered, so that the sender's next read sees them gone.
    if (type === 'm.room.guest_access' && options?.stateKey === '' && content.guest_access !== 'can_join') await this.guestAccess.enforce(roomId);
    return { event_id: eventId };
  }

  /** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
  @Put(clientPaths('rooms/:roomId/redact/:eventId/:txnId'))
  async redactEvent(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventId') rawEventId: string,
    @Param('txnId') rawTxnId: string,
    @Body() body: unknown,
    @RequestId() requestId: string | null,
  ): Promise<{ event_id: string }> {
    const roomId = roomIdParam(rawRoomId);
    const eventId = eventIdParam(rawEventId);
    return this.redact(user, roomId, eventId, body, requestId, { deviceId: user.deviceId, txnId: txnIdParam(rawTxnId), scope: `redact\n${roomId}\n${eventId}` });
  }

  /**
   * POST /_matrix/client/v3/rooms/{roomId}/redact/{eventId}: the pre-r0 form without a
   * transaction id (Synapse serves it too); each call sends a new redaction.
   */
  @Post(clientPaths('rooms/:roomId/redact/:eventId'))
  @HttpCode(200)
  redactEventWithoutTxn(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventId') rawEventId: string,
    @Body() body: unknown,
    @RequestId() requestId: string | null,
  ): Promise<{ event_id: string }> {
    return this.redact(user, roomIdParam(rawRoomId), eventIdParam(rawEventId), body, requestId);
  }

  /** Redacts an event; a redaction of someone else's event goes in the audit log. */
  private async redact(
    user: AuthenticatedUser,
    roomId: string,
    eventId: string,
    body: unknown,
    requestId: string | null,
    txn?: ConstructorParameters<typeof RedactEvent>[4],
  ): Promise<{ event_id: string }> {
    const { reason } = parseBody(z.object({ reason: optionalReason }).passthrough(), body === undefined ? {} : body);
    const redaction = await answering(() => this.commandBus.execute(new RedactEvent(user.userId, roomId, eventId, reason, txn)));
    this.presence.active(user.userId);
    // Redacting someone else's event is moderation: it goes in the audit log.
    const target = await this.queryBus.execute(new GetEvent(eventId)).catch(() => undefined);
    if (target && target.event.sender !== user.userId) {
      await this.audit.record({
        actor: user.userId,
        action: 'room.redaction',
        target: eventId,
        requestId,
        details: { room_id: roomId, sender: target.event.sender, redaction_id: redaction.eventId, reason: reason ?? null },
      });
    }
    return { event_id: redaction.eventId };
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
  @Post(clientPaths('rooms/:roomId/upgrade'))
  @HttpCode(200)
  async upgradeRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<{ replacement_room: string }> {
    const roomId = roomIdParam(rawRoomId);
    const { new_version } = parseBody(upgradeBody.passthrough(), body);
    const { replacementRoomId, localMembers } = await answering(() => this.commandBus.execute(new UpgradeRoom(user.userId, roomId, new_version)));
    // The room is upgraded whatever happens next: a member's tags or direct chats that cannot
    // be carried over are logged, not answered as a failure.
    for (const member of localMembers) {
      await this.accountData.copyToReplacementRoom(member, roomId, replacementRoomId).catch((error: unknown) => {
        this.logger.warn(`account data of ${member} not carried over to ${replacementRoomId}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    return { replacement_room: replacementRoomId };
  }
}
