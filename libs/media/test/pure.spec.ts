/** The pure parts of the content repository: headers, file names, thumbnail sizes, IP ranges, OpenGraph tags, storage keys. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FilesystemMediaStorage,
  chooseThumbnailSize,
  contentDisposition,
  decodeMediaMultipart,
  dispositionFileName,
  encodeMediaMultipart,
  inRanges,
  normaliseContentType,
  openGraphTags,
  parseCidr,
  parseThumbnailSizes,
  safeFileName,
} from '../src';

describe('Content-Disposition', () => {
  it('shows safe types inline and everything else as an attachment', () => {
    expect(contentDisposition('image/png', 'cat.png')).toBe('inline; filename="cat.png"');
    expect(contentDisposition('text/plain; charset=utf-8', undefined)).toBe('inline');
    expect(contentDisposition('text/html', 'x.html')).toBe('attachment; filename="x.html"');
    expect(contentDisposition('image/svg+xml', 'x.svg')).toBe('attachment; filename="x.svg"');
    expect(contentDisposition('application/octet-stream', 'name;with;semicolons')).toBe('attachment; filename="name;with;semicolons"');
    expect(contentDisposition('application/pdf', 'quote"back\\slash')).toBe('attachment; filename="quote\\"backslash"');
  });

  it('writes non-ASCII names as RFC 8187 ext-values', () => {
    expect(contentDisposition('image/png', '☕.png')).toBe("inline; filename*=utf-8''%E2%98%95.png");
    expect(contentDisposition('image/png', 'a b\u00e9')).toBe("inline; filename*=utf-8''a%20b%C3%A9");
  });

  it('strips path separators and control characters from file names and limits their length', () => {
    expect(safeFileName('../../etc/passwd')).toBe('....etcpasswd');
    expect(safeFileName('a\r\nb\u0000c')).toBe('abc');
    expect(safeFileName('  ')).toBeUndefined();
    expect(Buffer.byteLength(safeFileName('é'.repeat(300))!, 'utf8')).toBeLessThanOrEqual(255);
  });

  it('keeps well-formed content types and replaces the rest', () => {
    expect(normaliseContentType('image/png')).toBe('image/png');
    expect(normaliseContentType('text/plain; charset=utf-8')).toBe('text/plain; charset=utf-8');
    expect(normaliseContentType(undefined)).toBe('application/octet-stream');
    expect(normaliseContentType('not a type')).toBe('application/octet-stream');
    expect(normaliseContentType('text/plain\r\nX-Evil: 1')).toBe('application/octet-stream');
  });
});

describe('thumbnail sizes', () => {
  const sizes = parseThumbnailSizes(['32x32 crop', '96x96 crop', '320x240 scale', '640x480 scale']);
  it('picks the smallest size of the method at least as large as asked, else the largest', () => {
    expect(chooseThumbnailSize(sizes, 10, 10, 'crop')).toEqual({ width: 32, height: 32, method: 'crop' });
    expect(chooseThumbnailSize(sizes, 50, 33, 'crop')).toEqual({ width: 96, height: 96, method: 'crop' });
    expect(chooseThumbnailSize(sizes, 400, 100, 'scale')).toEqual({ width: 640, height: 480, method: 'scale' });
    expect(chooseThumbnailSize(sizes, 4000, 4000, 'scale')).toEqual({ width: 640, height: 480, method: 'scale' });
    expect(chooseThumbnailSize(parseThumbnailSizes(['100x100 scale']), 10, 10, 'crop')).toEqual({ width: 100, height: 100, method: 'scale' });
  });
});

describe('IP ranges', () => {
  const denied = ['127.0.0.0/8', '10.0.0.0/8', '::1/128', 'fc00::/7', '169.254.0.0/16'].map(parseCidr);
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
    expect(inRanges('127.0.0.1', denied)).toBe(true);
    expect(inRanges('10.200.1.1', denied)).toBe(true);
    expect(inRanges('11.0.0.1', denied)).toBe(false);
    expect(inRanges('::1', denied)).toBe(true);
    expect(inRanges('fd12:3456::1', denied)).toBe(true);
    expect(inRanges('2001:4860::8888', denied)).toBe(false);
    expect(inRanges('::ffff:127.0.0.1', denied)).toBe(true);
    expect(inRanges('::ffff:8.8.8.8', denied)).toBe(false);
    expect(inRanges('not an address', denied)).toBe(true);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(TypeError);
  });
});

describe('OpenGraph tags', () => {
  it('reads og: properties, entities, and falls back to the title and description', () => {
    const html = `<html><head><title>Page &amp; title</title><meta name="description" content='Desc'>
      <meta property="og:type" content="website"><meta content="&#x2603; snow" property="og:site_name"/></head></html>`;
    expect(openGraphTags(html)).toEqual({ 'og:type': 'website', 'og:site_name': '☃ snow', 'og:description': 'Desc', 'og:title': 'Page & title' });
  });
});

describe('FilesystemMediaStorage', () => {
  it('writes through a temporary file, reads back, deletes folders, and refuses keys outside its root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-media-store-'));
    try {
      const storage = new FilesystemMediaStorage(dir);
      await storage.put('thumbnails/ab/abc/1x1-crop.png', Buffer.from('x'));
      expect(readdirSync(join(dir, 'thumbnails/ab/abc'))).toEqual(['1x1-crop.png']);
      expect((await storage.get('thumbnails/ab/abc/1x1-crop.png'))?.toString()).toBe('x');
      expect(await storage.get('thumbnails/ab/abc/none.png')).toBeUndefined();
      await storage.delete('thumbnails/ab/abc');
      expect(await storage.has('thumbnails/ab/abc/1x1-crop.png')).toBe(false);
      await expect(storage.put('content/../../escape', Buffer.from('x'))).rejects.toThrow(TypeError);
      await expect(storage.get('/etc/passwd')).rejects.toThrow(TypeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('multipart/mixed media answers', () => {
  it('round-trips the content, type and file name, and refuses what is not two inline parts', () => {
    const bytes = Buffer.from([0, 1, 2, 13, 10, 45, 45, 255]);
    const answer = encodeMediaMultipart({ bytes, contentType: 'image/png', disposition: contentDisposition('image/png', 'café.png') });
    expect(decodeMediaMultipart(answer.contentType, answer.body)).toEqual({ metadata: {}, bytes, contentType: 'image/png', fileName: 'café.png' });
    expect(decodeMediaMultipart('application/json', answer.body)).toBeUndefined();
    const boundary = 'b0undary';
    const withLocation = Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${boundary}\r\nLocation: https://example.org/x\r\n\r\n\r\n--${boundary}--\r\n`);
    expect(decodeMediaMultipart(`multipart/mixed; boundary=${boundary}`, withLocation)).toBeUndefined();
    expect(decodeMediaMultipart(`multipart/mixed; boundary=${boundary}`, Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\nnot json`))).toBeUndefined();
    expect(dispositionFileName('attachment; filename="a \\"b\\".txt"')).toBe('a "b".txt');
  });
});
