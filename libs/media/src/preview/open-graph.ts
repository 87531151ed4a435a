/**
 * OpenGraph tags of an HTML page (`<meta property="og:…" content="…">`), with the page's
 * `<title>` and `<meta name="description">` standing in for a missing og:title and
 * og:description.
 */

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  const pattern = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))/g;
  for (const match of tag.matchAll(pattern)) out.set(match[1]!.toLowerCase(), decodeEntities(match[3] ?? match[4] ?? match[5] ?? ''));
  return out;
}

/** Longest value kept per tag. */
const MAX_VALUE = 1000;

/** The OpenGraph tags of `html` (the first of each property), title and description filled in. */
export function openGraphTags(html: string): Record<string, string> {
  const head = html.slice(0, 512 * 1024);
  const tags: Record<string, string> = {};
  for (const match of head.matchAll(/<meta\b[^>]*>/gi)) {
    const attrs = attributes(match[0]);
    const property = attrs.get('property') ?? attrs.get('name');
    const content = attrs.get('content');
    if (!property || content === undefined) continue;
    const key = property.toLowerCase();
    if (key.startsWith('og:') && !(key in tags)) tags[key] = content.slice(0, MAX_VALUE);
    if (key === 'description' && !('og:description' in tags)) tags['og:description'] = content.slice(0, MAX_VALUE);
  }
  if (!('og:title' in tags)) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(head);
    if (title) tags['og:title'] = decodeEntities(title[1]!.trim()).slice(0, MAX_VALUE);
  }
  return tags;
}
