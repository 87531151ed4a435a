/**
 * The content repository over real HTTP: uploads (direct and to a reserved media id),
 * downloads and thumbnails on the authenticated and legacy paths, headers, errors, the
 * freeze of the unauthenticated paths and the admin actions. JSON answers are checked against
 * content-repo.yaml and authed-content-repo.yaml.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { UserService } from '@hs/accounts';
import { assertMatchesSpec, call, registerUser, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

type Json = Record<string, unknown>;

async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
}

interface Raw {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json(): Json;
}

async function request(base: string, method: string, path: string, options: { token?: string; body?: Buffer | string; type?: string; query?: Record<string, string> } = {}): Promise<Raw> {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.type) headers['content-type'] = options.type;
  const response = await fetch(url, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Json };
}

function expectError(reply: Raw, status: number, errcode: string): void {
  const body = reply.json();
  expect({ status: reply.status, errcode: body.errcode, error: typeof body.error }).toEqual({ status, errcode, error: 'string' });
}

describe('content repository', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    hs = await startInProcess({
      postgresFromEnv: true,
      env: { HS_LOGGING__LEVEL: 'silent', HS_MEDIA__MAX_UPLOAD_SIZE_BYTES: String(2 * 1024 * 1024), HS_MEDIA__MAX_PENDING_CREATES_PER_USER: '3' },
    });
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
  });
  afterAll(async () => {
    await hs?.close();
  });

  async function upload(body: Buffer | string, type: string, fileName?: string): Promise<string> {
    const reply = await request(hs.url, 'POST', '/_matrix/media/v3/upload', { token: alice.token, body, type, ...(fileName !== undefined ? { query: { filename: fileName } } : {}) });
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.json(), { api: 'client-server', file: 'content-repo.yaml', path: '/media/v3/upload', method: 'post', status: 200 });
    const uri = reply.json().content_uri as string;
    expect(uri).toMatch(new RegExp(`^mxc://${hs.serverName}/[A-Za-z0-9]+$`));
    return uri.slice(`mxc://${hs.serverName}/`.length);
  }

  it('uploads and downloads on the authenticated and legacy paths, with the headers the spec asks for', async () => {
    const mediaId = await upload('hello, world', 'text/plain', 'greeting.txt');
    // Read right after the upload: the metadata read model has applied it (read barrier).
    const authed = await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: bob.token });
    expect(authed.status).toBe(200);
    expect(authed.bytes.toString()).toBe('hello, world');
    expect(authed.headers.get('content-type')).toBe('text/plain');
    expect(authed.headers.get('content-disposition')).toBe('inline; filename="greeting.txt"');
    expect(authed.headers.get('content-security-policy')).toContain('sandbox');
    expect(authed.headers.get('cross-origin-resource-policy')).toBe('cross-origin');

    const legacy = await request(hs.url, 'GET', `/_matrix/media/v3/download/${hs.serverName}/${mediaId}/other.txt`);
    expect(legacy.status).toBe(200);
    expect(legacy.headers.get('content-disposition')).toBe('inline; filename="other.txt"');
  });

  it('sends unsafe types as attachments and non-ASCII names in the RFC 6266 form', async () => {
    const mediaId = await upload('<script>alert(1)</script>', 'text/html', '☕ café.html');
    const reply = await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: bob.token });
    expect(reply.headers.get('content-type')).toBe('text/html');
    expect(reply.headers.get('content-disposition')).toBe("attachment; filename*=utf-8''%E2%98%95%20caf%C3%A9.html");
  });

  it('asks for an access token on the authenticated paths', async () => {
    const mediaId = await upload('x', 'text/plain');
    expectError(await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`), 401, 'M_MISSING_TOKEN');
    expectError(await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: 'nope' }), 401, 'M_UNKNOWN_TOKEN');
    expectError(await request(hs.url, 'POST', '/_matrix/media/v3/upload', { body: 'x', type: 'text/plain' }), 401, 'M_MISSING_TOKEN');
  });

  it('answers the configuration', async () => {
    for (const path of ['/_matrix/client/v1/media/config', '/_matrix/media/v3/config']) {
      const reply = await request(hs.url, 'GET', path, { token: alice.token });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ 'm.upload.size': 2 * 1024 * 1024 });
    }
    assertMatchesSpec((await request(hs.url, 'GET', '/_matrix/client/v1/media/config', { token: alice.token })).json(), {
      api: 'client-server',
      file: 'authed-content-repo.yaml',
      path: '/media/config',
      method: 'get',
      status: 200,
    });
  });

  it('refuses uploads over the configured size with 413 M_TOO_LARGE', async () => {
    const reply = await request(hs.url, 'POST', '/_matrix/media/v3/upload', { token: alice.token, body: Buffer.alloc(2 * 1024 * 1024 + 1), type: 'application/octet-stream' });
    expectError(reply, 413, 'M_TOO_LARGE');
    // Uploads larger than the JSON body limit but within the media limit are fine.
    await upload(Buffer.alloc(1024 * 1024 + 5, 7), 'application/octet-stream');
  });

  it('answers 404 M_NOT_FOUND for unknown media', async () => {
    expectError(await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/doesNotExist`, { token: bob.token }), 404, 'M_NOT_FOUND');
    expectError(await request(hs.url, 'GET', `/_matrix/media/v3/download/${hs.serverName}/bad..id`), 404, 'M_NOT_FOUND');
    expectError(await request(hs.url, 'GET', '/_matrix/client/v1/media/download/other.example/abc', { token: bob.token }), 404, 'M_NOT_FOUND');
    // A server name PostgreSQL text cannot hold, or that is no server name: not found, never a 500.
    expectError(await request(hs.url, 'GET', '/_matrix/client/v1/media/download/a%00b/abc', { token: bob.token }), 404, 'M_NOT_FOUND');
    expectError(await request(hs.url, 'GET', '/_matrix/media/v3/thumbnail/a%00b/abc', { query: { width: '32', height: '32' } }), 404, 'M_NOT_FOUND');
    expectError(await request(hs.url, 'GET', '/_matrix/client/v1/media/download/not%20a%20server/abc', { token: bob.token }), 404, 'M_NOT_FOUND');
  });

  it('makes thumbnails of the configured sizes (crop and scale) and keeps them', async () => {
    const mediaId = await upload(await png(1000, 500), 'image/png', 'wide.png');
    const path = `/_matrix/client/v1/media/thumbnail/${hs.serverName}/${mediaId}`;
    const crop = await request(hs.url, 'GET', path, { token: bob.token, query: { width: '90', height: '90', method: 'crop' } });
    expect(crop.status).toBe(200);
    expect(crop.headers.get('content-type')).toBe('image/png');
    expect(await sharp(crop.bytes).metadata()).toMatchObject({ width: 96, height: 96 });
    const scale = await request(hs.url, 'GET', path, { token: bob.token, query: { width: '300', height: '200', method: 'scale' } });
    expect(await sharp(scale.bytes).metadata()).toMatchObject({ width: 320, height: 160 });
    const again = await request(hs.url, 'GET', `/_matrix/media/v3/thumbnail/${hs.serverName}/${mediaId}`, { query: { width: '300', height: '200', method: 'scale' } });
    expect(again.bytes.equals(scale.bytes)).toBe(true);

    expectError(await request(hs.url, 'GET', path, { token: bob.token, query: { width: '-1', height: '10' } }), 400, 'M_INVALID_PARAM');
    expectError(await request(hs.url, 'GET', path, { token: bob.token, query: { width: '10', height: '10', method: 'stretch' } }), 400, 'M_INVALID_PARAM');
    expectError(await request(hs.url, 'GET', path, { token: bob.token, query: { height: '10' } }), 400, 'M_MISSING_PARAM');
  });

  it('thumbnails JPEG, GIF and WebP, and refuses what is not an image', async () => {
    const source = sharp({ create: { width: 400, height: 400, channels: 3, background: '#336699' } });
    for (const [type, bytes] of [
      ['image/jpeg', await source.clone().jpeg().toBuffer()],
      ['image/gif', await source.clone().gif().toBuffer()],
      ['image/webp', await source.clone().webp().toBuffer()],
    ] as const) {
      const mediaId = await upload(bytes, type);
      const reply = await request(hs.url, 'GET', `/_matrix/client/v1/media/thumbnail/${hs.serverName}/${mediaId}`, { token: bob.token, query: { width: '32', height: '32', method: 'crop' } });
      expect(reply.status).toBe(200);
      expect(await sharp(reply.bytes).metadata()).toMatchObject({ width: 32, height: 32 });
    }
    const text = await upload('not an image', 'text/plain');
    const reply = await request(hs.url, 'GET', `/_matrix/client/v1/media/thumbnail/${hs.serverName}/${text}`, { token: bob.token, query: { width: '32', height: '32' } });
    expect(reply.status).toBe(400);
    const broken = await upload('not a png at all', 'image/png');
    expect((await request(hs.url, 'GET', `/_matrix/client/v1/media/thumbnail/${hs.serverName}/${broken}`, { token: bob.token, query: { width: '32', height: '32' } })).status).toBe(400);
  });

  it('reserves a media id, lets only its creator upload once, and makes downloads wait for it', async () => {
    const created = await request(hs.url, 'POST', '/_matrix/media/v1/create', { token: alice.token });
    expect(created.status).toBe(200);
    assertMatchesSpec(created.json(), { api: 'client-server', file: 'content-repo.yaml', path: '/media/v1/create', method: 'post', status: 200 });
    const mediaId = (created.json().content_uri as string).split('/').pop()!;
    const put = (user: TestUser, body: string) =>
      request(hs.url, 'PUT', `/_matrix/media/v3/upload/${hs.serverName}/${mediaId}`, { token: user.token, body, type: 'text/plain', query: { filename: 'late.txt' } });

    const early = await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: bob.token, query: { timeout_ms: '50' } });
    expectError(early, 504, 'M_NOT_YET_UPLOADED');

    const waiting = request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: bob.token, query: { timeout_ms: '10000' } });
    expectError(await put(bob, 'intruder'), 403, 'M_FORBIDDEN');
    const first = await put(alice, 'finally');
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({});
    expectError(await put(alice, 'again'), 409, 'M_CANNOT_OVERWRITE_MEDIA');
    const downloaded = await waiting;
    expect(downloaded.status).toBe(200);
    expect(downloaded.bytes.toString()).toBe('finally');
    expect(downloaded.headers.get('content-disposition')).toBe('inline; filename="late.txt"');
  });

  it('lets server admins quarantine, delete and list media, and nobody else', async () => {
    const admin = await registerUser(hs.url, 'media-admin');
    await hs.server.clientApp.get(UserService).setAdmin(admin.userId, true);
    const [one, two, three] = [await upload('one', 'text/plain'), await upload('two', 'text/plain'), await upload(await png(10, 10), 'image/png')];
    const admin1 = `/_synapse/admin/v1`;
    expectError(await request(hs.url, 'POST', `${admin1}/media/quarantine/${hs.serverName}/${one}`, { token: bob.token }), 403, 'M_FORBIDDEN');
    expect((await request(hs.url, 'POST', `${admin1}/media/quarantine/${hs.serverName}/${one}`, { token: admin.token })).status).toBe(200);
    expectError(await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${one}`, { token: bob.token }), 404, 'M_NOT_FOUND');
    expectError(await request(hs.url, 'GET', `/_matrix/media/v3/download/${hs.serverName}/${one}`), 404, 'M_NOT_FOUND');

    expect((await request(hs.url, 'DELETE', `${admin1}/media/${hs.serverName}/${two}`, { token: admin.token })).json()).toEqual({ deleted_media: [two], total: 1 });
    expectError(await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${two}`, { token: bob.token }), 404, 'M_NOT_FOUND');

    const listed = await request(hs.url, 'GET', `${admin1}/users/${encodeURIComponent(alice.userId)}/media`, { token: admin.token, query: { limit: '1000' } });
    const media = listed.json().media as Array<Record<string, unknown>>;
    expect(media.find((item) => item.media_id === one)).toMatchObject({ quarantined_by: admin.userId, deleted: false, media_type: 'text/plain', media_length: 3 });
    expect(media.find((item) => item.media_id === two)).toMatchObject({ deleted: true });

    // Every item a room's events refer to.
    const room = await call<Json>(hs.url, 'POST', 'createRoom', { token: alice.token, body: {} });
    const roomId = room.body.room_id as string;
    const sent = await call<Json>(hs.url, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/q1`, {
      token: alice.token,
      body: { msgtype: 'm.image', body: 'x.png', url: `mxc://${hs.serverName}/${three}` },
    });
    expect(sent.status).toBe(200);
    const quarantined = await request(hs.url, 'POST', `${admin1}/room/${encodeURIComponent(roomId)}/media/quarantine`, { token: admin.token });
    expect(quarantined.json()).toEqual({ num_quarantined: 1 });
    expect((await request(hs.url, 'GET', `/_matrix/media/v3/thumbnail/${hs.serverName}/${three}`, { query: { width: '32', height: '32' } })).status).toBe(404);
  });

  it('has URL previews off by default', async () => {
    expectError(await request(hs.url, 'GET', '/_matrix/client/v1/media/preview_url', { token: alice.token, query: { url: 'https://example.org/' } }), 404, 'M_UNRECOGNIZED');
  });

  it('limits the media ids a user holds reserved', async () => {
    const carol = await registerUser(hs.url, 'carol');
    for (let i = 0; i < 3; i++) expect((await request(hs.url, 'POST', '/_matrix/media/v1/create', { token: carol.token })).status).toBe(200);
    expectError(await request(hs.url, 'POST', '/_matrix/media/v1/create', { token: carol.token }), 429, 'M_LIMIT_EXCEEDED');
  });
});

describe('content repository with the unauthenticated paths frozen', () => {
  let hs: InProcessServer;
  beforeAll(async () => {
    hs = await startInProcess({ env: { HS_LOGGING__LEVEL: 'silent', HS_MEDIA__LEGACY_UNAUTHENTICATED_FROZEN_AT_MS: String(Date.now() - 1000) } });
  });
  afterAll(async () => {
    await hs?.close();
  });

  it('serves media uploaded after the freeze on the authenticated paths only', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const uploaded = await call<Json>(hs.url, 'POST', '/_matrix/media/v3/upload', { token: alice.token, raw: 'after the freeze' });
    const mediaId = (uploaded.body.content_uri as string).split('/').pop()!;
    expectError(await request(hs.url, 'GET', `/_matrix/media/v3/download/${hs.serverName}/${mediaId}`), 404, 'M_NOT_FOUND');
    expect((await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: alice.token })).status).toBe(200);
  });
});

describe('URL previews', () => {
  let hs: InProcessServer;
  let site: Server;
  let siteUrl: string;
  let image: Buffer;

  beforeAll(async () => {
    image = await png(279, 129);
    site = createServer((req, res) => {
      if (req.url === '/page.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<html><head><title>Ignored &amp; title</title>
          <meta property="og:title" content="The Rock &amp; co" /><meta property="og:type" content="video.movie" />
          <meta property="og:image" content="/pic.png" /><meta name="description" content="A film"></head><body></body></html>`);
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/page.html' });
        res.end();
      } else if (req.url === '/pic.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(image);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    hs = await startInProcess({ env: { HS_LOGGING__LEVEL: 'silent', HS_MEDIA__URL_PREVIEW__ENABLED: 'true', HS_MEDIA__URL_PREVIEW__IP_DENY_LIST: '["10.0.0.0/8"]' } });
  });
  afterAll(async () => {
    await hs?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  it('answers the OpenGraph tags, following redirects, with the image stored as media', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const reply = await request(hs.url, 'GET', '/_matrix/client/v1/media/preview_url', { token: alice.token, query: { url: `${siteUrl}/moved` } });
    expect(reply.status).toBe(200);
    const body = reply.json();
    assertMatchesSpec(body, { api: 'client-server', file: 'authed-content-repo.yaml', path: '/media/preview_url', method: 'get', status: 200 });
    expect(body).toMatchObject({
      'og:title': 'The Rock & co',
      'og:type': 'video.movie',
      'og:description': 'A film',
      'og:image:type': 'image/png',
      'og:image:width': 279,
      'og:image:height': 129,
      'matrix:image:size': image.length,
    });
    const mediaId = (body['og:image'] as string).split('/').pop()!;
    const stored = await request(hs.url, 'GET', `/_matrix/client/v1/media/download/${hs.serverName}/${mediaId}`, { token: alice.token });
    expect(stored.bytes.equals(image)).toBe(true);
    expectError(await request(hs.url, 'GET', '/_matrix/media/v3/preview_url', { token: alice.token, query: { url: 'ftp://example.org/' } }), 400, 'M_INVALID_PARAM');
  });

  it('never fetches from the default deny list (loopback)', async () => {
    const other = await startInProcess({ env: { HS_LOGGING__LEVEL: 'silent', HS_MEDIA__URL_PREVIEW__ENABLED: 'true' } });
    try {
      const bob = await registerUser(other.url, 'bob');
      expectError(await request(other.url, 'GET', '/_matrix/client/v1/media/preview_url', { token: bob.token, query: { url: `${siteUrl}/page.html` } }), 403, 'M_FORBIDDEN');
      expectError(await request(other.url, 'GET', '/_matrix/client/v1/media/preview_url', { token: bob.token, query: { url: `http://localhost:${new URL(siteUrl).port}/page.html` } }), 403, 'M_FORBIDDEN');
    } finally {
      await other.close();
    }
  });
});
