/**
 * The federation endpoints that place room events (server-server-api.md "Transactions",
 * "Joining Rooms", "Leaving Rooms", "Inviting to a room"): each sends a command of the room
 * write side with the authenticated origin.
 */
import { MatrixError } from '@hs/http';
import { isValidEventId, isValidRoomId, isValidUserId, serverNameOf } from '@hs/protocol';
import { GetMembership, IngestFederationTransaction, MakeMembershipEvent, ReceiveFederationInvite, RecordReceipt, SendMembershipEvent, type TransactionResult } from '@hs/room';
import { Body, Controller, Get, HttpCode, Inject, Optional, Param, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { answering } from './answering';

function roomIdParam(value: string): string {
  if (!isValidRoomId(value)) throw MatrixError.invalidParam(`${JSON.stringify(value)} is not a valid room id`);
  return value;
}

function userIdParam(value: string): string {
  if (!isValidUserId(value)) throw MatrixError.invalidParam(`${JSON.stringify(value)} is not a valid user id`);
  return value;
}

function eventIdParam(value: string): string {
  if (!isValidEventId(value)) throw MatrixError.invalidParam(`${JSON.stringify(value)} is not a valid event id`);
  return value;
}

/** `ver` given once or repeated; absent means room version 1 only (server-server-api.md, make_join). */
function versionsQuery(value: unknown): string[] {
  if (value === undefined) return ['1'];
  const values = Array.isArray(value) ? value : [value];
  return values.filter((v): v is string => typeof v === 'string');
}

/** Where typing notifications of other servers' users go (the process's typing store). */
export const FEDERATION_TYPING = Symbol('FEDERATION_TYPING');

export interface FederationTyping {
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs?: number): void;
}

/** Where other servers' end-to-end encryption EDUs go (the e2ee library). */
export const FEDERATION_E2EE = Symbol('FEDERATION_E2EE');

export interface FederationE2ee {
  /** Handles an EDU of `origin`; false when it is not an e2ee EDU. */
  receiveEdu(origin: string, eduType: unknown, content: unknown): Promise<boolean>;
}

/** Where other servers' presence EDUs go (the process's presence store). */
export const FEDERATION_PRESENCE = Symbol('FEDERATION_PRESENCE');

export interface FederationPresence {
  /** An `m.presence` EDU of `origin` (entries about other servers' users are dropped). */
  receive(origin: string, content: Record<string, unknown>): Promise<void>;
}

/** How long a remote user shows as typing without a renewal (the sending server renews or stops it). */
const REMOTE_TYPING_TIMEOUT_MS = 30_000;

@Controller('_matrix/federation')
export class FederationTransactionController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
    @Optional() @Inject(FEDERATION_TYPING) private readonly typing: FederationTyping | null,
    @Optional() @Inject(FEDERATION_E2EE) private readonly e2ee: FederationE2ee | null,
    @Optional() @Inject(FEDERATION_PRESENCE) private readonly presence: FederationPresence | null,
  ) {}

  /** PUT /_matrix/federation/v1/send/{txnId} */
  @Put('v1/send/:txnId')
  @HttpCode(200)
  async send(@FederationOrigin() origin: string, @Param('txnId') txnId: string, @Body() body: unknown): Promise<TransactionResult> {
    if (txnId.length === 0 || txnId.length > 255) throw MatrixError.invalidParam('the transaction id must have 1 to 255 characters');
    if (typeof body === 'object' && body !== null && 'origin' in body && (body as { origin: unknown }).origin !== origin) {
      throw MatrixError.forbidden('the transaction names another origin than the server that signed it');
    }
    const result = await answering(() => this.commands.execute(new IngestFederationTransaction(origin, txnId, body)));
    const edus = (body as { edus?: unknown }).edus;
    if (Array.isArray(edus)) for (const edu of edus) await this.receiveEdu(origin, edu);
    return result;
  }

  /**
   * An EDU of `origin` about its own users in rooms where they are joined: typing (m.typing)
   * and read receipts (m.receipt); their presence (m.presence); or about its users' devices and
   * to-device messages (the e2ee library's). Others, and EDUs that do not hold, are ignored (an EDU has no answer of
   * its own, and one that cannot be stored does not fail the transaction).
   */
  private async receiveEdu(origin: string, edu: unknown): Promise<void> {
    if (!isObject(edu) || !isObject(edu.content)) return;
    const content = edu.content;
    if (this.e2ee && (await this.e2ee.receiveEdu(origin, edu.edu_type, content).catch(() => true))) return;
    const ownJoinedUser = async (roomId: unknown, userId: unknown): Promise<boolean> =>
      typeof roomId === 'string' && typeof userId === 'string' && isValidRoomId(roomId) && isValidUserId(userId) && serverNameOf(userId) === origin &&
      (await this.queries.execute(new GetMembership(roomId, userId)).catch(() => null)) === 'join';
    if (edu.edu_type === 'm.presence') {
      await this.presence?.receive(origin, content).catch(() => undefined);
      return;
    }
    if (edu.edu_type === 'm.typing') {
      if (this.typing && typeof content.typing === 'boolean' && (await ownJoinedUser(content.room_id, content.user_id))) {
        this.typing.setTyping(content.room_id as string, content.user_id as string, content.typing, REMOTE_TYPING_TIMEOUT_MS);
      }
      return;
    }
    if (edu.edu_type === 'm.receipt') {
      for (const [roomId, byType] of Object.entries(content)) {
        const read = isObject(byType) ? byType['m.read'] : undefined;
        if (!isObject(read)) continue;
        for (const [userId, receipt] of Object.entries(read).slice(0, 100)) {
          if (!isObject(receipt) || !Array.isArray(receipt.event_ids) || !(await ownJoinedUser(roomId, userId))) continue;
          const eventId = receipt.event_ids.find((id): id is string => typeof id === 'string' && isValidEventId(id));
          if (eventId === undefined) continue;
          const threadId = isObject(receipt.data) && typeof receipt.data.thread_id === 'string' ? receipt.data.thread_id : undefined;
          await this.commands.execute(new RecordReceipt(userId, roomId, 'm.read', eventId, threadId)).catch(() => undefined);
        }
      }
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

@Controller('_matrix/federation')
export class FederationMembershipController {
  constructor(private readonly commands: CommandBus) {}

  /** GET /_matrix/federation/v1/make_join/{roomId}/{userId} */
  @Get('v1/make_join/:roomId/:userId')
  makeJoin(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('userId') userId: string, @Query('ver') ver: unknown) {
    return answering(() => this.commands.execute(new MakeMembershipEvent(origin, roomIdParam(roomId), userIdParam(userId), 'join', versionsQuery(ver))));
  }

  /** PUT /_matrix/federation/v2/send_join/{roomId}/{eventId} */
  @Put('v2/send_join/:roomId/:eventId')
  @HttpCode(200)
  sendJoin(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    return answering(() => this.commands.execute(new SendMembershipEvent(origin, roomIdParam(roomId), eventIdParam(eventId), 'join', body)));
  }

  /** PUT /_matrix/federation/v1/send_join/{roomId}/{eventId} (deprecated: the answer is `[200, body]`) */
  @Put('v1/send_join/:roomId/:eventId')
  @HttpCode(200)
  async sendJoinV1(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    const answer = await answering(() => this.commands.execute(new SendMembershipEvent(origin, roomIdParam(roomId), eventIdParam(eventId), 'join', body)));
    return [200, answer];
  }

  /** GET /_matrix/federation/v1/make_leave/{roomId}/{userId} */
  @Get('v1/make_leave/:roomId/:userId')
  makeLeave(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('userId') userId: string) {
    return answering(() => this.commands.execute(new MakeMembershipEvent(origin, roomIdParam(roomId), userIdParam(userId), 'leave', [])));
  }

  /** PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId} */
  @Put('v2/send_leave/:roomId/:eventId')
  @HttpCode(200)
  sendLeave(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    return answering(() => this.commands.execute(new SendMembershipEvent(origin, roomIdParam(roomId), eventIdParam(eventId), 'leave', body)));
  }

  /** PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId} (deprecated: the answer is `[200, {}]`) */
  @Put('v1/send_leave/:roomId/:eventId')
  @HttpCode(200)
  async sendLeaveV1(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    const answer = await answering(() => this.commands.execute(new SendMembershipEvent(origin, roomIdParam(roomId), eventIdParam(eventId), 'leave', body)));
    return [200, answer];
  }

  /** GET /_matrix/federation/v1/make_knock/{roomId}/{userId} */
  @Get('v1/make_knock/:roomId/:userId')
  makeKnock(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('userId') userId: string, @Query('ver') ver: unknown) {
    return answering(() => this.commands.execute(new MakeMembershipEvent(origin, roomIdParam(roomId), userIdParam(userId), 'knock', versionsQuery(ver))));
  }

  /** PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId} */
  @Put('v1/send_knock/:roomId/:eventId')
  @HttpCode(200)
  sendKnock(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    return answering(() => this.commands.execute(new SendMembershipEvent(origin, roomIdParam(roomId), eventIdParam(eventId), 'knock', body)));
  }

  /** PUT /_matrix/federation/v2/invite/{roomId}/{eventId} */
  @Put('v2/invite/:roomId/:eventId')
  @HttpCode(200)
  invite(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    return answering(() => this.commands.execute(new ReceiveFederationInvite(origin, roomIdParam(roomId), eventIdParam(eventId), body)));
  }

  /** PUT /_matrix/federation/v1/invite/{roomId}/{eventId} (deprecated: the body is the event, the answer `[200, {event}]`) */
  @Put('v1/invite/:roomId/:eventId')
  @HttpCode(200)
  async inviteV1(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Param('eventId') eventId: string, @Body() body: unknown) {
    const answer = await answering(() => this.commands.execute(new ReceiveFederationInvite(origin, roomIdParam(roomId), eventIdParam(eventId), body, 1)));
    return [200, answer];
  }
}
