import { SharedReads } from './shared-reads';

describe('SharedReads', () => {
  it('runs one read for requests asking for the same key at once, and separate reads for other keys', async () => {
    const shared = new SharedReads();
    let reads = 0;
    const read = (value: string) => async () => {
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
      return value;
    };
    const [a, b, c] = await Promise.all([shared.get('k1', read('one')), shared.get('k1', read('other')), shared.get('k2', read('two'))]);
    expect([a, b, c]).toEqual(['one', 'one', 'two']);
    expect(reads).toBe(2);
    expect(await shared.get('k1', read('again'))).toBe('one');
    expect(reads).toBe(2);
  });

  it('does not keep a failed read', async () => {
    const shared = new SharedReads();
    await expect(shared.get('k', () => Promise.reject(new Error('connection lost')))).rejects.toThrow('connection lost');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await shared.get('k', () => Promise.resolve(7))).toBe(7);
  });

  it('forgets the oldest reads beyond its bound', async () => {
    const shared = new SharedReads(2);
    await shared.get('a', () => Promise.resolve(1));
    await shared.get('b', () => Promise.resolve(2));
    await shared.get('c', () => Promise.resolve(3));
    expect(shared.size).toBe(2);
    expect(await shared.get('a', () => Promise.resolve(10))).toBe(10);
    expect(await shared.get('c', () => Promise.resolve(30))).toBe(3);
  });
});
