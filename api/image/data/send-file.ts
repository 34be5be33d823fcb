import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/**
 * Size of each send buffer: small enough to stay in the CPU caches between
 * the read that fills it and the socket write that empties it (and below
 * malloc's mmap threshold), large enough to keep syscalls few.
 */
export const SEND_CHUNK = 256 * 1024;
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
  opts: { chunk?: number; depth?: number } = {},
): Promise<SendOutcome> {
  const total = end - start + 1;
  const chunk = Math.max(1, Math.min(opts.chunk ?? SEND_CHUNK, total));
  const depth = opts.depth ?? SEND_DEPTH;
  return new Promise((resolve, reject) => {
    const free: Buffer[] = [];
    let made = 0;
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
      file.read(buf, 0, Math.min(buf.length, end - position + 1), position).then(
        ({ bytesRead }) => {
          reading = false;
          if (outcome) return settle();
          if (bytesRead === 0) return fail(new Error(`image data ended at byte ${position}, before ${end + 1}`));
          position += bytesRead;
          out.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), (err) => {
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
