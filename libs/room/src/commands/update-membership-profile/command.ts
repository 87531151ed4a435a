import { Command } from '@nestjs/cqrs';

/**
 * Propagates a profile change (PUT /profile/{userId}/displayname or /avatar_url) to every room
 * the user is joined to, as a new m.room.member join event. A null value removes the key.
 */
export class UpdateMembershipProfile extends Command<{ eventIds: string[] }> {
  constructor(
    readonly userId: string,
    readonly profile: { displayname?: string | null; avatar_url?: string | null },
  ) {
    super();
  }
}
