/**
 * The content repository on the embedded database: facts in the media streams, the media
 * projection read through the read barrier, reserved ids, admin actions, rebuilds.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'slonik';
import sharp from 'sharp';
import { mediaStream } from '@hs/contracts';
import { PostgresEventStore, ProjectionRunner, ReadBarrier, processHorizon, rebuildProjection } from '@hs/eventstore';
import { migrate, openDatabase, type Database } from '@hs/persistence';
import { MediaProjector, getMedia } from '@hs/projections/media';
import { FilesystemMediaStorage, MediaError, MediaService, contentKey, sha256Hex, type MediaSettings } from '../src';

const SETTINGS: MediaSettings = {
  max_upload_size_bytes: 1024 * 1024,
  thumbnail_sizes: ['32x32 crop', '320x240 scale'],
  max_thumbnail_source_pixels: 10_000_000,
  legacy_unauthenticated_frozen_at_ms: null,
  max_pending_creates_per_user: 5,
  unused_expires_after_ms: 60_000,
  max_stall_ms: 1000,
};

async function rejection(promise: Promise<unknown>): Promise<MediaError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MediaError) return error;
    throw error;
  }
  throw new Error('expected a MediaError');
}

describe('MediaService', () => {
  let db: Database;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  let dir: string;
  let storage: FilesystemMediaStorage;
  let media: MediaService;
  let now = 1_700_000_000_000;
  const projector = new MediaProjector();

  beforeAll(async () => {
    db = await openDatabase({ maxConnections: 4 });
    await migrate(db);
    store = await PostgresEventStore.open(db);
    const barrier = new ReadBarrier(processHorizon(store), { maxWaitMs: 5000 });
    barrier.declare(projector.name);
    // The projector runs behind the store on purpose: reads must wait for it.
    runner = new ProjectionRunner(db, store, [projector], { onCheckpoint: (name, position) => barrier.advance(name, position) });
    await runner.start();
    dir = mkdtempSync(join(tmpdir(), 'hs-media-'));
    storage = new FilesystemMediaStorage(dir);
    media = new MediaService({ serverName: 'hs.test', settings: SETTINGS, store, pool: db.pool, storage, readBarrier: barrier, clock: () => now, stallPollMs: 20 });
  });
  afterAll(async () => {
    await runner.stop();
    await store.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const idOf = (uri: string) => uri.split('/').pop()!;

  it('records an upload as a fact that the metadata read sees at once', async () => {
    const { content_uri } = await media.upload({ userId: '@a:hs.test', bytes: Buffer.from('abc'), contentType: 'text/plain', fileName: 'a/../b.txt' });
    const mediaId = idOf(content_uri);
    // No wait here: the read barrier holds the read until the projection applied the upload.
    expect(await media.metadata('hs.test', mediaId)).toMatchObject({ userId: '@a:hs.test', contentType: 'text/plain', uploadName: 'a..b.txt', size: 3, sha256: sha256Hex(Buffer.from('abc')) });
    const [fact] = await store.readStream(mediaStream('hs.test', mediaId));
    expect(fact).toMatchObject({ type: 'MediaUploaded', data: { v: 1, media_id: mediaId, size: 3 } });
    expect((await media.download('hs.test', mediaId)).bytes.toString()).toBe('abc');
    // Content-addressed: the same bytes are stored once, and no temporary file is left.
    await media.upload({ userId: '@b:hs.test', bytes: Buffer.from('abc') });
    const key = contentKey(sha256Hex(Buffer.from('abc')));
    expect(readdirSync(join(dir, key, '..'))).toEqual([key.split('/').pop()]);
  });

  it('lets exactly one of two racing uploads fill a reserved id', async () => {
    const { content_uri } = await media.create('@a:hs.test');
    const mediaId = idOf(content_uri);
    const results = await Promise.allSettled([
      media.uploadTo('hs.test', mediaId, { userId: '@a:hs.test', bytes: Buffer.from('one') }),
      media.uploadTo('hs.test', mediaId, { userId: '@a:hs.test', bytes: Buffer.from('two') }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toMatchObject({ errcode: 'M_CANNOT_OVERWRITE_MEDIA', httpStatus: 409 });
    expect(['one', 'two']).toContain((await media.download('hs.test', mediaId)).bytes.toString());
  });

  it('expires reserved ids that were not uploaded in time', async () => {
    const { content_uri, unused_expires_at } = await media.create('@c:hs.test');
    expect(unused_expires_at).toBe(now + SETTINGS.unused_expires_after_ms);
    now += SETTINGS.unused_expires_after_ms + 1;
    expect((await rejection(media.uploadTo('hs.test', idOf(content_uri), { userId: '@c:hs.test', bytes: Buffer.from('late') }))).errcode).toBe('M_NOT_FOUND');
    expect((await rejection(media.download('hs.test', idOf(content_uri)))).errcode).toBe('M_NOT_FOUND');
  });

  it('quarantines and deletes, removing the file once nothing refers to it', async () => {
    const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } }).png().toBuffer();
    const first = idOf((await media.upload({ userId: '@a:hs.test', bytes, contentType: 'image/png' })).content_uri);
    const second = idOf((await media.upload({ userId: '@a:hs.test', bytes, contentType: 'image/png' })).content_uri);
    const thumb = await media.thumbnail('hs.test', first, { width: 30, height: 30, method: 'crop', animated: false });
    expect(await sharp(thumb.bytes).metadata()).toMatchObject({ width: 32, height: 32 });

    await media.quarantine('@admin:hs.test', 'hs.test', first);
    expect((await rejection(media.download('hs.test', first))).errcode).toBe('M_NOT_FOUND');
    expect((await rejection(media.thumbnail('hs.test', first, { width: 30, height: 30, method: 'crop', animated: false }))).errcode).toBe('M_NOT_FOUND');

    await media.delete('@admin:hs.test', 'hs.test', second);
    // The quarantined item still refers to the content: the file stays.
    expect(await storage.has(contentKey(sha256Hex(bytes)))).toBe(true);
    await media.delete('@admin:hs.test', 'hs.test', first);
    expect(await storage.has(contentKey(sha256Hex(bytes)))).toBe(false);
    expect((await media.listUserMedia('@a:hs.test', 100, 0)).filter((item) => item.mediaId === first)[0]).toMatchObject({ deleted: true, quarantinedBy: '@admin:hs.test' });
  });

  it('a rebuild of the projection gives the same rows', async () => {
    const rows = async () => db.pool.any(sql.unsafe`SELECT * FROM proj_media.media ORDER BY server_name, media_id`);
    const before = await rows();
    await rebuildProjection(db, store, projector, { batchSize: 3 });
    const after = await rows();
    expect(after.map((row) => ({ ...row, position: undefined }))).toEqual(before.map((row) => ({ ...row, position: undefined })));
    expect(await getMedia(db.pool, 'hs.test', 'unknown')).toBeUndefined();
  });
});
