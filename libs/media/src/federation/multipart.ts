/**
 * The `multipart/mixed` answer of the federation media endpoints (server-server API,
 * "Content repository"): a JSON metadata part (`{}` for now), then the content with its own
 * Content-Type and Content-Disposition (or a Location to fetch it from, which this server
 * does not follow).
 */
import { randomBytes } from 'node:crypto';

export interface MultipartMedia {
  /** The Content-Type of the whole answer, with its boundary. */
  contentType: string;
  body: Buffer;
}

/** Builds the answer for the content of a media item. */
export function encodeMediaMultipart(content: { bytes: Buffer; contentType: string; disposition: string }): MultipartMedia {
  const boundary = randomBytes(16).toString('hex');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n` +
      `--${boundary}\r\nContent-Type: ${content.contentType}\r\nContent-Disposition: ${content.disposition}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: Buffer.concat([head, content.bytes, tail]) };
}

export interface DecodedMedia {
  metadata: unknown;
  bytes: Buffer;
  contentType: string;
  /** The file name of the content part's Content-Disposition, if any. */
  fileName?: string;
}

function headersOf(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** The file name in a Content-Disposition (`filename*=utf-8''…` first, then `filename=`). */
export function dispositionFileName(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*utf-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      return undefined;
    }
  }
  const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;\s]+)/i.exec(disposition);
  if (!plain) return undefined;
  return plain[2] !== undefined ? plain[2].replace(/\\(.)/g, '$1') : plain[1];
}

/**
 * Parses a remote server's answer; undefined when it is not a two-part multipart/mixed body
 * with the content inline (a Location part is not followed).
 */
export function decodeMediaMultipart(contentType: string, body: Buffer): DecodedMedia | undefined {
  const boundaryMatch = /^multipart\/mixed\s*;.*boundary=("([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundaryMatch) return undefined;
  const boundary = Buffer.from(`--${boundaryMatch[2] ?? boundaryMatch[3]}`, 'utf8');
  const parts: Buffer[] = [];
  let at = body.indexOf(boundary);
  while (at >= 0) {
    const start = at + boundary.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(boundary, start);
    if (next < 0) return undefined;
    // The part runs from after the boundary line's CRLF to the CRLF before the next boundary.
    parts.push(body.subarray(start + 2, next - 2));
    at = next;
  }
  if (parts.length !== 2) return undefined;
  const split = (part: Buffer) => {
    const end = part.indexOf('\r\n\r\n');
    return end < 0 ? undefined : { headers: headersOf(part.subarray(0, end).toString('utf8')), content: part.subarray(end + 4) };
  };
  const [meta, media] = [split(parts[0]!), split(parts[1]!)];
  if (!meta || !media || media.headers.has('location')) return undefined;
  let metadata: unknown;
  try {
    metadata = JSON.parse(meta.content.toString('utf8'));
  } catch {
    return undefined;
  }
  const fileName = dispositionFileName(media.headers.get('content-disposition'));
  return { metadata, bytes: Buffer.from(media.content), contentType: media.headers.get('content-type') ?? 'application/octet-stream', ...(fileName ? { fileName } : {}) };
}
