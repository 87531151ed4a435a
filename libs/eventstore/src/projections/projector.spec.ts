import { selectEvents, type Projector } from './projector';
import type { RecordedEvent } from '../types';

const event = (position: number, type: string, stream: string): RecordedEvent => ({
  id: `e${position}`,
  stream,
  revision: BigInt(position),
  position: BigInt(position),
  type,
  data: {},
  metadata: null,
  recordedAt: new Date(0),
});

const batch = [event(1, 'a', 'room-1'), event(2, 'b', 'receipts-1'), event(3, 'a', 'receipts-1'), event(4, 'c', 'room-2')];

const projector = (eventTypes: Projector['eventTypes'], wants?: Projector['wants']): Projector => ({
  name: 'p',
  version: 1,
  eventTypes,
  ...(wants ? { wants } : {}),
  handle: async () => undefined,
});

describe('selectEvents', () => {
  it('keeps the event types asked for, all of them with *', () => {
    expect(selectEvents(projector(['a']), batch).map((e) => e.id)).toEqual(['e1', 'e3']);
    expect(selectEvents(projector('*'), batch)).toHaveLength(4);
  });

  it('narrows the selection with wants', () => {
    const rooms = (e: RecordedEvent) => e.stream.startsWith('room-');
    expect(selectEvents(projector('*', rooms), batch).map((e) => e.id)).toEqual(['e1', 'e4']);
    expect(selectEvents(projector(['a'], rooms), batch).map((e) => e.id)).toEqual(['e1']);
  });
});
