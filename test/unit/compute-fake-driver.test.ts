// The fake compute driver (compute-driver/drivers/fake): the driver rules of
// driver.ts, latency, injected failures and the test hooks; plus the small
// helpers the agent builds on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DriverError, InstanceInvalidState, InstanceNotFound, emptyBlockDeviceInfo, tailLines, versionToInt, type LifecycleEvent } from '../../compute-driver/driver.ts';
import { FakeDriver, FakeFailure, uptimeLine } from '../../compute-driver/drivers/fake/index.ts';
import { sampleImage, sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { KeyedSerializer } from '../../compute-driver/agent/serializer.ts';
import { PowerState } from '../../compute-driver/states.ts';

const spawn = (driver: FakeDriver, metadata: Record<string, string> = {}, powerOn = true) => {
  const instance = sampleInstance({ metadata });
  return driver.spawn(instance, sampleImage, [], emptyBlockDeviceInfo(), { powerOn }).then(() => instance);
};
const power = async (driver: FakeDriver, uuid: string) => (await driver.getInfo({ uuid, name: '' })).powerState;

describe('fake driver', () => {
  test('spawn runs a guest, destroy removes it, and resources follow', async () => {
    const driver = new FakeDriver({ vcpus: 8, memoryMb: 4096, localGb: 100 });
    await driver.init('node-a');
    const idle = await driver.getAvailableResources();
    assert.equal(idle.hypervisor_hostname, 'node-a');
    assert.equal(idle.hypervisor_type, 'fake');
    assert.deepEqual([idle.vcpus, idle.memory_mb, idle.local_gb, idle.vcpus_used, idle.memory_mb_used, idle.local_gb_used], [8, 4096, 100, 0, 0, 0]);

    const instance = await spawn(driver);
    assert.equal(await power(driver, instance.uuid), PowerState.RUNNING);
    assert.deepEqual(await driver.listInstances(), [{ uuid: instance.uuid, name: instance.name }]);
    const busy = await driver.getAvailableResources();
    assert.deepEqual([busy.vcpus_used, busy.memory_mb_used, busy.local_gb_used], [1, 512, 1]);

    await driver.destroy(instance);
    await driver.destroy(instance); // a missing guest is fine
    assert.deepEqual(await driver.listInstances(), []);
    await assert.rejects(driver.getInfo(instance), InstanceNotFound);
    assert.equal((await driver.getAvailableResources()).vcpus_used, 0);
  });

  test('spawn with powerOn false leaves the guest shut down; a second spawn of it fails', async () => {
    const driver = new FakeDriver();
    const instance = await spawn(driver, {}, false);
    assert.equal(await power(driver, instance.uuid), PowerState.SHUTDOWN);
    await assert.rejects(driver.spawn(instance, sampleImage, [], emptyBlockDeviceInfo()), { name: 'InstanceExists' });
  });

  test('power transitions as Nova numbers them, and refused ones', async () => {
    const driver = new FakeDriver();
    const { uuid, name } = await spawn(driver);
    const ref = { uuid, name };
    const steps: [() => Promise<void>, PowerState][] = [
      [() => driver.pause(ref), PowerState.PAUSED],
      [() => driver.unpause(ref), PowerState.RUNNING],
      [() => driver.suspend(ref), PowerState.SUSPENDED],
      [() => driver.resume(ref), PowerState.RUNNING],
      [() => driver.powerOff(ref, 0, 0), PowerState.SHUTDOWN],
      [() => driver.powerOff(ref, 0, 0), PowerState.SHUTDOWN],
      [() => driver.powerOn(ref), PowerState.RUNNING],
      [() => driver.reboot(ref, 'SOFT'), PowerState.RUNNING],
    ];
    for (const [step, expected] of steps) {
      await step();
      assert.equal(await power(driver, uuid), expected);
    }
    await driver.powerOff(ref);
    await driver.reboot(ref, 'HARD');
    assert.equal(await power(driver, uuid), PowerState.RUNNING, 'a reboot ends running whatever the state');
    await assert.rejects(driver.unpause(ref), InstanceInvalidState);
    await driver.powerOff(ref);
    await assert.rejects(driver.pause(ref), InstanceInvalidState);
    await assert.rejects(driver.resume(ref), InstanceInvalidState);
    const gone = { uuid: 'nope', name: 'nope' };
    for (const op of [() => driver.reboot(gone, 'HARD'), () => driver.powerOn(gone), () => driver.powerOff(gone), () => driver.getConsoleOutput(gone)]) {
      await assert.rejects(op(), InstanceNotFound);
    }
  });

  test('spawn latency from the driver, and per instance from metadata', async () => {
    const driver = new FakeDriver({ spawnMs: 60 });
    let started = Date.now();
    await spawn(driver);
    assert.ok(Date.now() - started >= 55, 'spawn_ms delays the spawn');
    started = Date.now();
    await spawn(driver, { fake_spawn_ms: '0' });
    assert.ok(Date.now() - started < 50, 'fake_spawn_ms overrides it');
  });

  test('injected failures: metadata fake_fail and fail_rate', async () => {
    const driver = new FakeDriver();
    await assert.rejects(spawn(driver, { fake_fail: 'spawn' }), (e: unknown) => e instanceof FakeFailure && e.reschedule && e.code === 500);
    await assert.rejects(spawn(driver, { fake_fail: 'spawn_abort' }), (e: unknown) => e instanceof DriverError && !e.reschedule);
    assert.deepEqual(await driver.listInstances(), [], 'a failed spawn leaves nothing');

    const instance = await spawn(driver, { fake_fail: 'reboot, pause,console' });
    await assert.rejects(driver.reboot(instance, 'SOFT'), /injected reboot failure/);
    await assert.rejects(driver.pause(instance), /injected pause failure/);
    await assert.rejects(driver.getConsoleOutput(instance), /injected console failure/);
    await driver.powerOff(instance); // not named: works
    assert.equal(await power(driver, instance.uuid), PowerState.SHUTDOWN);

    const draws = [0.1, 0.9, 0.4];
    const flaky = new FakeDriver({ failRate: 0.5, random: () => draws.shift() ?? 1 });
    await assert.rejects(spawn(flaky), FakeFailure);
    await spawn(flaky);
    await assert.rejects(spawn(flaky), FakeFailure);
    assert.equal((await flaky.listInstances()).length, 1);
  });

  test('console output, tailed', async () => {
    const driver = new FakeDriver();
    const instance = await spawn(driver);
    await driver.reboot(instance, 'HARD');
    const all = await driver.getConsoleOutput(instance);
    assert.match(all, new RegExp(`${instance.name} .* created from image ${sampleImage.id}`));
    assert.match(all, /hard reboot/);
    assert.equal(await driver.getConsoleOutput(instance, 1), `${instance.hostname} login:`);
    assert.equal(await driver.getConsoleOutput(instance, 0), '');
  });

  test('test hooks: power changes from inside (with a lifecycle event), vanished and stray guests', async () => {
    const driver = new FakeDriver();
    const events: LifecycleEvent[] = [];
    driver.onLifecycleEvent((e) => events.push(e));
    const instance = await spawn(driver);
    driver.setPowerState(instance.uuid, PowerState.SHUTDOWN);
    assert.equal(await power(driver, instance.uuid), PowerState.SHUTDOWN);
    assert.deepEqual(events, []);
    driver.setPowerState(instance.uuid, PowerState.CRASHED, { event: true });
    assert.deepEqual(events, [{ uuid: instance.uuid, powerState: PowerState.CRASHED }]);
    driver.vanish(instance.uuid);
    await assert.rejects(driver.getInfo(instance), InstanceNotFound);
    driver.addGuest({ uuid: 'stray', name: 'instance-stray' });
    assert.deepEqual(await driver.listInstances(), [{ uuid: 'stray', name: 'instance-stray' }]);
    await driver.cleanupHost();
    driver.setPowerState('stray', PowerState.SHUTDOWN, { event: true });
    assert.equal(events.length, 1, 'cleanupHost drops the listener');
  });
});

describe('driver helpers', () => {
  test('tailLines keeps the last lines as Nova tails a console log', () => {
    assert.equal(tailLines('a\nb\nc', 2), 'b\nc');
    assert.equal(tailLines('a\nb\nc', 10), 'a\nb\nc');
    assert.equal(tailLines('a\nb\nc', null), 'a\nb\nc');
    assert.equal(tailLines('a\nb\nc', 0), '');
  });

  test('versionToInt encodes as Nova does', () => {
    assert.equal(versionToInt('1.0'), 1_000_000);
    assert.equal(versionToInt('8.2.1'), 8_002_001);
  });
});

describe('instance lock (KeyedSerializer)', () => {
  test('one key runs in order, one at a time; other keys run alongside; a failure does not block the next', async () => {
    const locks = new KeyedSerializer();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) => async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      if (fail) throw new Error(name);
    };
    const a1 = locks.run('a', job('a1', 30, true));
    const a2 = locks.run('a', job('a2', 5));
    const b1 = locks.run('b', job('b1', 5));
    assert.ok(locks.busy('a') && locks.busy('b') && !locks.busy('c'));
    await assert.rejects(a1, /a1/);
    await a2;
    await b1;
    await locks.idle();
    assert.ok(!locks.busy('a'));
    assert.deepEqual(
      log.filter((l) => l.startsWith('a')),
      ['a1+', 'a1-', 'a2+', 'a2-'],
    );
    assert.ok(log.indexOf('b1-') < log.indexOf('a1-'), 'b ran while a1 did');
  });
});

describe('fake driver: uptime and resize', () => {
  test('uptime prints as `uptime` does', async () => {
    const at = new Date(2030, 0, 1, 8, 32, 11);
    assert.equal(uptimeLine(at, (3 * 1440 + 2 * 60 + 4) * 60_000), ' 08:32:11 up 3 days,  2:04,  0 users,  load average: 0.00, 0.00, 0.00');
    assert.equal(uptimeLine(at, 5 * 60_000), ' 08:32:11 up 5 min,  0 users,  load average: 0.00, 0.00, 0.00');
    assert.match(await new FakeDriver().getHostUptime(), /^ \d\d:\d\d:\d\d up 0 min, {2}0 users, {2}load average/);
  });

  test('a resize keeps the guest aside until confirmed; a smaller root disk is refused with the guest untouched', async () => {
    const d = new FakeDriver();
    const base = sampleInstance({});
    const spec = { ...base, flavor: { ...base.flavor, root_gb: 10 } };
    const image = sampleImage;
    await d.spawn(spec, image, [], emptyBlockDeviceInfo());
    const move = (root: number) => ({
      uuid: 'm', migration_type: 'resize' as const, source_compute: 'h', source_node: 'h', dest_compute: 'h', dest_node: 'h',
      old_flavor: spec.flavor, new_flavor: { ...spec.flavor, root_gb: root }, old_vm_state: 'active',
    });
    await assert.rejects(d.migrateDiskAndPowerOff(spec, move(5)), /Unable to resize disk down/);
    assert.equal((await d.getInfo(spec)).powerState, PowerState.RUNNING);
    await d.migrateDiskAndPowerOff(spec, move(20));
    assert.equal(d.keptAside(spec.uuid), true);
    await assert.rejects(d.getInfo(spec), InstanceNotFound);
    await d.finishMigration({ ...spec, flavor: move(20).new_flavor }, move(20), '{}', image, [], emptyBlockDeviceInfo(), true, true);
    assert.equal((await d.getInfo(spec)).powerState, PowerState.RUNNING);
    await d.confirmMigration(spec);
    assert.equal(d.keptAside(spec.uuid), false);
  });
});
