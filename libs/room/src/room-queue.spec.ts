import { RoomQueue } from './room-queue';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RoomQueue', () => {
  it('runs tasks of one room one after the other, in order', async () => {
    const queue = new RoomQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string) => async () => {
      running++;
      expect(running).toBe(1);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([queue.run('!a', task('1')), queue.run('!a', task('2')), queue.run('!a', task('3'))]);
    expect(results).toEqual(['1', '2', '3']);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('runs tasks of different rooms concurrently', async () => {
    const queue = new RoomQueue();
    let release: () => void = () => undefined;
    const blocked = queue.run('!a', () => new Promise<string>((resolve) => (release = () => resolve('a'))));
    const other = await queue.run('!b', async () => 'b');
    expect(other).toBe('b');
    release();
    expect(await blocked).toBe('a');
  });

  it('a failing task does not stop the next one, and idle rooms are dropped', async () => {
    const queue = new RoomQueue();
    const failed = queue.run('!a', async () => {
      throw new Error('boom');
    });
    const next = queue.run('!a', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('next');
    await tick();
    expect(queue.activeKeys).toBe(0);
  });
});
