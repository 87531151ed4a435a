import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ROOM_NETWORK_VISIBILITY_SET } from '@hs/contracts';
import { badJson, invalidParam } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { SetRoomNetworkVisibility } from './command';

/** The directory of a network is `<application service id>|<network id>` (the instance id of /thirdparty/protocols). */
export function networkInstanceId(appServiceId: string, networkId: string): string {
  return `${appServiceId}|${networkId}`;
}

/**
 * An application service's network directory: any room this server holds, whatever the
 * service's membership (the service answers for its network, not the room's members).
 */
@CommandHandler(SetRoomNetworkVisibility)
export class SetRoomNetworkVisibilityHandler implements ICommandHandler<SetRoomNetworkVisibility, void> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: SetRoomNetworkVisibility): Promise<void> {
    const visibility = command.visibility;
    if (visibility !== 'public' && visibility !== 'private') throw badJson('visibility must be "public" or "private"');
    if (command.networkId.length === 0 || command.networkId.length > 255 || command.networkId.includes('|')) {
      throw invalidParam('the network id must have 1 to 255 characters and no "|"');
    }
    const instanceId = networkInstanceId(command.appServiceId, command.networkId);
    await this.writer.write(requireRoomId(command.roomId), (state) => ({
      events: [],
      facts: [{ type: ROOM_NETWORK_VISIBILITY_SET, data: { v: 1, room_id: state.roomId, instance_id: instanceId, visibility } }],
    }));
  }
}
