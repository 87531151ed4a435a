/** CIDR ranges and the test of an address against them (IPv4 and IPv6). */
import { isIP } from 'node:net';

export interface IpRange {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

function ipv4ToBigint(address: string): bigint {
  return address.split('.').reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(address: string): bigint {
  let text = address.split('%')[0]!;
  // An embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToBigint(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((value, part) => (value << 16n) | BigInt(parseInt(part || '0', 16)), 0n);
}

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128). */
export function parseCidr(cidr: string): IpRange {
  const [address, prefixText] = cidr.trim().split('/');
  const family = isIP(address ?? '');
  if (family !== 4 && family !== 6) throw new TypeError(`not an IP range: ${cidr}`);
  const width = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) throw new TypeError(`not an IP range: ${cidr}`);
  return { family, bits: family === 4 ? ipv4ToBigint(address!) : ipv6ToBigint(address!), prefix };
}

/** Whether `address` (an IP literal) lies in one of the ranges. IPv4-mapped IPv6 addresses are tested as IPv4 too. */
export function inRanges(address: string, ranges: readonly IpRange[]): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const candidates: Array<{ family: 4 | 6; bits: bigint }> = [];
  if (family === 4) candidates.push({ family: 4, bits: ipv4ToBigint(address) });
  else {
    const bits = ipv6ToBigint(address);
    candidates.push({ family: 6, bits });
    if (bits >> 32n === 0xffffn) candidates.push({ family: 4, bits: bits & 0xffffffffn });
  }
  return candidates.some((candidate) =>
    ranges.some((range) => {
      if (range.family !== candidate.family) return false;
      const width = range.family === 4 ? 32 : 128;
      const shift = BigInt(width - range.prefix);
      return candidate.bits >> shift === range.bits >> shift;
    }),
  );
}
