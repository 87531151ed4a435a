import { mediaStream, parseStreamName, receiptsStream, roomStream } from './streams';

describe('stream names', () => {
  it('names and parses room, receipts and media streams', () => {
    expect(parseStreamName(roomStream('!r:x'))).toEqual({ kind: 'room', roomId: '!r:x' });
    expect(parseStreamName(receiptsStream('!r:x'))).toEqual({ kind: 'receipts', roomId: '!r:x' });
    expect(mediaStream('example.org:8448', 'abcDEF_-1')).toBe('media-example.org:8448/abcDEF_-1');
    expect(parseStreamName('media-example.org:8448/abcDEF_-1')).toEqual({ kind: 'media', serverName: 'example.org:8448', mediaId: 'abcDEF_-1' });
    expect(parseStreamName('media-example.org/a/b')).toBeUndefined();
    expect(parseStreamName('media-/a')).toBeUndefined();
    expect(() => mediaStream('example.org', 'a/b')).toThrow(TypeError);
    expect(() => mediaStream('', 'a')).toThrow(TypeError);
  });
});
