/**
 * Media with a real client: matrix-js-sdk uploads a picture, sends it as an m.image, and the
 * other user downloads it and a thumbnail through the authenticated media URLs the SDK builds,
 * against the homeserver started as a process.
 */
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../support/client-script';
import { startServer, type TestServer } from './support/server';

interface MediaReport extends ClientReport {
  pictureSize: number;
  contentUri: string;
  receivedUrl: string;
  downloadUrl: string;
  download: { status: number; type: string; disposition: string; same: boolean };
  unauthenticatedStatus: number;
  thumbnailUrl: string;
  thumbnail: { status: number; type: string; width: number; height: number };
  config: Record<string, unknown>;
}

describe('media with matrix-js-sdk', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ logLevel: 'warn', env: { HS_MEDIA__MAX_UPLOAD_SIZE_BYTES: '8388608' } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('uploads a picture, sends it as m.image, and the other user downloads it and a thumbnail', async () => {
    const report = await runClientScript<MediaReport>(process.execPath, [join(__dirname, 'clients/js-sdk-media.mjs')], [server.url]);
    if (!report.ok) throw new Error(`the media flow failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
    expect(report.receivedUrl).toBe(report.contentUri);
    expect(report.contentUri).toMatch(new RegExp(`^mxc://${server.serverName.replace(/[.]/g, '\\.')}/`));
    expect(report.downloadUrl).toContain('/_matrix/client/v1/media/download/');
    expect(report.download).toEqual({ status: 200, type: 'image/png', disposition: 'inline; filename="sky.png"', same: true });
    expect(report.unauthenticatedStatus).toBe(401);
    expect(report.thumbnailUrl).toContain('/_matrix/client/v1/media/thumbnail/');
    expect(report.thumbnail).toEqual({ status: 200, type: 'image/png', width: 96, height: 96 });
    expect(report.config).toEqual({ 'm.upload.size': 8388608 });
  });
});
