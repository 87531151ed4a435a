/** The m.room.member events the membership commands send. */
import type { JsonObject } from '@hs/protocol';
import type { EventTemplate } from '../room-writer';
import { withReason } from '../validation';

export function memberEvent(
  sender: string,
  target: string,
  membership: 'join' | 'invite' | 'leave' | 'ban',
  extra: { reason?: string; content?: JsonObject } = {},
): EventTemplate {
  return {
    sender,
    type: 'm.room.member',
    stateKey: target,
    content: withReason({ ...(extra.content ?? {}), membership }, extra.reason),
  };
}

/** The profile keys a member event carries (displayname, avatar_url), without null values. */
export function profileContent(profile: { displayname?: string | null; avatar_url?: string | null } | undefined): JsonObject {
  const content: JsonObject = {};
  if (typeof profile?.displayname === 'string') content.displayname = profile.displayname;
  if (typeof profile?.avatar_url === 'string') content.avatar_url = profile.avatar_url;
  return content;
}
