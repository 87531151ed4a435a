/**
 * Media across two federating instances: a user of B downloads A's media and a thumbnail of
 * it; B fetches it from A over `/_matrix/federation/v1/media/download` (X-Matrix signed,
 * multipart/mixed), caches it, and keeps serving it when A is gone. A's federation media
 * endpoints refuse unsigned requests.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import sharp from 'sharp';
import { TestUser, useFederatedPair, type FederatedInstance } from './support/instances';

async function get(instance: FederatedInstance, path: string, token?: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(`${instance.server.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('media over federation', () => {
  const pair = useFederatedPair();

  it('a remote user downloads and thumbnails media of another server, cached once fetched', async () => {
    const { a, b } = pair;
    const alice = await TestUser.register(a, 'alice');
    const bob = await TestUser.register(b, 'bob');
    const picture = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#884422' } }).png().toBuffer();
    const uploaded = await fetch(`${a.server.url}/_matrix/media/v3/upload?filename=${encodeURIComponent('café.png')}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Type': 'image/png' },
      body: picture,
    });
    expect(uploaded.status).toBe(200);
    const mediaId = ((await uploaded.json()) as { content_uri: string }).content_uri.split('/').pop()!;
    const bobToken = bob.accessToken;

    // allow_remote=false: not fetched while B does not have it.
    expect((await get(b, `/_matrix/media/v3/download/${a.name}/${mediaId}?allow_remote=false`)).status).toBe(404);

    const download = await get(b, `/_matrix/client/v1/media/download/${a.name}/${mediaId}`, bobToken);
    expect(download.status).toBe(200);
    expect(download.type).toBe('image/png');
    expect(download.bytes.equals(picture)).toBe(true);

    const thumbnail = await get(b, `/_matrix/client/v1/media/thumbnail/${a.name}/${mediaId}?width=32&height=32&method=crop`, bobToken);
    expect(thumbnail.status).toBe(200);
    expect(await sharp(thumbnail.bytes).metadata()).toMatchObject({ width: 32, height: 32 });

    // Unknown media of A is 404 on B too.
    expect((await get(b, `/_matrix/client/v1/media/download/${a.name}/unknownMedia`, bobToken)).status).toBe(404);

    // A's federation endpoint wants an X-Matrix signature.
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    const unsigned = await undiciFetch(`https://127.0.0.1:${a.port}/_matrix/federation/v1/media/download/${mediaId}`, { dispatcher: insecure });
    expect(unsigned.status).toBe(401);
    await insecure.close();

    // B cached it: served after A is gone.
    await a.server.close();
    const cached = await get(b, `/_matrix/client/v1/media/download/${a.name}/${mediaId}`, bobToken);
    expect(cached.status).toBe(200);
    expect(cached.bytes.equals(picture)).toBe(true);
    expect((await get(b, `/_matrix/media/v3/download/${a.name}/${mediaId}?allow_remote=false`)).bytes.equals(picture)).toBe(true);
  }, 120_000);
});
