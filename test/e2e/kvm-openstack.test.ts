// The whole life of a real guest driven by the real `openstack` client: an
// all-in-one with the qemu driver (KVM where it works, TCG here) and the test
// guest registered as nubo-guest; one server walked through create, the
// console, soft and hard reboot, stop/start, pause/unpause, suspend/resume,
// snapshot (and a second server booted from it), resize and confirm, and
// delete, each step checked on the guest's own console (test/guest/init's
// "nubo-guest: key=value" lines) and on the host (its QEMU process and
// instance directory). The steps are ordered and share the server. Skipped
// where QEMU is not installed.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { detectAccel } from '../../compute-driver/drivers/qemu/accel.ts';
import { InstanceDir, instanceUuids } from '../../compute-driver/drivers/qemu/instance-dir.ts';
import { QEMU_BINARY, qemuVersion } from '../../compute-driver/drivers/qemu/process.ts';
import { createLogger } from '../../lib/log.ts';
import { removeDataDir, startAllInOne, type AllInOne } from '../support/all-in-one.ts';
import { parseGuestConsole, qemuDriverMissing, testGuestImage, type GuestBoot } from '../support/guest.ts';

/** The qemu driver needs QEMU and genisoimage (bin/setup-host.sh installs them). */
const skip = qemuDriverMissing();
/** One step's bound: TCG on a loaded machine. */
const STEP_MS = 240_000;
/** The flavor of the resize: m1.tiny (512 MB) from m1.nano (128 MB), both of the all-in-one's defaults. */
const BIGGER = { name: 'm1.tiny', ram: 512 };
/**
 * The user data: a script the guest runs after ready (test/guest/init), a
 * counter on the console every second, so that a guest that goes on where it
 * was (resume) is told from one that booted again.
 */
const USER_DATA = '#!/bin/sh\nn=0\nwhile :; do n=$((n + 1)); echo "nubo-guest: tick=$n"; sleep 1; done\n';

/** The running QEMU process `pid` of instance `uuid` (a pid reused by another process does not count). */
const qemuRuns = (pid: number, uuid: string) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(uuid);
  } catch {
    return false;
  }
};
/** The console without the counter's lines (what a failure shows). */
const withoutTicks = (text: string) => text.replace(/^nubo-guest: tick=\d+\r?\n/gm, '');
const ticks = (text: string) => [...text.matchAll(/^nubo-guest: tick=(\d+)\r?$/gm)].map((m) => Number(m[1]));

describe('openstack drives a real guest through every server action (qemu driver)', { skip }, () => {
  let cloud: AllInOne;
  let work: string;
  let stateDir: string;
  let publicKey: string;
  let vm1: { id: string; dir: InstanceDir };
  let vm2: { id: string; dir: InstanceDir } | undefined;
  /** Every QEMU pid seen, by instance: none may run after the delete. */
  const pids = new Map<string, Set<number>>();
  /** vCPUs and MB the hypervisor showed used before any server (the host's reserve). */
  let baseline: { vcpus: number; memoryMb: number };
  const t0 = Date.now();
  let stepStart = Date.now();
  const since = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
  const step = (what: string) => {
    console.log(`# ${what}: ${since(stepStart)} (${since(t0)} from the start)`);
    stepStart = Date.now();
  };

  const os = (args: string[], timeoutMs = 120_000) => cloud.openstack(args, {}, timeoutMs);
  /** Runs a command that may fail; returns its status and output. */
  const osTry = (args: string[], timeoutMs = STEP_MS) =>
    cloud.openstackRaw(['--os-cloud', 'nubo', ...args], { OS_CLIENT_CONFIG_FILE: cloud.cloudsFile, PATH: process.env.PATH, HOME: process.env.HOME }, timeoutMs);

  // The actions and what the test asserts go through `openstack`; waiting polls the APIs
  // themselves (each `openstack` run costs seconds of Python start-up, and its --wait polls every 5 s).
  let token: string;
  const endpoints: Record<string, string> = {};
  const api = async (service: 'compute' | 'image', method: string, path: string, body?: unknown) => {
    const res = await fetch(`${endpoints[service]}${path}`, {
      method,
      headers: { 'X-Auth-Token': token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const server = async (id: string) => (await api('compute', 'GET', `/servers/${id}`)).body?.server;
  const consoleText = async (id: string) => (await api('compute', 'POST', `/servers/${id}/action`, { 'os-getConsoleOutput': {} })).body.output as string;

  /** What went wrong in the server's last action, from its events (admins see the tracebacks). */
  const lastActionFailure = (name: string) => {
    try {
      const [last] = os(['server', 'event', 'list', name, '-f', 'json']);
      const detail = os(['server', 'event', 'show', name, last['Request ID'], '-f', 'json']);
      return `${detail.action}: ${JSON.stringify(detail.events.map((e: any) => ({ event: e.event, result: e.result, traceback: e.traceback?.split('\n').slice(0, 3).join(' | ') })))}`;
    } catch (e) {
      return `(no events: ${(e as Error).message})`;
    }
  };
  /** Polls the server until it has `status` and no task (or `settled` says it got elsewhere for good); fails at once on ERROR. */
  const waitFor = async (id: string, status: string, ms = STEP_MS) => {
    const until = Date.now() + ms;
    for (;;) {
      const s = await server(id);
      if (s.status === status && s['OS-EXT-STS:task_state'] === null) return s;
      if (s.status === 'ERROR' && status !== 'ERROR') assert.fail(`${s.name} went ERROR waiting for ${status}: ${JSON.stringify(s.fault)}; ${lastActionFailure(id)}`);
      if (Date.now() > until) assert.fail(`${s.name} is ${s.status}/${s['OS-EXT-STS:task_state']}, not ${status}, after ${ms} ms; ${lastActionFailure(id)}`);
      await sleep(300);
    }
  };
  /**
   * `openstack server <action> vm1`, then waits for `status`; with `power`,
   * checks that `openstack server show` says that status and power state.
   */
  const serverAction = async (action: string[], status: string, power?: number) => {
    os(['server', ...action, 'vm1']);
    await waitFor(vm1.id, status);
    if (power === undefined) return;
    const s = os(['server', 'show', 'vm1', '-f', 'json']);
    assert.deepEqual([s.status, s['OS-EXT-STS:power_state']], [status, power], `openstack server show after ${action.join(' ')}`);
  };
  /**
   * Polls the console until `until` holds for the guest's boots, then reads it
   * with `openstack console log show` (what the test asserts on).
   */
  const waitConsole = async (vm: { id: string }, what: string, until: (boots: GuestBoot[], text: string) => boolean, ms = STEP_MS) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = await consoleText(vm.id);
      if (until(parseGuestConsole(text), text)) break;
      if (Date.now() > deadline) assert.fail(`the console of ${vm.id} did not show ${what} in ${ms} ms:\n${withoutTicks(text).slice(-3000)}`);
      await sleep(500);
    }
    const text = os(['console', 'log', 'show', vm.id]);
    const boots = parseGuestConsole(text);
    assert.ok(until(boots, text), `openstack console log show does not show ${what}:\n${withoutTicks(text).slice(-3000)}`);
    return { boots, text };
  };
  const readyBoots = (boots: GuestBoot[]) => boots.filter((b) => b.ready);
  /** The pid of the instance's running QEMU (from its pidfile), remembered for the delete's check. */
  const runningPid = (vm: { id: string; dir: InstanceDir }) => {
    const pid = Number(readFileSync(vm.dir.pidfile, 'utf8').trim());
    assert.ok(qemuRuns(pid, vm.id), `no QEMU ${pid} runs for ${vm.id}`);
    if (!pids.has(vm.id)) pids.set(vm.id, new Set());
    pids.get(vm.id)!.add(pid);
    return pid;
  };
  const gone = async (pid: number, uuid: string) => {
    for (let i = 0; i < 40 && qemuRuns(pid, uuid); i++) await sleep(250);
    return !qemuRuns(pid, uuid);
  };
  /** What `openstack hypervisor list --long` shows used (the host's reserve plus the allocations in placement). */
  const used = () => {
    const [hv] = os(['hypervisor', 'list', '--long', '-f', 'json']);
    return { vcpus: hv['vCPUs Used'], memoryMb: hv['Memory MB Used'] };
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'nubo-e2e-kvm-'));
    const guest = await testGuestImage();
    // The KVM probe's answer, kept where the qemu driver's tests keep it: without it the agent
    // probes at start (up to 40 s where KVM is broken).
    const dataDir = mkdtempSync(join(tmpdir(), 'nubo-e2e-'));
    stateDir = join(dataDir, 'instances');
    const probe = join(tmpdir(), 'nubo-test-accel-probe.json');
    await detectAccel('auto', QEMU_BINARY, createLogger({ level: 'silent' }), { qemuVersion: await qemuVersion(), cacheFile: probe });
    mkdirSync(stateDir);
    copyFileSync(probe, join(stateDir, 'accel-probe.json'));
    cloud = await startAllInOne({ dataDir, env: { NUBO_COMPUTE_DRIVER: 'qemu', NUBO_COMPUTE_DEFAULT_IMAGE: guest }, startTimeoutMs: 240_000 });
    const auth = parse(readFileSync(cloud.cloudsFile, 'utf8')).clouds.nubo.auth;
    const identity = auth.auth_url.replace(/\/$/, '');
    const res = await fetch(`${identity.endsWith('/v3') ? identity : `${identity}/v3`}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: auth.username, domain: { name: auth.user_domain_name ?? 'Default' }, password: auth.password } } },
          scope: { project: { name: auth.project_name, domain: { name: auth.project_domain_name ?? 'Default' } } },
        },
      }),
    });
    assert.equal(res.status, 201);
    token = res.headers.get('x-subject-token')!;
    for (const entry of ((await res.json()) as any).token.catalog) {
      if (entry.type === 'compute' || entry.type === 'image') endpoints[entry.type] = entry.endpoints.find((e: any) => e.interface === 'public').url.replace(/\/$/, '');
    }
    step('all-in-one started');
  });
  after(async () => {
    await cloud?.stop();
    if (cloud) removeDataDir(cloud.dataDir);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('create with a keypair and user data → ACTIVE; the console shows the uuid, hostname, key and user data of the config drive', { timeout: STEP_MS * 2 }, async () => {
    assert.match(cloud.stderr, /driver qemu \((KVM|TCG)\)/);
    baseline = used();
    os(['keypair', 'create', 'k']);
    publicKey = os(['keypair', 'show', '--public-key', 'k']).trim();
    const udFile = join(work, 'user-data');
    writeFileSync(udFile, USER_DATA);
    const created = os(['server', 'create', '--image', 'nubo-guest', '--flavor', 'm1.nano', '--key-name', 'k', '--user-data', udFile, 'vm1', '-f', 'json']);
    vm1 = { id: created.id, dir: new InstanceDir(stateDir, created.id) };
    await waitFor(vm1.id, 'ACTIVE');
    step('vm1 ACTIVE');
    const { boots, text } = await waitConsole(vm1, 'the guest ready', (b, t) => readyBoots(b).length === 1 && ticks(t).length > 0);
    const boot = boots.at(-1)!.values;
    assert.equal(boot.uuid, vm1.id);
    assert.equal(boot.hostname, 'vm1');
    assert.equal(boot.public_key, publicKey);
    assert.equal(boot.user_data, '#!/bin/sh');
    assert.equal(boot.boot, '1');
    assert.equal(boot.ram_mb, '128', 'the guest has m1.nano\'s memory');
    assert.equal(boots.length, 1, `one boot:\n${text}`);
    runningPid(vm1);
    const shown = os(['server', 'show', 'vm1', '-f', 'json']);
    assert.equal(shown.status, 'ACTIVE');
    assert.equal(shown['OS-EXT-STS:power_state'], 1);
    assert.deepEqual(used(), { vcpus: baseline.vcpus + 1, memoryMb: baseline.memoryMb + 128 }, 'the hypervisor counts m1.nano as used');
    step('vm1 console ready');
  });

  test('reboot --soft and reboot --hard: the console shows a second and a third boot, each with a new boot_id', { timeout: STEP_MS * 3 }, async () => {
    const first = readyBoots(parseGuestConsole(await consoleText(vm1.id)));
    const softPid = runningPid(vm1);
    await serverAction(['reboot', '--soft'], 'ACTIVE');
    let { boots, text } = await waitConsole(vm1, 'a second boot', (b) => readyBoots(b).length === 2);
    assert.ok(text.includes('nubo-guest: powerdown'), 'a soft reboot asks the guest to power down (ACPI)');
    assert.notEqual(boots.at(-1)!.values.boot_id, first[0].values.boot_id);
    assert.equal(boots.at(-1)!.values.boot, '2');
    assert.equal(boots.at(-1)!.values.uuid, vm1.id);
    assert.ok(!qemuRuns(softPid, vm1.id), 'a soft reboot starts QEMU again after the guest powered off');
    step('soft reboot');

    const hardPid = runningPid(vm1);
    await serverAction(['reboot', '--hard'], 'ACTIVE');
    ({ boots, text } = await waitConsole(vm1, 'a third boot', (b) => readyBoots(b).length === 3));
    const ids = new Set(readyBoots(boots).map((b) => b.values.boot_id));
    assert.equal(ids.size, 3, `three boots, three boot ids: ${[...ids]}`);
    assert.equal(boots.at(-1)!.values.boot, '3');
    assert.equal(runningPid(vm1), hardPid, 'a hard reboot resets the same QEMU (system_reset)');
    assert.equal(os(['server', 'show', 'vm1', '-f', 'json']).status, 'ACTIVE');
    step('hard reboot');
  });

  test('stop → SHUTOFF with no QEMU process; start → ACTIVE and a fourth boot', { timeout: STEP_MS * 2 }, async () => {
    const pid = runningPid(vm1);
    await serverAction(['stop'], 'SHUTOFF', 4);
    assert.ok(await gone(pid, vm1.id), `QEMU ${pid} still runs with the server SHUTOFF`);
    assert.ok(vm1.dir.exists(), 'a stopped server keeps its directory');
    step('stop');
    await serverAction(['start'], 'ACTIVE');
    const { boots } = await waitConsole(vm1, 'a fourth boot', (b) => readyBoots(b).length === 4);
    assert.equal(boots.at(-1)!.values.boot, '4');
    assert.notEqual(runningPid(vm1), pid);
    step('start');
  });

  test('pause → PAUSED, unpause → ACTIVE: the same QEMU, no new boot, the guest goes on', { timeout: STEP_MS * 2 }, async () => {
    const pid = runningPid(vm1);
    await serverAction(['pause'], 'PAUSED', 3);
    const paused = ticks(await consoleText(vm1.id)).at(-1)!;
    await sleep(3000);
    assert.equal(ticks(await consoleText(vm1.id)).at(-1), paused, 'a paused guest does not run');
    assert.equal(runningPid(vm1), pid);
    await serverAction(['unpause'], 'ACTIVE');
    const { boots } = await waitConsole(vm1, 'the guest counting on', (_b, t) => (ticks(t).at(-1) ?? 0) > paused);
    assert.equal(readyBoots(boots).length, 4, 'no new boot');
    assert.equal(runningPid(vm1), pid);
    step('pause/unpause');
  });

  test('suspend → SUSPENDED (state saved, QEMU gone); resume → ACTIVE where it was: same boot_id, the counter goes on', { timeout: STEP_MS * 2 }, async () => {
    const pid = runningPid(vm1);
    const bootId = readyBoots(parseGuestConsole(await consoleText(vm1.id))).at(-1)!.values.boot_id;
    await serverAction(['suspend'], 'SUSPENDED', 7);
    assert.ok(await gone(pid, vm1.id), `QEMU ${pid} still runs with the server SUSPENDED`);
    assert.ok(existsSync(vm1.dir.suspendState), 'the guest state is saved in the instance directory');
    const last = ticks(await consoleText(vm1.id)).at(-1)!;
    step('suspend');
    await serverAction(['resume'], 'ACTIVE');
    const { boots, text } = await waitConsole(vm1, 'the guest counting on', (_b, t) => (ticks(t).at(-1) ?? 0) > last + 1);
    assert.equal(readyBoots(boots).length, 4, 'resume is no new boot');
    assert.equal(boots.at(-1)!.values.boot_id, bootId);
    const after = ticks(text);
    assert.equal(after[after.lastIndexOf(last) + 1], last + 1, 'the counter goes on from where it was');
    assert.notEqual(runningPid(vm1), pid, 'resume starts QEMU from the saved state');
    assert.ok(!existsSync(vm1.dir.suspendState), 'resume removes the saved state');
    step('suspend/resume');
  });

  // Needs the qemu driver's snapshot (not in this branch: until then the agent fails it with NotSupported).
  test('server image create makes a snapshot image; a second server boots from it with vm1\'s disk', { timeout: STEP_MS * 3 }, async () => {
    const vm1Boots = readyBoots(parseGuestConsole(await consoleText(vm1.id))).length;
    const r = osTry(['server', 'image', 'create', '--name', 'vm1-snap', 'vm1', '-f', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const imageId = JSON.parse(r.stdout).id;
    for (const until = Date.now() + STEP_MS; ; await sleep(500)) {
      const got = await api('image', 'GET', `/v2/images/${imageId}`);
      if (got.status === 200 && got.body.status === 'active') break;
      if (got.status === 404 || Date.now() > until) assert.fail(`the snapshot image is ${got.status === 404 ? 'gone' : got.body.status}; ${lastActionFailure(vm1.id)}`);
    }
    await waitFor(vm1.id, 'ACTIVE');
    const image = os(['image', 'show', 'vm1-snap', '-f', 'json']);
    assert.equal(image.status, 'active');
    assert.equal(image.properties.image_type, 'snapshot');
    assert.equal(image.properties.instance_uuid, vm1.id);
    step('snapshot');

    const created = os(['server', 'create', '--image', 'vm1-snap', '--flavor', 'm1.nano', '--key-name', 'k', 'vm2', '-f', 'json']);
    vm2 = { id: created.id, dir: new InstanceDir(stateDir, created.id) };
    await waitFor(vm2.id, 'ACTIVE');
    const { boots } = await waitConsole(vm2, 'the guest ready', (b) => readyBoots(b).length === 1);
    const boot = boots.at(-1)!.values;
    assert.equal(boot.uuid, vm2.id);
    assert.equal(boot.hostname, 'vm2');
    assert.equal(boot.boot, String(vm1Boots + 1), 'vm2\'s disk is vm1\'s: its boot counter goes on from vm1\'s');
    runningPid(vm2);
    step('vm2 from the snapshot ready');
  });

  // Needs the qemu driver's resize (migrateDiskAndPowerOff, finishMigration, confirmMigration; not in this branch).
  test(`resize --flavor ${BIGGER.name} → VERIFY_RESIZE, resize confirm → ACTIVE; the guest sees the new memory`, { timeout: STEP_MS * 3 }, async () => {
    const lastBoot = Number(readyBoots(parseGuestConsole(await consoleText(vm1.id))).at(-1)!.values.boot);
    os(['server', 'resize', '--flavor', BIGGER.name, 'vm1']);
    // A resize the driver cannot do puts the server back ACTIVE: the migration and the events say why.
    for (const until = Date.now() + STEP_MS; ; await sleep(500)) {
      const s = await server(vm1.id);
      if (s.status === 'VERIFY_RESIZE') break;
      if ((s.status !== 'RESIZE' && s['OS-EXT-STS:task_state'] === null) || Date.now() > until) {
        assert.fail(`resize left vm1 ${s.status}/${s['OS-EXT-STS:task_state']}; ${lastActionFailure(vm1.id)}`);
      }
    }
    assert.equal(os(['server', 'show', 'vm1', '-f', 'json']).status, 'VERIFY_RESIZE');
    step('resize');
    await serverAction(['resize', 'confirm'], 'ACTIVE');
    const s = os(['server', 'show', 'vm1', '-f', 'json']);
    assert.match(s.flavor, new RegExp(`^${BIGGER.name.replace('.', '\\.')} `));
    // The console log may start again with the resized guest (the old one stays with the disks kept for a revert, as in Nova).
    const { boots } = await waitConsole(vm1, 'a boot with the new flavor', (b) => b.some((x) => x.ready && Number(x.values.boot) > lastBoot));
    const boot = boots.at(-1)!.values;
    assert.equal(boot.boot, String(lastBoot + 1), 'the resized guest boots its own disk, once');
    assert.equal(boot.ram_mb, String(BIGGER.ram), `the guest has ${BIGGER.name}'s memory`);
    assert.ok(Number(boot.memory_mb) > 128, `the kernel sees more memory than m1.nano's: ${boot.memory_mb}`);
    assert.equal(boot.uuid, vm1.id);
    runningPid(vm1);
    const expected = { vcpus: baseline.vcpus + 1 + (vm2 ? 1 : 0), memoryMb: baseline.memoryMb + BIGGER.ram + (vm2 ? 128 : 0) };
    assert.deepEqual(used(), expected, 'after the confirm only the new flavor is claimed');
    step('resize confirm');
  });

  test('delete: no QEMU process, no instance directory, no cached image, nothing used on the hypervisor', { timeout: STEP_MS * 2 }, async () => {
    const vms = [vm1, ...(vm2 ? [vm2] : [])];
    os(['server', 'delete', ...vms.map((v) => v.id)]);
    for (const vm of vms) {
      for (const until = Date.now() + STEP_MS; (await api('compute', 'GET', `/servers/${vm.id}`)).status !== 404; await sleep(300)) {
        if (Date.now() > until) assert.fail(`${vm.id} is not gone after ${STEP_MS} ms`);
      }
    }
    assert.deepEqual(os(['server', 'list', '-f', 'json']), []);
    for (const vm of vms) {
      for (const pid of pids.get(vm.id) ?? []) assert.ok(await gone(pid, vm.id), `QEMU ${pid} of ${vm.id} still runs after the delete`);
      assert.ok(!vm.dir.exists(), `${vm.dir.path} remains after the delete`);
    }
    assert.deepEqual(await instanceUuids(stateDir), [], 'no instance directory is left in the state directory');
    const base = join(stateDir, '_base');
    assert.deepEqual(existsSync(base) ? readdirSync(base) : [], [], 'no cached base image is left once no instance uses it');
    assert.deepEqual(used(), baseline, 'the hypervisor shows only its reserve used again');
    step('delete');
  });
});
