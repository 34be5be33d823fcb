import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sendFile } from '../../api/image/data/send-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'nubo-send-file-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A slow sink that keeps each chunk it is given (by reference, as a socket does until its write completes) and checks it when the write completes. */
function slowSink(delayMs: number) {
  const got: Buffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, done) {
      seen.add(chunk.buffer);
      const copy = Buffer.from(chunk);
      setTimeout(() => {
        // The sender must not have refilled the buffer before this write completed.
        assert.ok(chunk.equals(copy), 'a buffer was reused while the socket still held it');
        got.push(copy);
        done();
      }, delayMs);
    },
  });
  return { sink, got, seen };
}

test('sends a range in reused buffers, never touching one the sink still holds', async () => {
  const data = randomBytes(1024 * 1024 + 777);
  const path = join(dir, 'range');
  writeFileSync(path, data);
  const fh = await open(path, 'r');
  const { sink, got, seen } = slowSink(2);
  try {
    assert.equal(await sendFile(fh, sink, 100, data.length - 2, { chunk: 64 * 1024, depth: 3 }), 'sent');
  } finally {
    await fh.close();
  }
  assert.ok(Buffer.concat(got).equals(data.subarray(100, data.length - 1)));
  assert.ok(seen.size <= 3, `at most depth buffers (${seen.size})`);
});

test('an empty range ends the sink at once', async () => {
  const path = join(dir, 'empty');
  writeFileSync(path, '');
  const fh = await open(path, 'r');
  const { sink, got } = slowSink(0);
  assert.equal(await sendFile(fh, sink, 0, -1), 'sent');
  await fh.close();
  assert.equal(got.length, 0);
});

test('a sink that closes midway ends the send as closed, with no read left in flight', async () => {
  const path = join(dir, 'closed');
  writeFileSync(path, randomBytes(4 * 1024 * 1024));
  const fh = await open(path, 'r');
  const { sink, got } = slowSink(5);
  setTimeout(() => sink.destroy(), 20);
  assert.equal(await sendFile(fh, sink, 0, 4 * 1024 * 1024 - 1, { chunk: 64 * 1024 }), 'closed');
  await fh.close();
  assert.ok(got.length < 64, 'stopped early');
});

test('a file shorter than its range rejects and destroys the sink (a cut body)', async () => {
  const path = join(dir, 'short');
  writeFileSync(path, randomBytes(1000));
  const fh = await open(path, 'r');
  const { sink } = slowSink(0);
  sink.on('error', () => {});
  await assert.rejects(sendFile(fh, sink, 0, 1999), /ended at byte 1000/);
  await fh.close();
  assert.ok(sink.destroyed);
});

test('with O_DIRECT, reads aligned blocks and sends just the range, to an unaligned end of file', async (t) => {
  const data = randomBytes(1024 * 1024 + 4321);
  const path = join(dir, 'direct');
  writeFileSync(path, data);
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch {
    return t.skip('no O_DIRECT on this filesystem');
  }
  try {
    for (const [from, to] of [
      [0, data.length - 1],
      [4095, 4097],
      [5000, data.length - 1],
      [300 * 1024 + 1, 700 * 1024 - 1],
    ]) {
      const { sink, got } = slowSink(0);
      assert.equal(await sendFile(fh, sink, from, to, { chunk: 64 * 1024, depth: 2, align: 4096 }), 'sent');
      assert.ok(Buffer.concat(got).equals(data.subarray(from, to + 1)), `bytes ${from}-${to}`);
    }
  } finally {
    await fh.close();
  }
});
