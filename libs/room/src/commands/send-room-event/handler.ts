import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { isJsonObject, requireRoomId } from '../../validation';
import { sendOnce } from '../client-transaction';
import { checkCanonicalAliasContent } from './canonical-alias';
import { SendRoomEvent } from './command';
import { decideSendRoomEvent } from './decide';

/** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} and PUT /rooms/{roomId}/state/{eventType}/{stateKey} */
@CommandHandler(SendRoomEvent)
export class SendRoomEventHandler implements ICommandHandler<SendRoomEvent, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: SendRoomEvent): Promise<{ eventId: string }> {
    const roomId = requireRoomId(command.roomId);
    const redacts = command.type === 'm.room.redaction' && isJsonObject(command.content) ? command.content.redacts : undefined;
    const target = typeof redacts === 'string' ? (await this.writer.reader.event(redacts))?.event : undefined;
    if (command.type === 'm.room.canonical_alias' && command.options.stateKey === '' && isJsonObject(command.content)) {
      await checkCanonicalAliasContent(command.content, roomId, this.writer.serverName, (alias) => this.writer.reader.alias(alias));
    }
    const eventId = await sendOnce(this.writer, roomId, command.sender, command.options.txn, (state) =>
      decideSendRoomEvent(state, command, target),
    );
    return { eventId };
  }
}
