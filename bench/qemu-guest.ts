/**
 * Qemu driver figures, printed (never asserted): how long the driver takes
 * to probe the accelerator, to spawn a guest (download into the image cache,
 * overlay, config drive, QEMU start), for the guest to be up (its init's
 * `ready` line on the serial console), and each power action: pause,
 * unpause, suspend, resume, hard reboot (to `ready` again), power off, destroy.
 * The guest is the busybox test guest (test/guest/, via test/support/guest.ts), 128 MiB.
 *
 *   node --import tsx bench/qemu-guest.ts [--accel auto|kvm|tcg]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { emptyBlockDeviceInfo } from '../compute-driver/driver.ts';
import { sampleInstance } from '../compute-driver/drivers/fake/samples.ts';
import type { AccelMode } from '../compute-driver/drivers/qemu/accel.ts';
import { QemuDriver } from '../compute-driver/drivers/qemu/index.ts';
import { createLogger } from '../lib/log.ts';
import { GUEST_READY, testGuestImage } from '../test/support/guest.ts';

const { values } = parseArgs({ options: { accel: { type: 'string', default: 'auto' } } });

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const v = await fn();
  console.log(`${label.padEnd(34)} ${((performance.now() - t) / 1000).toFixed(2).padStart(8)} s`);
  return v;
}

async function main() {
  const data = readFileSync(await testGuestImage());
  const server = createServer((_req, res) => res.writeHead(200, { 'content-length': data.length }).end(data));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const stateDir = await mkdtemp(join(tmpdir(), 'nubo-bench-qemu-'));
  const driver = new QemuDriver({ stateDir, accel: values.accel as AccelMode, logger: createLogger({ level: 'warn' }) });
  try {
    await timed('init (accelerator probe)', () => driver.init('bench'));
    console.log(`accelerator: ${driver.accel.accel} (-cpu ${driver.accel.cpu}): ${driver.accel.reason}`);
    const inst = sampleInstance({ flavor: { flavorid: 'b', name: 'b', vcpus: 1, memory_mb: 128, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs: {} } });
    const image = {
      id: 'bench-image',
      disk_format: 'qcow2',
      properties: {},
      checksum: createHash('md5').update(data).digest('hex'),
      download: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/images/bench-image/file` },
    };
    const readyCount = async () => (await driver.getConsoleOutput(inst)).split(GUEST_READY).length - 1;
    const untilReady = async (n: number) => {
      while ((await readyCount()) < n) await sleep(200);
    };
    await timed(`spawn (${(data.length / 1024 ** 2).toFixed(1)} MiB image, cold cache)`, () => driver.spawn(inst, image, [], emptyBlockDeviceInfo()));
    await timed('spawned → guest ready', () => untilReady(1));
    await timed('pause', () => driver.pause(inst));
    await timed('unpause', () => driver.unpause(inst));
    await timed('suspend (128 MiB guest)', () => driver.suspend(inst));
    await timed('resume', () => driver.resume(inst));
    await timed('hard reboot → guest ready', async () => {
      await driver.reboot(inst, 'HARD');
      await untilReady(2);
    });
    await timed('power off (ACPI)', () => driver.powerOff(inst, 60, 5));
    await timed('destroy', () => driver.destroy(inst));
  } finally {
    await driver.cleanupHost();
    server.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
