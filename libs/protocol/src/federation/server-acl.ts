/**
 * Server ACLs (`m.room.server_acl`, the event schema and server-server-api.md "Server Access
 * Control Lists"): whether a server may take part in a room, given the content of the room's
 * current ACL event. The port of the server name is not considered; `allow` and `deny` are
 * case-insensitive globs (./glob.ts). In order:
 *
 * 1. no ACL event (content `undefined` or `null`): allowed;
 * 2. an IP literal server name when `allow_ip_literals` is `false`: denied (the default, also
 *    when the value is not a boolean, is `true`);
 * 3. a name matching a `deny` entry: denied;
 * 4. a name matching an `allow` entry: allowed;
 * 5. otherwise denied: a missing `allow` denies every server, as the spec says.
 *
 * Content that is not a JSON object cannot be an ACL and allows every server; an `allow` or
 * `deny` that is not an array counts as empty, and entries that are not strings are ignored.
 */
import { parseServerName, serverNameHost } from '../identifiers/server-name';
import { matchesGlob } from './glob';

export const SERVER_ACL_EVENT_TYPE = 'm.room.server_acl';

function isIpLiteral(host: string): boolean {
  if (host.startsWith('[')) return true;
  try {
    return parseServerName(host).hostKind !== 'dns';
  } catch {
    return false;
  }
}

/** The string entries of an `allow` or `deny` value; anything else counts as no entry. */
function entries(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

/**
 * Whether `serverName` may take part in a room whose current `m.room.server_acl` event has
 * `aclContent` (`undefined` or `null` when the room has none).
 */
export function isServerAllowedByAcl(aclContent: unknown, serverName: string): boolean {
  if (typeof aclContent !== 'object' || aclContent === null || Array.isArray(aclContent)) return true;
  const acl = aclContent as Record<string, unknown>;
  const host = serverNameHost(serverName);
  if (acl.allow_ip_literals === false && isIpLiteral(host)) return false;
  if (entries(acl.deny).some((pattern) => matchesGlob(pattern, host))) return false;
  return entries(acl.allow).some((pattern) => matchesGlob(pattern, host));
}
