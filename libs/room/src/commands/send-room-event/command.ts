import { Command } from '@nestjs/cqrs';

/** A client transaction: retries with the same (user, device, txn id) get the first event id back. */
export interface ClientTransaction {
  deviceId: string;
  txnId: string;
  /**
   * The HTTP path it was used on, without the transaction id (e.g. the room and event type of
   * a send): the same id on another path is another request. Default: the empty scope.
   */
  scope?: string;
}

/**
 * PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} (message events) and
 * PUT /rooms/{roomId}/state/{eventType}/{stateKey} (state events, `stateKey` set).
 */
export class SendRoomEvent extends Command<{ eventId: string }> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly type: string,
    readonly content: unknown,
    readonly options: { stateKey?: string; txn?: ClientTransaction } = {},
  ) {
    super();
  }
}
