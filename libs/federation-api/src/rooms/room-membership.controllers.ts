/**
 * The federation endpoints that place room events (server-server-api.md "Transactions",
 * "Joining Rooms", "Leaving Rooms", "Inviting to a room"): each sends a command of the room
 * write side with the authenticated origin.
 */
import { MatrixError } from '@hs/http';
import { isValidEventId, isValidRoomId, isValidUserId } from '@hs/protocol';
import { IngestFederationTransaction, MakeMembershipEvent, ReceiveFederationInvite, SendMembershipEvent, type TransactionResult } from '@hs/room';
import { Body, Controller, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
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

@Controller('_matrix/federation')
export class FederationTransactionController {
  constructor(private readonly commands: CommandBus) {}

  /** PUT /_matrix/federation/v1/send/{txnId} */
  @Put('v1/send/:txnId')
  @HttpCode(200)
  send(@FederationOrigin() origin: string, @Param('txnId') txnId: string, @Body() body: unknown): Promise<TransactionResult> {
    if (txnId.length === 0 || txnId.length > 255) throw MatrixError.invalidParam('the transaction id must have 1 to 255 characters');
    if (typeof body === 'object' && body !== null && 'origin' in body && (body as { origin: unknown }).origin !== origin) {
      throw MatrixError.forbidden('the transaction names another origin than the server that signed it');
    }
    return answering(() => this.commands.execute(new IngestFederationTransaction(origin, txnId, body)));
  }
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
