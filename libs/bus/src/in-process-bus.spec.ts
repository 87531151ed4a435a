import { InProcessBus } from './in-process-bus';

describe('InProcessBus', () => {
  it('delivers copies of each message to every subscriber in order, one handler call at a time', async () => {
    const bus = new InProcessBus();
    const seen: Array<{ key: string; n: number; origin: string }> = [];
    let running = 0;
    let most = 0;
    await bus.subscribe<{ n: number }>('t', async (message) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push({ key: message.key, n: message.value.n, origin: message.origin });
      running -= 1;
    });
    const value = { n: 0 };
    await bus.publish('t', 'a', value);
    value.n = 99;
    await bus.publish('t', 'b', { n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([
      { key: 'a', n: 0, origin: bus.processId },
      { key: 'b', n: 1, origin: bus.processId },
    ]);
    expect(most).toBe(1);
    await bus.close();
  });

  it('goes on after a handler throws, reporting the error', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus((_topic, error) => errors.push(error));
    const seen: number[] = [];
    const stop = await bus.consume<{ n: number }>('t', 'group', (message) => {
      if (message.value.n === 1) throw new Error('bad');
      seen.push(message.value.n);
    });
    for (const n of [0, 1, 2]) await bus.publish('t', 'k', { n });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([0, 2]);
    expect(errors).toHaveLength(1);
    await stop();
    await bus.publish('t', 'k', { n: 3 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([0, 2]);
    await bus.close();
  });
});
