/**
 * Where media bytes live: a port (`MediaStorage`) so that an S3-compatible store can take the
 * place of the file system, and the file-system adapter. Content is addressed by its SHA-256
 * (`content/ab/cd/<sha256>`), so identical uploads share one file; thumbnails are kept under
 * `thumbnails/<sha256>/`. Every file is written to a temporary name in the same folder and
 * renamed into place, so a crash never leaves a half-written file under a real key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface MediaStorage {
  /** Stores `bytes` under `key` (atomically: readers see the whole file or nothing). */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `key`, or undefined when there are none. */
  get(key: string): Promise<Buffer | undefined>;
  has(key: string): Promise<boolean>;
  /** Removes `key` and everything under `key/` (a no-op when absent). */
  delete(key: string): Promise<void>;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Hex SHA-256 of the bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The storage key of content with that SHA-256. */
export function contentKey(sha256: string): string {
  if (!SHA256.test(sha256)) throw new TypeError('not a SHA-256 in hex');
  return `content/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** The folder of the thumbnails of content with that SHA-256. */
export function thumbnailsKey(sha256: string): string {
  if (!SHA256.test(sha256)) throw new TypeError('not a SHA-256 in hex');
  return `thumbnails/${sha256.slice(0, 2)}/${sha256}`;
}

const KEY = /^[a-z]+(\/[A-Za-z0-9._-]+)+$/;

/** The file system adapter: files under `root`. */
export class FilesystemMediaStorage implements MediaStorage {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (!KEY.test(key) || key.split('/').some((part) => part === '.' || part === '..')) throw new TypeError(`not a storage key: ${key}`);
    return join(this.root, key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, bytes, { flush: true });
      await rename(temporary, path);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { recursive: true, force: true });
  }
}

/** An in-memory adapter (tests). */
export class MemoryMediaStorage implements MediaStorage {
  readonly files = new Map<string, Buffer>();

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.files.set(key, Buffer.from(bytes));
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.files.get(key);
  }

  async has(key: string): Promise<boolean> {
    return this.files.has(key);
  }

  async delete(key: string): Promise<void> {
    for (const name of [...this.files.keys()]) if (name === key || name.startsWith(`${key}/`)) this.files.delete(name);
  }
}
