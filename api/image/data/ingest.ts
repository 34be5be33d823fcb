import { finished, Writable, type Readable } from 'node:stream';
import { allocateBlocks } from './blocks.ts';
import type { BlockHasher, Digests } from './hashing.ts';
import type { DataWriter } from './store-backend.ts';

/** Data moves in blocks this large: few syscalls and thread hand-offs per byte. */
const BLOCK = 4 * 1024 * 1024;
/** Blocks in flight at once (being written or hashed): bounds memory to BLOCK × POOL per transfer. */
const POOL = 6;
/** Bytes of the start of the data kept to recognise its format. */
const HEAD = 512;

export interface IngestOptions {
  /** Where the bytes go; none when they are only hashed. */
  writer?: DataWriter;
  /** What hashes them; none when they are only written. Closed by ingest whatever the outcome. */
  hasher?: BlockHasher;
  /** The most bytes accepted: one more fails the transfer with `tooLarge(size)`. */
  limit: number;
  tooLarge: (size: number) => Error;
  /** Aborts the transfer (its reason is the error). */
  signal?: AbortSignal;
}

export interface Ingested {
  size: number;
  /** The first bytes (up to 512), for format detection. */
  head: Buffer;
  digests?: Digests;
}

/**
 * A sink that gathers incoming chunks into large blocks and hands each block
 * to the store and the hasher at once. The store writes blocks at their
 * offsets, possibly several together; the hasher sees them in order. When
 * every block is in flight the sink stops taking data, so the source is
 * paused (backpressure) and memory stays bounded whatever the data size.
 */
class BlockSink extends Writable {
  size = 0;
  head = Buffer.alloc(0);
  /** Blocks not in flight; all of them are made at once, in shared aligned memory that is only resident once written. */
  private readonly free: Buffer[] = allocateBlocks(POOL, BLOCK).reverse();
  private block: Buffer | undefined;
  private fill = 0;
  private position = 0;
  private readonly inflight = new Set<Promise<void>>();
  /** Resumes a write that waits for a free block. */
  private resume: (() => void) | undefined;

  constructor(private readonly opts: IngestOptions) {
    super({ highWaterMark: BLOCK });
  }

  private dispatch(): void {
    const block = this.block!;
    const length = this.fill;
    const position = this.position;
    this.block = undefined;
    this.fill = 0;
    this.position += length;
    if (position === 0) this.head = Buffer.from(block.subarray(0, Math.min(length, HEAD)));
    const work = Promise.all([this.opts.writer?.write(block, length, position), this.opts.hasher?.update(block, length)]).then(
      () => {
        this.inflight.delete(work);
        this.free.push(block);
        const resume = this.resume;
        this.resume = undefined;
        resume?.();
      },
      (err: Error) => {
        this.inflight.delete(work);
        this.destroy(err);
      },
    );
    this.inflight.add(work);
  }

  /** Copies `chunk` from `offset` into blocks, waiting for a free block when all are in flight. */
  private take(chunk: Buffer, offset: number, done: (err?: Error | null) => void): void {
    while (offset < chunk.length) {
      if (this.destroyed) return;
      if (!this.block) {
        this.block = this.free.pop();
        if (!this.block) {
          this.resume = () => this.take(chunk, offset, done);
          return;
        }
      }
      const n = chunk.copy(this.block, this.fill, offset);
      offset += n;
      this.fill += n;
      if (this.fill === this.block.length) this.dispatch();
    }
    done();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.size > this.opts.limit) return done(this.opts.tooLarge(this.size));
    this.take(chunk, 0, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.block && this.fill > 0) this.dispatch();
    this.settled().then(() => done(this.destroyed ? new Error('transfer failed') : null), done);
  }

  /** Resolves once no block is being written or hashed. */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }
}

/**
 * Moves `source` into the store and/or through the hasher in one pass,
 * never holding more than a few blocks in memory. On failure (source error
 * or premature close, store error, limit, abort) nothing is left running
 * when the promise rejects, and `source` is not destroyed: the caller may
 * still answer on the same connection. Cleaning up the writer is the caller's.
 */
export async function ingest(source: Readable, opts: IngestOptions): Promise<Ingested> {
  const sink = new BlockSink(opts);
  const { signal } = opts;
  let stopWatching = () => {};
  let onAbort = () => {};
  const outcome = new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      source.unpipe(sink);
      sink.destroy(err);
      reject(err);
    };
    onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new Error('transfer aborted'));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    stopWatching = finished(source, (err) => {
      if (err) fail(err);
    });
    sink.on('error', fail);
    sink.on('finish', resolve);
    source.pipe(sink);
  });
  try {
    await outcome;
  } catch (e) {
    await sink.settled();
    opts.hasher?.close();
    throw e;
  } finally {
    stopWatching();
    signal?.removeEventListener('abort', onAbort);
  }
  return { size: sink.size, head: sink.head, digests: await opts.hasher?.digest() };
}
