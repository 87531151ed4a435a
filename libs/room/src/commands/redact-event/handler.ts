import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { sendOnce } from '../client-transaction';
import { RedactEvent } from './command';
import { decideRedactEvent } from './decide';

/** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
@CommandHandler(RedactEvent)
export class RedactEventHandler implements ICommandHandler<RedactEvent, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: RedactEvent): Promise<{ eventId: string }> {
    const roomId = requireRoomId(command.roomId);
    const target = (await this.writer.reader.event(command.eventId))?.event;
    const eventId = await sendOnce(this.writer, roomId, command.sender, command.txn, (state) => decideRedactEvent(state, command, target));
    return { eventId };
  }
}
