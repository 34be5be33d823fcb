import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateBlocks } from '../../api/image/data/blocks.ts';
import { createFileWriter } from '../../api/image/data/file-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'nubo-file-writer-'));
const MiB = 1024 * 1024;
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `data` through a writer in blocks of `block` bytes from `blocks` (reused in turn), and reads the file back. */
async function roundTrip(name: string, data: Buffer, blocks: Buffer[], direct: boolean): Promise<Buffer> {
  const path = join(dir, name);
  const file = await createFileWriter(path, { direct });
  const size = blocks[0].length;
  for (let position = 0, i = 0; position < data.length; position += size, i++) {
    const block = blocks[i % blocks.length];
    const n = data.copy(block, 0, position, Math.min(data.length, position + size));
    await file.write(block, n, position);
  }
  await file.finish();
  return readFileSync(path);
}

test('direct writes of aligned blocks, the last one short, give the file exactly the data', async () => {
  const data = randomBytes(3 * MiB + 1234);
  assert.ok((await roundTrip('direct', data, allocateBlocks(2, MiB), true)).equals(data));
});

test('data shorter than one alignment unit, and no data at all', async () => {
  const small = randomBytes(100);
  assert.ok((await roundTrip('small', small, allocateBlocks(1, 64 * 1024), true)).equals(small));
  assert.equal((await roundTrip('empty', Buffer.alloc(0), allocateBlocks(1, 64 * 1024), true)).length, 0);
});

test('unaligned memory turns the writer buffered, with the same data', async () => {
  const data = randomBytes(2 * MiB + 7);
  const unaligned = Buffer.alloc(MiB + 16).subarray(16);
  assert.ok((await roundTrip('unaligned', data, [unaligned], true)).equals(data));
});

test('buffered writes give the same data', async () => {
  const data = randomBytes(2 * MiB + 99);
  assert.ok((await roundTrip('buffered', data, allocateBlocks(1, MiB), false)).equals(data));
});

test('a writer never replaces an existing file', async () => {
  const path = join(dir, 'taken');
  await (await createFileWriter(path, { direct: true })).finish();
  await assert.rejects(createFileWriter(path, { direct: true }), { code: 'EEXIST' });
  await assert.rejects(createFileWriter(path, { direct: false }), { code: 'EEXIST' });
});
