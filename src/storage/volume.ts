import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { QuireError } from '../errors.js';
import { atomicWrite } from './atomic-write.js';

export class InvalidStorageKeyError extends QuireError {
  readonly code = 'INVALID_STORAGE_KEY';
  constructor(readonly key: string) {
    super(`invalid storage key ${JSON.stringify(key)}`);
    this.name = 'InvalidStorageKeyError';
  }
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/**
 * This region's volume (`REPORTS_DIR`). Writes are atomic: a temp file in the same directory,
 * fsync, rename, fsync of the directory; a reader sees the whole file or none.
 */
export class Volume {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** The file behind a key; refuses anything that would leave the volume. */
  pathOf(key: string): string {
    if (!KEY.test(key) || key.length > 512 || key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
      throw new InvalidStorageKeyError(key);
    }
    const path = resolve(this.dir, key);
    const rel = relative(this.dir, path);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new InvalidStorageKeyError(key);
    return path;
  }

  async write(key: string, bytes: Uint8Array): Promise<void> {
    await atomicWrite(this.pathOf(key), (temp) => writeFile(temp, bytes, { flag: 'wx', mode: 0o640 }));
  }

  /** Size of the file, or null when it is not on this volume. */
  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Size and sha256 of the file as it is on disk now, or null when it is not here. */
  async digest(key: string): Promise<{ bytes: number; sha256: string } | null> {
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of createReadStream(this.pathOf(key))) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  /** Removes the file behind a key; missing is fine. */
  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  createReadStream(key: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(key), range);
  }
}
