/**
 * Server names (appendices.md "Server Name"):
 *
 *     server_name = hostname [ ":" port ]
 *     hostname    = IPv4address / "[" IPv6address "]" / dns-name
 *
 * IPv4 literals are four decimal numbers 0-255; IPv6 literals follow RFC 3513 §2.2; DNS names
 * are 1-255 characters of letters, digits, `-` and `.`. The port is 1-65535. Names are
 * case-sensitive and are not normalized.
 */
import { InvalidIdentifierError } from './errors';

export type HostKind = 'dns' | 'ipv4' | 'ipv6';

export interface ServerName {
  /** The server name as given. */
  readonly value: string;
  /** The host without port; an IPv6 literal keeps its brackets. */
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port?: number;
}

const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((part) => Number(part) <= 255);
}

/** True for an IPv6 address literal as RFC 3513 §2.2 writes them (without brackets). */
export function isIpv6Literal(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const all = [...head, ...tail];
  let width = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (i === all.length - 1 && g.includes('.')) {
      if (!isIpv4(g)) return false;
      width += 2;
    } else if (HEX_GROUP.test(g)) {
      width += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? width <= 7 : width === 8;
}

function fail(value: string, reason: string): never {
  throw new InvalidIdentifierError('server_name', value, reason);
}

/** Parses a server name; throws InvalidIdentifierError (kind `server_name`) with the reason. */
export function parseServerName(value: string): ServerName {
  let host: string;
  let rest: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) fail(value, 'IPv6 literal without a closing "]"');
    host = value.slice(0, close + 1);
    rest = value.slice(close + 1);
    if (!isIpv6Literal(host.slice(1, -1))) fail(value, 'not a valid IPv6 literal');
  } else {
    const colon = value.indexOf(':');
    host = colon < 0 ? value : value.slice(0, colon);
    rest = colon < 0 ? '' : value.slice(colon);
    if (host === '') fail(value, 'empty host');
    if (!DNS_NAME.test(host)) fail(value, 'host has characters outside letters, digits, "-" and "."');
  }
  let port: number | undefined;
  if (rest !== '') {
    if (!/^:\d{1,5}$/.test(rest)) fail(value, 'port must be ":" and 1-5 digits');
    port = Number(rest.slice(1));
    if (port < 1 || port > 65535) fail(value, 'port must be 1-65535');
  }
  const hostKind: HostKind = host.startsWith('[') ? 'ipv6' : isIpv4(host) ? 'ipv4' : 'dns';
  if (hostKind === 'dns' && IPV4.test(host)) fail(value, 'IPv4 literal with a number above 255');
  return port === undefined ? { value, host, hostKind } : { value, host, hostKind, port };
}

export function isValidServerName(value: string): boolean {
  try {
    parseServerName(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The host of a server name without its port (an IPv6 literal keeps its brackets), read
 * leniently: a name that does not parse loses what follows its first ":" (after "]" for "[").
 */
export function serverNameHost(value: string): string {
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    return close < 0 ? value : value.slice(0, close + 1);
  }
  const colon = value.indexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}
