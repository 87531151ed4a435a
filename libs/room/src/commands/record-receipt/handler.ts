import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RECEIPT_RECORDED, isReceiptType, receiptsStream, type ReceiptRecorded } from '@hs/contracts';
import type { JsonValue } from '@hs/protocol';
import { badJson, forbidden, notFound } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { ROOM_CLOCK, ROOM_EVENT_STORE, type Clock, type TransactionalEventStore } from '../../tokens';
import { requireRoomId } from '../../validation';
import { RecordReceipt } from './command';

/**
 * Appends a `ReceiptRecorded` fact to `receipts-<roomId>` for a joined member and an event of
 * the room. Receipts do not change the room, so they take no room writer turn.
 */
@CommandHandler(RecordReceipt)
export class RecordReceiptHandler implements ICommandHandler<RecordReceipt, void> {
  constructor(
    private readonly writer: RoomWriter,
    @Inject(ROOM_EVENT_STORE) private readonly store: TransactionalEventStore,
    @Inject(ROOM_CLOCK) private readonly clock: Clock,
  ) {}

  async execute(command: RecordReceipt): Promise<void> {
    const roomId = requireRoomId(command.roomId);
    if (!isReceiptType(command.receiptType)) throw badJson('the receipt type must be m.read or m.read.private');
    if (command.threadId !== undefined && (typeof command.threadId !== 'string' || command.threadId.length === 0)) {
      throw badJson('thread_id must be a non-empty string');
    }
    const reader = this.writer.reader;
    if ((await reader.membership(roomId, command.userId)) !== 'join') throw forbidden('You are not joined to this room');
    const event = await reader.event(command.eventId);
    if (!event || event.event.room_id !== roomId) throw notFound(`event ${command.eventId} is not known in room ${roomId}`);
    const fact: ReceiptRecorded = {
      v: 1,
      room_id: roomId,
      user_id: command.userId,
      receipt_type: command.receiptType,
      event_id: command.eventId,
      ...(command.threadId !== undefined ? { thread_id: command.threadId } : {}),
      ts: this.clock(),
      event_position: event.streamPosition.toString(),
    };
    await this.store.transaction((tx) =>
      this.store.appendInTransaction(tx, receiptsStream(roomId), 'any', [{ id: randomUUID(), type: RECEIPT_RECORDED, data: fact as unknown as JsonValue }]),
    );
  }
}
