import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { allocateBlocks } from './blocks.ts';

/**
 * Size of each send buffer: small enough to stay in the CPU caches between
 * the read that fills it and the socket write that empties it (and below
 * malloc's mmap threshold), large enough to keep syscalls few.
 */
export const SEND_CHUNK = 256 * 1024;
/**
 * Size of each send buffer of a file read with O_DIRECT: the disk fills it
 * without the CPU (no cache to stay in), and each read waits for the disk,
 * so fewer, larger reads keep it busy.
 */
export const SEND_CHUNK_DIRECT = 1024 * 1024;
/** Buffers per send: one being read into while the others wait in the socket. */
export const SEND_DEPTH = 4;

/** How a send ended: all bytes handed to the socket and the response ended, or the client went away first. */
export type SendOutcome = 'sent' | 'closed';

/**
 * Writes bytes `start`…`end` (inclusive) of `file` to `out` (an HTTP
 * response whose head is written) and ends it. The data is read into a few
 * buffers of its own, one read at a time, each handed to `out` and reused
 * once `out`'s write callback says the socket is done with it: no buffer is
 * allocated per chunk and none is copied on the way. Memory stays at
 * `depth` × `chunk` whatever the client's pace.
 *
 * With `align` (a file opened with O_DIRECT), reads start and end on
 * multiples of it, into page-aligned buffers, and the bytes outside the
 * range are left out of what is sent.
 *
 * Resolves once no read is in flight, so the caller may close `file`: with
 * 'sent', or 'closed' when `out` closed first (the client disconnected).
 * A read error destroys `out` (the client sees a cut body, as a response
 * whose length was promised cannot say otherwise) and rejects. Never closes
 * `file`.
 */
export function sendFile(
  file: FileHandle,
  out: Writable,
  start: number,
  end: number,
  opts: { chunk?: number; depth?: number; align?: number } = {},
): Promise<SendOutcome> {
  const total = end - start + 1;
  const align = opts.align ?? 1;
  const depth = opts.depth ?? SEND_DEPTH;
  // Aligned buffers come whole from allocateBlocks (64 KiB multiples); others are cut to small ranges.
  const chunk = align > 1 ? (opts.chunk ?? SEND_CHUNK) : Math.max(1, Math.min(opts.chunk ?? SEND_CHUNK, total));
  const down = (n: number) => Math.floor(n / align) * align;
  const up = (n: number) => Math.ceil(n / align) * align;
  return new Promise((resolve, reject) => {
    // Aligned buffers are made up front, as many as the range needs (up to `depth`); others on first use.
    const aligned = align > 1;
    const free: Buffer[] = aligned && total > 0 ? allocateBlocks(Math.min(depth, Math.ceil((up(end + 1) - down(start)) / chunk)), chunk) : [];
    let made = aligned ? depth : 0;
    let position = start;
    let reading = false;
    /** Set once the outcome is known; resolve or reject when no read is in flight. */
    let outcome: { ok: SendOutcome } | { err: unknown } | undefined;

    const settle = () => {
      if (!outcome || reading) return;
      out.off('close', onClose);
      out.off('finish', onFinish);
      if ('err' in outcome) reject(outcome.err);
      else resolve(outcome.ok);
    };
    const conclude = (o: { ok: SendOutcome } | { err: unknown }) => {
      outcome ??= o;
      settle();
    };
    const onFinish = () => conclude({ ok: 'sent' });
    // 'close' also follows 'finish'; first one wins.
    const onClose = () => conclude({ ok: 'closed' });
    const fail = (err: unknown) => {
      if (!outcome) out.destroy(err as Error);
      conclude({ err });
    };

    const take = () => free.pop() ?? (made < depth ? (made++, Buffer.allocUnsafeSlow(chunk)) : undefined);

    const readNext = () => {
      if (outcome || reading || position > end) return;
      const buf = take();
      if (!buf) return; // a write callback resumes
      reading = true;
      // Where the read starts: `position`, or the aligned offset before it; the bytes before `position` are not sent.
      const at = down(position);
      file.read(buf, 0, Math.min(buf.length, up(end + 1) - at), at).then(
        ({ bytesRead }) => {
          reading = false;
          if (outcome) return settle();
          const skip = position - at;
          const useful = Math.min(bytesRead, end + 1 - at) - skip;
          if (useful <= 0) return fail(new Error(`image data ended at byte ${position}, before ${end + 1}`));
          position += useful;
          out.write(skip === 0 && useful === buf.length ? buf : buf.subarray(skip, skip + useful), (err) => {
            // A failed write (the socket is gone) ends the send through 'close'; the buffer is dropped.
            if (err) return;
            free.push(buf);
            readNext();
          });
          if (position > end) out.end();
          else readNext();
        },
        (err) => {
          reading = false;
          fail(err);
        },
      );
    };

    out.on('close', onClose);
    out.on('finish', onFinish);
    if (out.destroyed) return conclude({ ok: 'closed' });
    if (total <= 0) return void out.end();
    readNext();
  });
}
