import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through that counts and hashes what flows through it, so a body can be checked while it
 * is being written or uploaded instead of being read twice or held in memory.
 */
export class Sha256Stream extends Transform {
  #hash: Hash = createHash('sha256');
  #bytes = 0;
  #sha256: string | null = null;

  override _transform(chunk: Buffer | Uint8Array | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#hash.update(bytes);
    this.#bytes += bytes.byteLength;
    callback(null, bytes);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The hex sha256 of everything seen; only valid once the stream has ended. */
  get sha256(): string {
    if (this.#sha256 === null) {
      if (!this.writableFinished) throw new Error('Sha256Stream: digest read before the stream finished');
      this.#sha256 = this.#hash.digest('hex');
    }
    return this.#sha256;
  }
}

/** Reads a stream to its end in constant memory and returns its size and hex sha256. */
export async function digestStream(stream: NodeJS.ReadableStream): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buffer);
    bytes += buffer.byteLength;
  }
  return { bytes, sha256: hash.digest('hex') };
}
