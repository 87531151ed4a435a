/**
 * Response headers of media downloads: the Content-Type, a Content-Disposition that shows
 * only harmless types inline (everything else is an attachment), with the file name in the
 * RFC 6266 / RFC 8187 form, and the sandboxing headers the spec recommends.
 */

/** Types a browser may show inline without running anything (what the spec's note lists). */
const INLINE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/** The media type without parameters, lower case. */
export function baseContentType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

export function isInlineType(contentType: string): boolean {
  return INLINE_TYPES.has(baseContentType(contentType));
}

/** Whether the text holds a C0 control character or DEL. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** A content type as given by a client: `type/subtype` with optional parameters, else octet-stream. */
export function normaliseContentType(given: string | undefined): string {
  const value = (given ?? '').trim();
  if (value.length === 0 || value.length > 255) return 'application/octet-stream';
  return /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$/.test(value) && !hasControl(value) ? value : 'application/octet-stream';
}

/**
 * A file name safe to store and send back: no path separators, control characters or
 * surrogates; at most 255 UTF-8 bytes. Undefined when nothing remains.
 */
export function safeFileName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  let cleaned = [...name]
    .filter((char) => !hasControl(char) && char !== '/' && char !== '\\' && !/[\uD800-\uDFFF]/.test(char))
    .join('')
    .trim();
  while (Buffer.byteLength(cleaned, 'utf8') > 255) cleaned = [...cleaned].slice(0, -1).join('');
  return cleaned.length === 0 ? undefined : cleaned;
}

/** RFC 5987 attr-char: what may appear unencoded in an ext-value. */
function encodeExtValue(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9!#$&+.^_`|~-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/**
 * The Content-Disposition header: `inline` for safe types, `attachment` otherwise; the name as
 * a quoted ASCII `filename` when it is plain ASCII, else as `filename*=utf-8''…`.
 */
export function contentDisposition(contentType: string, fileName: string | undefined): string {
  const disposition = isInlineType(contentType) ? 'inline' : 'attachment';
  const name = safeFileName(fileName);
  if (name === undefined) return disposition;
  if (/^[\u0020-\u007e]*$/.test(name)) return `${disposition}; filename="${name.replace(/["\\]/g, '\\$&')}"`;
  return `${disposition}; filename*=utf-8''${encodeExtValue(name)}`;
}

/** Headers every media response carries (client-server API, "Content repository" security notes). */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'X-Content-Type-Options': 'nosniff',
};
