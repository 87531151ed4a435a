/**
 * Content repository benchmark over real HTTP against the homeserver started as a process (its
 * `main`, a generated configuration, rate limits off, logging.level warn).
 *
 * The image: a BENCH_MB MB JPEG (default 4; noise, so that it does not compress, 2048 pixels
 * wide) made with sharp.
 *
 * 1. Upload: POST /_matrix/media/v3/upload of the JPEG, BENCH_UPLOADS times (default 20, each
 *    with one changed byte so that the content is new), one at a time: MB/s and p50/p99.
 * 2. Download: GET /_matrix/client/v1/media/download of one of them, BENCH_DOWNLOADS times
 *    (default 50), one at a time: MB/s and p50/p99.
 * 3. Thumbnails: GET /_matrix/client/v1/media/thumbnail, a size of each method (96x96 crop,
 *    320x240 scale, 640x480 scale), of BENCH_THUMBNAILS different uploads each (default 10):
 *    the first request of an image and size ("first"), then BENCH_WARM more (default 10,
 *    served from the store). p50/p95/p99 of both. By default the server makes the thumbnails
 *    in the background after each upload (media.pregenerate_thumbnails), so the first request
 *    finds them ready; with BENCH_PREGENERATE=0 it makes each on its first request, and
 *    "first" measures the generation.
 *
 * Latencies are measured by the benchmark's client, on the same 2-core machine as the server.
 *
 * Run: npm run bench:media (node -r ./test/support/register-ts.cjs bench/media/index.ts)
 *   BENCH_DATABASE_URL=postgres://…  PostgreSQL (a temporary database beside it), else PGlite
 *   BENCH_ENTRY=dist                 run the built server instead of the sources
 *   BENCH_PREGENERATE=0              thumbnails made on their first request (media.pregenerate_thumbnails false)
 */
import sharp from 'sharp';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { registerUser } from '@hs/testing';
import { startServer, type TestServer } from '../../test/e2e/support/server';

const MB = Number(process.env.BENCH_MB ?? 4);
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 20);
const DOWNLOADS = Number(process.env.BENCH_DOWNLOADS ?? 50);
const THUMBNAILS = Number(process.env.BENCH_THUMBNAILS ?? 10);
const WARM = Number(process.env.BENCH_WARM ?? 10);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** A JPEG of about `mb` MB: random pixels barely compress. */
async function makeJpeg(mb: number): Promise<Buffer> {
  const width = 2048;
  let height = Math.ceil((mb * 1024 * 1024) / (width * 1.6));
  for (;;) {
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i += 4) pixels.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i);
    const jpeg = await sharp(pixels.subarray(0, width * height * 3), { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
    if (jpeg.length >= mb * 1024 * 1024 * 0.95) return jpeg;
    height = Math.ceil(height * ((mb * 1024 * 1024) / jpeg.length) * 1.02);
  }
}

async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await action();
  return { ms: performance.now() - start, value };
}

async function main(): Promise<void> {
  let database: TemporaryDatabase | undefined;
  let server: TestServer | undefined;
  try {
    if (process.env.BENCH_DATABASE_URL) database = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_media');
    const pregenerate = process.env.BENCH_PREGENERATE !== '0';
    server = await startServer({
      databaseUrl: database?.url,
      entry: process.env.BENCH_ENTRY === 'dist' ? 'dist' : 'ts',
      logLevel: 'warn',
      env: { HS_MEDIA__PREGENERATE_THUMBNAILS: String(pregenerate) },
    });
    const user = await registerUser(server.url, 'bench');
    const auth = { authorization: `Bearer ${user.token}` };
    const jpeg = await makeJpeg(MB);
    const sizeMb = jpeg.length / (1024 * 1024);
    console.log(`image: ${jpeg.length} bytes JPEG (${sizeMb.toFixed(2)} MB), database: ${database ? 'PostgreSQL' : 'PGlite'}, thumbnails ${pregenerate ? 'made after each upload' : 'made on first request'}`);

    const upload = async (bytes: Buffer): Promise<string> => {
      const response = await fetch(new URL('/_matrix/media/v3/upload?filename=bench.jpg', server!.url), { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: bytes });
      if (response.status !== 200) throw new Error(`upload: HTTP ${response.status} ${await response.text()}`);
      return ((await response.json()) as { content_uri: string }).content_uri.split('/').pop()!;
    };
    const get = async (path: string): Promise<number> => {
      const response = await fetch(new URL(path, server!.url), { headers: auth });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${body.toString()}`);
      return body.length;
    };

    // 1. Uploads
    const ids: string[] = [];
    await upload(Buffer.concat([jpeg.subarray(0, -1), Buffer.from([0])]));
    const uploadMs: number[] = [];
    for (let i = 0; i < Math.max(UPLOADS, THUMBNAILS); i++) {
      const bytes = Buffer.from(jpeg);
      bytes.writeUInt32BE(i + 1, bytes.length - 6);
      const run = await timed(() => upload(bytes));
      ids.push(run.value);
      if (i < UPLOADS) uploadMs.push(run.ms);
    }
    const uploadTotal = uploadMs.reduce((a, b) => a + b, 0);
    console.log(`upload   ${UPLOADS} x ${sizeMb.toFixed(2)} MB: ${((UPLOADS * sizeMb) / (uploadTotal / 1000)).toFixed(1)} MB/s, p50 ${ms(percentile(uploadMs, 50))}, p99 ${ms(percentile(uploadMs, 99))}`);

    // 2. Downloads
    const downloadMs: number[] = [];
    const path = `/_matrix/client/v1/media/download/${server.serverName}/${ids[0]}`;
    await get(path);
    for (let i = 0; i < DOWNLOADS; i++) downloadMs.push((await timed(() => get(path))).ms);
    const downloadTotal = downloadMs.reduce((a, b) => a + b, 0);
    console.log(`download ${DOWNLOADS} x ${sizeMb.toFixed(2)} MB: ${((DOWNLOADS * sizeMb) / (downloadTotal / 1000)).toFixed(1)} MB/s, p50 ${ms(percentile(downloadMs, 50))}, p99 ${ms(percentile(downloadMs, 99))}`);

    // 3. Thumbnails
    const cold: number[] = [];
    const warm: number[] = [];
    for (const [width, height, method] of [
      [96, 96, 'crop'],
      [320, 240, 'scale'],
      [640, 480, 'scale'],
    ] as const) {
      for (const id of ids.slice(0, THUMBNAILS)) {
        const thumb = `/_matrix/client/v1/media/thumbnail/${server.serverName}/${id}?width=${width}&height=${height}&method=${method}`;
        cold.push((await timed(() => get(thumb))).ms);
        for (let i = 0; i < WARM; i++) warm.push((await timed(() => get(thumb))).ms);
      }
    }
    const all = [...cold, ...warm];
    console.log(`thumbnail first request ${cold.length}: p50 ${ms(percentile(cold, 50))}, p95 ${ms(percentile(cold, 95))}, p99 ${ms(percentile(cold, 99))}`);
    console.log(`thumbnail later requests ${warm.length}: p50 ${ms(percentile(warm, 50))}, p95 ${ms(percentile(warm, 95))}, p99 ${ms(percentile(warm, 99))}`);
    console.log(`thumbnail all requests ${all.length}: p99 ${ms(percentile(all, 99))}`);
  } finally {
    await server?.stop();
    await database?.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
