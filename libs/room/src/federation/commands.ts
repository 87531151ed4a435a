/**
 * The commands of the federation room endpoints, each handled by {@link FederationRooms}. The
 * federation API sends them; without the keys layer (no `remote` given to the room module)
 * they are refused with 404, as a server that does not federate rooms.
 */
import { Inject, Optional } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { Pdu } from '@hs/protocol';
import { notFound } from '../errors';
import { FederationRooms, type TransactionResult } from './federation-rooms';

/** PUT /_matrix/federation/v1/send/{txnId} */
export class IngestFederationTransaction extends Command<TransactionResult> {
  constructor(
    readonly origin: string,
    readonly txnId: string,
    readonly body: unknown,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/make_join/{roomId}/{userId} and make_leave */
export class MakeMembershipEvent extends Command<{ event: Pdu; room_version: string }> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly userId: string,
    readonly membership: 'join' | 'leave' | 'knock',
    /** The room versions the joining server supports (make_join `ver`). */
    readonly versions: readonly string[],
  ) {
    super();
  }
}

/** PUT /_matrix/federation/v2/send_join/{roomId}/{eventId} and send_leave */
export class SendMembershipEvent extends Command<Record<string, unknown>> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly eventId: string,
    readonly membership: 'join' | 'leave' | 'knock',
    readonly body: unknown,
  ) {
    super();
  }
}

/** PUT /_matrix/federation/v2/invite/{roomId}/{eventId} (and the v1 form, whose body is the event) */
export class ReceiveFederationInvite extends Command<{ event: Pdu }> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly eventId: string,
    readonly body: unknown,
    readonly apiVersion: 1 | 2 = 2,
  ) {
    super();
  }
}

/**
 * History older than what the room holds, fetched from another server in the room (when a
 * client paginates past the start of what we hold); answers how many events were placed.
 */
export class BackfillRoom extends Command<number> {
  constructor(
    readonly roomId: string,
    readonly limit: number,
  ) {
    super();
  }
}

abstract class FederationHandler {
  constructor(@Optional() @Inject(FederationRooms) private readonly federationRooms: FederationRooms | null) {}

  protected get rooms(): FederationRooms {
    if (!this.federationRooms) throw notFound('this server does not federate rooms');
    return this.federationRooms;
  }
}

@CommandHandler(IngestFederationTransaction)
export class IngestFederationTransactionHandler extends FederationHandler implements ICommandHandler<IngestFederationTransaction, TransactionResult> {
  execute(command: IngestFederationTransaction): Promise<TransactionResult> {
    return this.rooms.receiveTransaction(command.origin, command.txnId, command.body);
  }
}

@CommandHandler(MakeMembershipEvent)
export class MakeMembershipEventHandler extends FederationHandler implements ICommandHandler<MakeMembershipEvent, { event: Pdu; room_version: string }> {
  execute(command: MakeMembershipEvent): Promise<{ event: Pdu; room_version: string }> {
    if (command.membership === 'join') return this.rooms.makeJoin(command.origin, command.roomId, command.userId, command.versions);
    if (command.membership === 'knock') return this.rooms.makeKnock(command.origin, command.roomId, command.userId, command.versions);
    return this.rooms.makeLeave(command.origin, command.roomId, command.userId);
  }
}

@CommandHandler(SendMembershipEvent)
export class SendMembershipEventHandler extends FederationHandler implements ICommandHandler<SendMembershipEvent, Record<string, unknown>> {
  execute(command: SendMembershipEvent): Promise<Record<string, unknown>> {
    if (command.membership === 'join') return this.rooms.sendJoin(command.origin, command.roomId, command.eventId, command.body);
    if (command.membership === 'knock') return this.rooms.sendKnock(command.origin, command.roomId, command.eventId, command.body);
    return this.rooms.sendLeave(command.origin, command.roomId, command.eventId, command.body);
  }
}

@CommandHandler(ReceiveFederationInvite)
export class ReceiveFederationInviteHandler extends FederationHandler implements ICommandHandler<ReceiveFederationInvite, { event: Pdu }> {
  execute(command: ReceiveFederationInvite): Promise<{ event: Pdu }> {
    return command.apiVersion === 1
      ? this.rooms.receiveInviteV1(command.origin, command.roomId, command.eventId, command.body)
      : this.rooms.receiveInvite(command.origin, command.roomId, command.eventId, command.body);
  }
}

@CommandHandler(BackfillRoom)
export class BackfillRoomHandler implements ICommandHandler<BackfillRoom, number> {
  constructor(@Optional() @Inject(FederationRooms) private readonly rooms: FederationRooms | null) {}

  /** Nothing to fetch on a server that does not federate rooms. */
  async execute(command: BackfillRoom): Promise<number> {
    return this.rooms ? this.rooms.backfill(command.roomId, command.limit) : 0;
  }
}

export const FEDERATION_COMMAND_HANDLERS = [
  BackfillRoomHandler,
  IngestFederationTransactionHandler,
  MakeMembershipEventHandler,
  SendMembershipEventHandler,
  ReceiveFederationInviteHandler,
];
