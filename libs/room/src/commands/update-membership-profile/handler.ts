import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomCommandError } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { UpdateMembershipProfile } from './command';
import { decideUpdateMembershipProfile } from './decide';

/** PUT /_matrix/client/v3/profile/{userId}/displayname and /avatar_url: the member events in every joined room. */
@CommandHandler(UpdateMembershipProfile)
export class UpdateMembershipProfileHandler implements ICommandHandler<UpdateMembershipProfile, { eventIds: string[] }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: UpdateMembershipProfile): Promise<{ eventIds: string[] }> {
    const rooms = await this.writer.reader.roomsOfUser(command.userId, ['join']);
    const eventIds: string[] = [];
    for (const { roomId } of rooms) {
      try {
        const result = await this.writer.write(roomId, (state) => decideUpdateMembershipProfile(state, command));
        eventIds.push(...result.events.map((e) => e.event_id));
      } catch (error) {
        // A room whose rules forbid the change keeps the old profile; the others still get it.
        if (!(error instanceof RoomCommandError && error.errcode === 'M_FORBIDDEN')) throw error;
      }
    }
    return { eventIds };
  }
}
