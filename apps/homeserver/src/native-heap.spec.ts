import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import koffi from 'koffi';
import { MMAP_THRESHOLD_BYTES, tuneNativeHeap } from './native-heap';

/** The size of one argon2id hash's memory with the default cost (19 MiB). */
const HASH_BLOCK_BYTES = 19 * 1024 * 1024;
const ROOT = resolve(__dirname, '..', '..', '..');

const libc = koffi.load('libc.so.6');
const malloc = libc.func('void *malloc(size_t size)') as (size: number) => unknown;
const free = libc.func('void free(void *ptr)') as (ptr: unknown) => void;
const MallInfo2 = koffi.struct('mallinfo2', {
  arena: 'size_t',
  ordblks: 'size_t',
  smblks: 'size_t',
  hblks: 'size_t',
  hblkhd: 'size_t',
  usmblks: 'size_t',
  fsmblks: 'size_t',
  uordblks: 'size_t',
  fordblks: 'size_t',
  keepcost: 'size_t',
});
const mallinfo2 = libc.func('mallinfo2', MallInfo2, []) as () => { hblks: number; hblkhd: number };

describe('tuneNativeHeap (glibc on Linux)', () => {
  it('fixes the mmap threshold, once', async () => {
    const first = await tuneNativeHeap();
    expect(first).toEqual({ applied: true, mmapThresholdBytes: MMAP_THRESHOLD_BYTES });
    expect(await tuneNativeHeap()).toBe(first);
  });

  it('keeps every large block in its own mapping, returned to the system when freed, also after the first', () => {
    // Measured in a fresh process: glibc's mapped-memory total is process-wide, and other
    // threads of a test worker (e.g. hashing left running by an earlier test file) move it.
    // Untuned, freeing the first mapped block raises the threshold above its size, and the
    // blocks after it come from the heap's arenas (they would not show as mapped).
    const probe = `
      const koffi = require('koffi');
      const { tuneNativeHeap } = require(${JSON.stringify(join(__dirname, 'native-heap.ts'))});
      const libc = koffi.load('libc.so.6');
      const malloc = libc.func('void *malloc(size_t size)');
      const free = libc.func('void free(void *ptr)');
      const MallInfo2 = koffi.struct('mallinfo2', { arena: 'size_t', ordblks: 'size_t', smblks: 'size_t', hblks: 'size_t', hblkhd: 'size_t',
        usmblks: 'size_t', fsmblks: 'size_t', uordblks: 'size_t', fordblks: 'size_t', keepcost: 'size_t' });
      const mallinfo2 = libc.func('mallinfo2', MallInfo2, []);
      tuneNativeHeap().then(() => {
        const rounds = [];
        for (let round = 0; round < 3; round += 1) {
          const before = Number(mallinfo2().hblkhd);
          const block = malloc(${HASH_BLOCK_BYTES});
          const mapped = Number(mallinfo2().hblkhd) - before;
          free(block);
          rounds.push({ mapped, returned: Number(mallinfo2().hblkhd) === before });
        }
        process.stdout.write(JSON.stringify(rounds));
      });`;
    const result = spawnSync(process.execPath, ['-r', join(ROOT, 'test/support/register-ts.cjs'), '-e', probe], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const rounds = JSON.parse(result.stdout) as { mapped: number; returned: boolean }[];
    expect(rounds).toHaveLength(3);
    for (const round of rounds) {
      expect(round.mapped).toBeGreaterThanOrEqual(HASH_BLOCK_BYTES);
      expect(round.returned).toBe(true);
    }
  });

  it('keeps smaller blocks in the arenas', async () => {
    await tuneNativeHeap();
    const before = mallinfo2().hblkhd;
    const block = malloc(MMAP_THRESHOLD_BYTES / 4);
    expect(mallinfo2().hblkhd).toBe(before);
    free(block);
  });
});
