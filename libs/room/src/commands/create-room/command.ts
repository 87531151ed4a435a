import { Command } from '@nestjs/cqrs';

/** The body of POST /createRoom, as the client sent it (checked by the command). */
export interface CreateRoomRequest {
  visibility?: unknown;
  room_alias_name?: unknown;
  name?: unknown;
  topic?: unknown;
  invite?: unknown;
  initial_state?: unknown;
  preset?: unknown;
  is_direct?: unknown;
  power_level_content_override?: unknown;
  creation_content?: unknown;
  room_version?: unknown;
}

/** The creator's profile, copied into their m.room.member event. */
export interface MemberProfile {
  displayname?: string | null;
  avatar_url?: string | null;
}

/** POST /_matrix/client/v3/createRoom */
export class CreateRoom extends Command<{ roomId: string }> {
  constructor(
    readonly creator: string,
    readonly request: CreateRoomRequest,
    readonly creatorProfile?: MemberProfile,
  ) {
    super();
  }
}
