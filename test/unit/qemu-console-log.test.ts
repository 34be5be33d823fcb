import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAX_CONSOLE_BYTES, readConsoleLog, rotateConsoleLog } from '../../compute-driver/drivers/qemu/console-log.ts';
import { InstanceDir } from '../../compute-driver/drivers/qemu/instance-dir.ts';

const state = mkdtempSync(join(tmpdir(), 'nubo-console-log-'));
after(() => rmSync(state, { recursive: true, force: true }));
const newDir = (uuid: string) => {
  const dir = new InstanceDir(state, uuid);
  mkdirSync(dir.path, { recursive: true });
  return dir;
};
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join('');

test('no log yet reads as nothing and needs no rotation', async () => {
  const dir = newDir('00000000-0000-0000-0000-000000000001');
  assert.equal(await readConsoleLog(dir), '');
  assert.equal(await rotateConsoleLog(dir), false);
});

test('a log past the limit keeps its last 100 KiB in console.log.0 and starts again; an O_APPEND writer goes on at the start; reads join both', async () => {
  const dir = newDir('00000000-0000-0000-0000-000000000002');
  appendFileSync(dir.console, lines(0, 20_000));
  // QEMU's chardev keeps its log open with O_APPEND across the rotation.
  const qemu = openSync(dir.console, constants.O_WRONLY | constants.O_APPEND);
  try {
    assert.equal(await rotateConsoleLog(dir, 10 * 1024 * 1024), false, 'under the limit it is left alone');
    assert.equal(await rotateConsoleLog(dir, 64 * 1024), true);
    assert.equal(statSync(dir.console).size, 0);
    assert.equal(statSync(`${dir.console}.0`).size, MAX_CONSOLE_BYTES);
    writeSync(qemu, 'after the cut\n');
  } finally {
    closeSync(qemu);
  }
  assert.equal(readFileSync(dir.console, 'utf8'), 'after the cut\n');
  assert.equal(await readConsoleLog(dir, 3), 'line 19999\nafter the cut\n');
  const all = await readConsoleLog(dir);
  assert.ok(Buffer.byteLength(all) <= MAX_CONSOLE_BYTES, 'never more than Nova shows');
  assert.ok(all.endsWith('line 19999\nafter the cut\n'));
});
