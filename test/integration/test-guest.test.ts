// Boots Nubo's test guest (test/guest/) under QEMU with a config drive made
// here, as the qemu driver will: overlay on the cached image, virtio or IDE,
// QMP for the power button. TCG: KVM does not run guests on every machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_POWERDOWN, guestLine, qemuAvailable, testGuestImage, waitForGuest, type GuestBoot } from '../support/guest.ts';

const skip = !qemuAvailable()
  ? 'qemu-system-x86_64 is missing'
  : spawnSync('genisoimage', ['--version'], { stdio: 'ignore' }).status !== 0
    ? 'genisoimage is missing'
    : false;

const BOOT_TIMEOUT_MS = 300_000;
const POWERDOWN_TIMEOUT_MS = 60_000;

interface GuestOptions {
  bus: 'virtio' | 'ide';
  memoryMb: number;
  vcpus: number;
  meta: Record<string, unknown>;
  userData: string;
}

interface Guest {
  dir: string;
  consoleLog: string;
  qemu: ChildProcess;
  exited: Promise<number | null>;
  started: number;
}

/** The config drive: openstack/latest/meta_data.json and user_data, labelled config-2. */
function configDrive(dir: string, meta: Record<string, unknown>, userData: string): string {
  const root = join(dir, 'config');
  mkdirSync(join(root, 'openstack', 'latest'), { recursive: true });
  writeFileSync(join(root, 'openstack', 'latest', 'meta_data.json'), JSON.stringify(meta));
  writeFileSync(join(root, 'openstack', 'latest', 'user_data'), userData);
  const iso = join(dir, 'config.iso');
  const r = spawnSync('genisoimage', ['-quiet', '-R', '-J', '-V', 'config-2', '-o', iso, root], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return iso;
}

/** A new instance directory (overlay disk on the test guest, config drive) and its first start. */
async function boot(opts: GuestOptions): Promise<Guest> {
  const image = await testGuestImage();
  const dir = mkdtempSync(join(tmpdir(), 'nubo-guest-'));
  const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', join(dir, 'disk.qcow2'), '1G'], {
    encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
  configDrive(dir, opts.meta, opts.userData);
  return start(dir, opts, 1);
}

/** Starts QEMU on an instance directory, its console in console-<run>.log. */
function start(dir: string, opts: GuestOptions, run: number): Guest {
  const iso = join(dir, 'config.iso');
  const cdrom = opts.bus === 'ide' ? `file=${iso},if=ide,media=cdrom` : `file=${iso},if=virtio,format=raw,readonly=on`;
  const consoleLog = join(dir, `console-${run}.log`);
  const started = Date.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    ['-accel', 'tcg', '-m', String(opts.memoryMb), '-smp', String(opts.vcpus), '-nodefaults', '-display', 'none',
      '-serial', `file:${consoleLog}`, '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
      '-drive', `file=${join(dir, 'disk.qcow2')},if=${opts.bus}`, '-drive', cdrom],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = once(qemu, 'exit').then(([code]) => code as number | null);
  return { dir, consoleLog, qemu, exited, started };
}

/** Runs one QMP command on the guest's monitor socket; resolves with its "return". */
async function qmp(guest: Guest, execute: string): Promise<unknown> {
  const sock = connect(join(guest.dir, 'qmp.sock'));
  await once(sock, 'connect');
  sock.setEncoding('utf8');
  let buffer = '';
  const replies: any[] = [];
  let wake = () => {};
  sock.on('data', (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      replies.push(JSON.parse(buffer.slice(0, i)));
      buffer = buffer.slice(i + 1);
    }
    wake();
  });
  const next = async (): Promise<any> => {
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    return replies.shift();
  };
  const answer = async (): Promise<any> => {
    for (;;) {
      const reply = await next();
      if ('error' in reply) throw new Error(`QMP ${execute}: ${JSON.stringify(reply.error)}`);
      if ('return' in reply) return reply.return;
    }
  };
  try {
    await next(); // the greeting
    sock.write('{"execute":"qmp_capabilities"}\n');
    await answer();
    sock.write(JSON.stringify({ execute }) + '\n');
    return await answer();
  } finally {
    sock.destroy();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Presses the power button and checks that the guest powers off and QEMU exits. */
async function powerDown(guest: Guest): Promise<number> {
  const pressed = Date.now();
  await qmp(guest, 'system_powerdown');
  const code = await withTimeout(guest.exited, POWERDOWN_TIMEOUT_MS, 'power-down');
  assert.equal(code, 0, 'QEMU exits cleanly on the guest powering off');
  assert.ok(readFileSync(guest.consoleLog, 'utf8').includes(GUEST_POWERDOWN), 'the guest saw the power button');
  return Date.now() - pressed;
}

function cleanUp(...guests: Guest[]): void {
  for (const g of guests) if (g.qemu.exitCode === null && g.qemu.signalCode === null) g.qemu.kill('SIGKILL');
  rmSync(guests[0].dir, { recursive: true, force: true });
}

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnubotestguestkey nubo@test';

test('the test guest boots on virtio, reads its config drive, counts boots across a hard power-off and powers off on the power button', { skip, timeout: 900_000 }, async (t) => {
  const built = Date.now();
  await testGuestImage();
  t.diagnostic(`guest image ready in ${Date.now() - built} ms (cached after the first build)`);
  const uuid = '6f1c1b0e-3d1a-4c43-9e55-1e5b6a0c7d21';
  // Key order and a nested "hostname" must not confuse the guest's JSON reading.
  const opts: GuestOptions = {
    bus: 'virtio',
    memoryMb: 128,
    vcpus: 1,
    meta: { meta: { hostname: 'not-this-one' }, public_keys: { mykey: `${key}\n` }, hostname: 'guest-one', name: 'Guest One', uuid },
    userData: 'plain text first line\nsecond line\n',
  };
  const guest = await boot(opts);
  const guests = [guest];
  try {
    const [first] = await waitForGuest(guest.consoleLog, (b) => b[0]?.ready === true, BOOT_TIMEOUT_MS);
    t.diagnostic(`boot to ready: ${Date.now() - guest.started} ms (guest uptime ${first.values.uptime} s)`);
    assert.equal(first.values.boot, '1');
    assert.match(first.values.boot_id, /^[0-9a-f-]{36}$/);
    assert.equal(first.values.config_drive, '/dev/vdb');
    assert.equal(first.values.uuid, uuid);
    assert.equal(first.values.hostname, 'guest-one');
    assert.equal(first.values.name, 'Guest One');
    assert.equal(first.values.public_key, key);
    assert.equal(first.values.user_data, 'plain text first line');
    assert.equal(first.values.ram_mb, '128');
    const memory = Number(first.values.memory_mb);
    assert.ok(memory > 48 && memory <= 128, `memory_mb ${memory}`);
    assert.equal(first.values.vcpus, '1');
    assert.match(first.values.disks, /^vda:1024,vdb:1$/);
    assert.equal(first.values.user_data_exit, undefined, 'plain user_data is not run');
    // The shared patterns read the same console.
    const text = readFileSync(guest.consoleLog, 'utf8');
    assert.equal(guestLine.uuid.exec(text)?.[1], uuid);
    assert.equal(guestLine.publicKey.exec(text)?.[1], key);
    assert.equal(guestLine.ramMb.exec(text)?.[1], '128');
    for (const [name, pattern] of Object.entries(guestLine)) {
      if (name !== 'nic' && name !== 'userDataExit') assert.match(text, pattern, name);
    }

    // A hard power-off (QEMU killed) keeps what the guest flushed: the next start is boot 2.
    guest.qemu.kill('SIGKILL');
    await guest.exited;
    const again = start(guest.dir, opts, 2);
    guests.push(again);
    const [second] = await waitForGuest(again.consoleLog, (b) => b[0]?.ready === true, BOOT_TIMEOUT_MS);
    assert.equal(second.values.boot, '2');
    assert.notEqual(second.values.boot_id, first.values.boot_id);
    assert.equal(second.values.uuid, uuid);
    t.diagnostic(`power-down to QEMU exit: ${await powerDown(again)} ms`);
  } finally {
    cleanUp(...guests);
  }
});

test('the test guest boots on IDE with a cdrom config drive, reboots itself and counts its boots', { skip, timeout: 900_000 }, async (t) => {
  const uuid = '0b8e5a52-77a4-4d8e-b8a0-2f6f3f5d0a11';
  const guest = await boot({
    bus: 'ide',
    memoryMb: 192,
    vcpus: 2,
    meta: { uuid, hostname: 'guest-two', name: 'guest-two', public_keys: {} },
    userData: '#!/bin/sh\nif [ "$NUBO_GUEST_BOOT" = 1 ]; then reboot -f; fi\n',
  });
  try {
    const boots: GuestBoot[] = await waitForGuest(guest.consoleLog, (b) => b[1]?.ready === true && 'user_data_exit' in b[1].values, BOOT_TIMEOUT_MS);
    t.diagnostic(`boot, reboot and boot to ready: ${Date.now() - guest.started} ms`);
    const [first, second] = boots;
    assert.equal(first.values.boot, '1');
    assert.equal(second.values.boot, '2', 'the boot counter lives on the instance disk');
    assert.notEqual(first.values.boot_id, second.values.boot_id);
    for (const b of [first, second]) {
      assert.equal(b.values.config_drive, '/dev/sr0');
      assert.equal(b.values.uuid, uuid);
      assert.equal(b.values.hostname, 'guest-two');
      assert.equal(b.values.public_key, undefined, 'no key, no public_key line');
      assert.equal(b.values.user_data, '#!/bin/sh');
      assert.equal(b.values.ram_mb, '192');
      assert.equal(b.values.vcpus, '2');
      assert.match(b.values.disks, /^sda:1024,sr0:1$/);
    }
    assert.equal(second.values.user_data_exit, '0');
    await powerDown(guest);
  } finally {
    cleanUp(guest);
  }
});
