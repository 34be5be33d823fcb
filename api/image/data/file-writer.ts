import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BLOCK_ALIGN } from './blocks.ts';

/**
 * A buffered writer flushes its file every this many bytes, in the
 * background: the disk works while data still arrives, rather than all at
 * once in the final fsync (the kernel alone would hold gigabytes dirty
 * before writing back).
 */
const FLUSH_EVERY = 64 * 1024 * 1024;
/** What open or write answer when a filesystem, a buffer or an offset does not suit direct I/O. */
export const NO_DIRECT = new Set(['EINVAL', 'EOPNOTSUPP', 'ENOTSUP']);

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';
const roundUp = (n: number) => Math.ceil(n / BLOCK_ALIGN) * BLOCK_ALIGN;

/** A new file being written at given offsets, one write at a time. */
export interface FileWriter {
  /** Writes the first `length` bytes of `data` at `position`. */
  write(data: Uint8Array, length: number, position: number): Promise<void>;
  touch(): Promise<void>;
  /** Makes the file exactly as long as what was written, fsyncs and closes it. */
  finish(): Promise<void>;
  /** Closes the file as it is. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Creates `path` (which must not exist) for writing. With `direct`, the file
 * is written with direct I/O (O_DIRECT) where the filesystem allows it: the
 * data goes from the caller's block to the disk without a copy into the page
 * cache, which costs the CPU as much as one of the hashes (the page cache
 * holds gigabytes of an upload nobody reads soon; an upload promises durable
 * data anyway). Writes that do not suit it (unaligned memory, offset or
 * length, not at the end) turn the file buffered for the rest of the write.
 * A last block shorter than the alignment is written whole and cut back by
 * `finish`.
 */
export async function createFileWriter(path: string, opts: { direct: boolean }): Promise<FileWriter> {
  let fh: FileHandle;
  let direct = false;
  const create = constants.O_WRONLY | constants.O_CREAT;
  if (opts.direct && constants.O_DIRECT) {
    try {
      fh = await open(path, create | constants.O_EXCL | constants.O_DIRECT, 0o640);
      direct = true;
    } catch (e) {
      if (!NO_DIRECT.has(errno(e))) throw e;
      // Linux refuses O_DIRECT only after creating the file: open it again, buffered.
      fh = await open(path, create, 0o640);
    }
  } else {
    fh = await open(path, create | constants.O_EXCL, 0o640);
  }
  let open_ = true;
  /** Bytes up to the end of the furthest write; the file is cut to it when a direct write was padded. */
  let end = 0;
  let padded = false;
  // Writes run one at a time: concurrent writes to one file only contend for its lock (CPU, no speed).
  let writing: Promise<unknown> = Promise.resolve();
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  let flushError: unknown;

  const buffered = async () => {
    const again = await open(path, 'r+');
    const old = fh;
    fh = again;
    direct = false;
    await old.close();
  };

  const writeAll = async (data: Uint8Array, length: number, position: number) => {
    for (let done = 0; done < length; ) {
      const { bytesWritten } = await fh.write(data, done, length - done, position + done);
      done += bytesWritten;
    }
  };

  /** Writes directly when it can (true), rounding a last short block up; false when the write did not suit direct I/O. */
  const writeDirect = async (data: Uint8Array, length: number, position: number): Promise<boolean> => {
    const size = roundUp(length);
    if (position % BLOCK_ALIGN || size > data.length || (size > length && position + length < end)) return false;
    try {
      const { bytesWritten } = await fh.write(data, 0, size, position);
      if (bytesWritten < length) {
        // A short direct write (the disk filling up, say): the rest goes buffered, which reports the error if there is one.
        await buffered();
        await writeAll(data.subarray(bytesWritten), length - bytesWritten, position + bytesWritten);
      }
    } catch (e) {
      if (NO_DIRECT.has(errno(e))) return false;
      throw e;
    }
    if (size > length) padded = true;
    return true;
  };

  const flushSoon = (length: number) => {
    unflushed += length;
    if (unflushed < FLUSH_EVERY || flushing || !open_) return;
    unflushed = 0;
    flushing = fh
      .datasync()
      .catch((e) => void (flushError ??= e))
      .finally(() => (flushing = undefined));
  };

  const close = async () => {
    if (!open_) return;
    open_ = false;
    await flushing;
    await fh.close();
  };

  return {
    async write(data, length, position) {
      const turn = writing.then(async () => {
        const wrote = direct && (await writeDirect(data, length, position));
        if (!wrote) {
          if (direct) await buffered();
          await writeAll(data, length, position);
        }
        end = Math.max(end, position + length);
        if (!direct) flushSoon(length);
      });
      writing = turn.catch(() => undefined);
      await turn;
    },
    async touch() {
      if (!open_) return;
      const now = new Date();
      const handle = fh;
      try {
        await handle.utimes(now, now);
      } catch (e) {
        // A touch racing the close (or the switch to a buffered handle) finds its handle closed: nothing to keep alive there.
        if (open_ && handle === fh) throw e;
      }
    },
    async finish() {
      await writing;
      await flushing;
      if (flushError) throw flushError;
      if (padded) await fh.truncate(end);
      await fh.sync();
      await close();
    },
    close,
  };
}
