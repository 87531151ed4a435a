import { isValidRoomAlias, serverNameOf, type JsonValue } from '@hs/protocol';
import { invalidParam, RoomCommandError } from '../../errors';

/** Where a local alias points, from the write model. */
export type LocalAliasLookup = (alias: string) => Promise<{ roomId: string } | undefined>;

/**
 * Checks the content of an m.room.canonical_alias event a client sends (client-server API,
 * `m.room.canonical_alias`): `alias` and every `alt_aliases` entry must be room aliases
 * (400 M_INVALID_PARAM), and each alias of this server must point at the room (400
 * M_BAD_ALIAS). Aliases of other servers cannot be resolved without federation and are
 * taken as they are.
 */
export async function checkCanonicalAliasContent(
  content: Readonly<Record<string, JsonValue>>,
  roomId: string,
  serverName: string,
  lookup: LocalAliasLookup,
): Promise<void> {
  const aliases: string[] = [];
  const alias = content.alias;
  if (alias !== undefined && alias !== null) {
    if (typeof alias !== 'string' || !isValidRoomAlias(alias)) throw invalidParam('alias must be a room alias');
    aliases.push(alias);
  }
  const alt = content.alt_aliases;
  if (alt !== undefined) {
    if (!Array.isArray(alt)) throw invalidParam('alt_aliases must be a list of room aliases');
    for (const entry of alt) {
      if (typeof entry !== 'string' || !isValidRoomAlias(entry)) throw invalidParam('alt_aliases must be a list of room aliases');
      aliases.push(entry);
    }
  }
  for (const candidate of new Set(aliases)) {
    if (serverNameOf(candidate) !== serverName) continue;
    const target = await lookup(candidate);
    if (target?.roomId !== roomId) {
      throw new RoomCommandError('M_BAD_ALIAS', `${candidate} does not point to this room`);
    }
  }
}
