/**
 * Media of other servers, fetched over federation (`GET /_matrix/federation/v1/media/download/
 * {mediaId}`, signed with X-Matrix) through the shared federation client. The answer is
 * untrusted: its size is capped, and anything but a well-formed two-part multipart/mixed body
 * counts as not found.
 */
import { FederationRequestError, type FederationClient } from '@hs/keys';
import type { RemoteMediaSource } from '../media.service';
import { decodeMediaMultipart } from './multipart';

export class FederationMediaSource implements RemoteMediaSource {
  constructor(
    private readonly client: Pick<FederationClient, 'request' | 'allows'>,
    private readonly timeoutMs = 20_000,
  ) {}

  async download(serverName: string, mediaId: string, maxBytes: number): Promise<{ bytes: Buffer; contentType: string; fileName?: string } | undefined> {
    if (!this.client.allows(serverName)) return undefined;
    try {
      const answer = await this.client.request(serverName, {
        method: 'GET',
        path: `/_matrix/federation/v1/media/download/${encodeURIComponent(mediaId)}`,
        responseType: 'bytes',
        maxResponseBytes: maxBytes + 64 * 1024,
        timeoutMs: this.timeoutMs,
      });
      if (!answer.bytes || !answer.contentType) return undefined;
      const decoded = decodeMediaMultipart(answer.contentType, answer.bytes);
      if (!decoded || decoded.bytes.length > maxBytes) return undefined;
      return { bytes: decoded.bytes, contentType: decoded.contentType, ...(decoded.fileName ? { fileName: decoded.fileName } : {}) };
    } catch (error) {
      if (error instanceof FederationRequestError) return undefined;
      throw error;
    }
  }
}
