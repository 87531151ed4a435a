/**
 * Names of the event-store streams. Every room has one stream of accepted room events
 * (`room-<roomId>`) and one of receipts (`receipts-<roomId>`); every media item has one
 * (`media-<serverName>/<mediaId>`), every user one of push rules and pushers (`push-<userId>`);
 * admin and moderation actions go to the `audit` stream, reports of events, rooms and users to
 * the `reports` stream.
 */
export const ROOM_STREAM_PREFIX = 'room-';
export const RECEIPTS_STREAM_PREFIX = 'receipts-';
export const MEDIA_STREAM_PREFIX = 'media-';
export const PUSH_STREAM_PREFIX = 'push-';
export const AUDIT_STREAM = 'audit';
export const REPORTS_STREAM = 'reports';

export type StreamName =
  | { kind: 'room'; roomId: string }
  | { kind: 'receipts'; roomId: string }
  | { kind: 'media'; serverName: string; mediaId: string }
  | { kind: 'push'; userId: string }
  | { kind: 'audit' }
  | { kind: 'reports' };

/** The stream of a room's accepted events. */
export function roomStream(roomId: string): string {
  return `${ROOM_STREAM_PREFIX}${requireRoomId(roomId)}`;
}

/** The stream of a room's receipts. */
export function receiptsStream(roomId: string): string {
  return `${RECEIPTS_STREAM_PREFIX}${requireRoomId(roomId)}`;
}

/** The stream of a media item (`mxc://<serverName>/<mediaId>`). */
export function mediaStream(serverName: string, mediaId: string): string {
  if (serverName.length === 0 || serverName.includes('/') || mediaId.length === 0 || mediaId.includes('/')) {
    throw new TypeError(`not a media item: ${JSON.stringify(`${serverName}/${mediaId}`)}`);
  }
  return `${MEDIA_STREAM_PREFIX}${serverName}/${mediaId}`;
}

/** The stream of a user's push rules and pushers. */
export function pushStream(userId: string): string {
  if (!userId.startsWith('@') || userId.length < 2) throw new TypeError(`not a user id: ${JSON.stringify(userId)}`);
  return `${PUSH_STREAM_PREFIX}${userId}`;
}

/** What a stream name refers to, or `undefined` for a name that is none of ours. */
export function parseStreamName(stream: string): StreamName | undefined {
  if (stream === AUDIT_STREAM) return { kind: 'audit' };
  if (stream === REPORTS_STREAM) return { kind: 'reports' };
  if (stream.startsWith(ROOM_STREAM_PREFIX)) {
    const roomId = stream.slice(ROOM_STREAM_PREFIX.length);
    return isRoomId(roomId) ? { kind: 'room', roomId } : undefined;
  }
  if (stream.startsWith(RECEIPTS_STREAM_PREFIX)) {
    const roomId = stream.slice(RECEIPTS_STREAM_PREFIX.length);
    return isRoomId(roomId) ? { kind: 'receipts', roomId } : undefined;
  }
  if (stream.startsWith(MEDIA_STREAM_PREFIX)) {
    const [serverName, mediaId, ...rest] = stream.slice(MEDIA_STREAM_PREFIX.length).split('/');
    return serverName && mediaId && rest.length === 0 ? { kind: 'media', serverName, mediaId } : undefined;
  }
  if (stream.startsWith(PUSH_STREAM_PREFIX)) {
    const userId = stream.slice(PUSH_STREAM_PREFIX.length);
    return userId.startsWith('@') && userId.length > 1 ? { kind: 'push', userId } : undefined;
  }
  return undefined;
}

function isRoomId(roomId: string): boolean {
  return roomId.startsWith('!') && roomId.length > 1;
}

function requireRoomId(roomId: string): string {
  if (!isRoomId(roomId)) throw new TypeError(`not a room id: ${JSON.stringify(roomId)}`);
  return roomId;
}
