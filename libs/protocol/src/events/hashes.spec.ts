import { createHash } from 'node:crypto';
import { canonicalJson } from '../json/canonical-json';
import { computeContentHash, computeEventId, computeReferenceHash, EventIdError, roomIdFromCreateEvent } from './hashes';

function sha256(text: string): Buffer {
  return createHash('sha256').update(Buffer.from(text, 'utf8')).digest();
}

const message = {
  room_id: '!r:a',
  sender: '@u:a',
  type: 'm.room.message',
  content: { body: 'hello' },
  origin: 'a',
  origin_server_ts: 1000,
  depth: 3,
  prev_events: ['$p'],
  auth_events: ['$c', '$m'],
  hashes: { sha256: 'abc' },
  signatures: { a: { 'ed25519:1': 'sig' } },
  unsigned: { age: 10 },
};

describe('event hashes and ids', () => {
  it('content hash covers everything but unsigned, signatures and hashes', () => {
    const expected = sha256(canonicalJson({ ...message, unsigned: undefined, signatures: undefined, hashes: undefined }));
    expect(Buffer.from(computeContentHash(message, '10')).equals(expected)).toBe(true);
    expect(Buffer.from(computeContentHash({ ...message, unsigned: { age: 99 }, hashes: {} }, '10')).equals(expected)).toBe(true);
    expect(Buffer.from(computeContentHash({ ...message, content: { body: 'x' } }, '10')).equals(expected)).toBe(false);
  });

  it('reference hash covers the redacted event without signatures and unsigned', () => {
    const redactedV10 = { room_id: '!r:a', sender: '@u:a', type: 'm.room.message', content: {}, origin: 'a', origin_server_ts: 1000, depth: 3, prev_events: ['$p'], auth_events: ['$c', '$m'], hashes: { sha256: 'abc' } };
    expect(Buffer.from(computeReferenceHash(message, '10')).equals(sha256(canonicalJson(redactedV10)))).toBe(true);
    const redactedV11 = { ...redactedV10, origin: undefined };
    expect(Buffer.from(computeReferenceHash(message, '11')).equals(sha256(canonicalJson(redactedV11)))).toBe(true);
    // the body and signatures do not change the reference hash; the content hash does
    const other = { ...message, content: { body: 'other' }, signatures: {} };
    expect(computeReferenceHash(other, '10')).toEqual(computeReferenceHash(message, '10'));
  });

  it('forms event ids per room version', () => {
    const hash = computeReferenceHash(message, '4');
    expect(computeEventId(message, '3')).toBe(`$${Buffer.from(computeReferenceHash(message, '3')).toString('base64').replace(/=+$/, '')}`);
    expect(computeEventId(message, '4')).toBe(`$${Buffer.from(hash).toString('base64url')}`);
    expect(computeEventId(message, '4')).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    expect(computeEventId({ ...message, event_id: '$given:a' }, '1')).toBe('$given:a');
    expect(() => computeEventId(message, '2')).toThrow(EventIdError);
  });

  it('makes v3 ids in the standard alphabet and v4 ids in the URL-safe one', () => {
    // search for an event whose hash has a + or / so the alphabets differ
    let i = 0;
    let ev = { ...message, depth: i };
    while (!/[+/]/.test(computeEventId(ev, '3'))) ev = { ...message, depth: ++i };
    const v3 = computeEventId(ev, '3');
    const v4 = computeEventId(ev, '4');
    expect(v4).toBe(v3.replace(/\+/g, '-').replace(/\//g, '_'));
    expect(v4).not.toBe(v3);
  });

  it('derives the room id of a room version 12 room from its create event', () => {
    const create = { sender: '@u:a', type: 'm.room.create', state_key: '', content: { room_version: '12' }, origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: { sha256: 'x' }, signatures: {} };
    const roomId = roomIdFromCreateEvent(create);
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    expect(roomId.slice(1)).toBe(computeEventId(create, '12').slice(1));
    expect(() => roomIdFromCreateEvent(create, '11')).toThrow(EventIdError);
  });
});
