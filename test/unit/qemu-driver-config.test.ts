/**
 * What the qemu driver makes of an instance without running a guest: the
 * QEMU argument vector (CPU topology, disk buses, machine type, RNG, UEFI)
 * and the config drive's documents (read back from the ISO with isoinfo
 * when genisoimage is there).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ImageUnacceptable, type ImageMeta, type Vif } from '../../compute-driver/driver.ts';
import { sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import { buildConfigDrive, networkData } from '../../compute-driver/drivers/qemu/config-drive.ts';
import { InstanceDir } from '../../compute-driver/drivers/qemu/instance-dir.ts';
import { cpuTopology, machineArgs, OVMF_CODE, withAccel, withSerialSocket } from '../../compute-driver/drivers/qemu/machine.ts';

const tcg = { accel: 'tcg' as const, cpu: 'max', reason: 'test' };
const dir = new InstanceDir('/srv/nubo/instances', '11111111-2222-4333-8444-555555555555');
const disks = { root: dir.disk, ephemeral: dir.ephemeral, swap: null, configDrive: dir.configDrive };
const imageWith = (properties: Record<string, unknown>): ImageMeta => ({ id: 'img', disk_format: 'qcow2', properties });
const flavor = (vcpus: number, extra_specs: Record<string, string> = {}) => ({ flavorid: 'f', name: 'f', vcpus, memory_mb: 256, root_gb: 1, ephemeral_gb: 0, swap: 0, extra_specs });
const devices = (args: string[]) => args.filter((_, i) => args[i - 1] === '-device');

describe('qemu machine arguments', () => {
  test('a launch record from before the serial console gets the logging socket chardev; a current one is left as it is', () => {
    const now = machineArgs(sampleInstance({ flavor: flavor(1) }), imageWith({}), tcg, dir, disks);
    assert.deepEqual(withSerialSocket(now, dir), now);
    const old = now.map((a) => (a.startsWith('socket,id=serial0,') ? `file,id=serial0,path=${dir.console},append=on` : a));
    assert.notDeepEqual(old, now);
    assert.deepEqual(withSerialSocket(old, dir), now);
  });

  test('the CPU topology comes from the flavor, then the image, and must make the vCPU count', () => {
    assert.deepEqual(cpuTopology(sampleInstance({ flavor: flavor(4) }), imageWith({})), { sockets: 4, cores: 1, threads: 1 });
    assert.deepEqual(cpuTopology(sampleInstance({ flavor: flavor(4, { 'hw:cpu_cores': '2' }) }), imageWith({})), { sockets: 2, cores: 2, threads: 1 });
    assert.deepEqual(cpuTopology(sampleInstance({ flavor: flavor(4) }), imageWith({ hw_cpu_threads: 2 })), { sockets: 2, cores: 1, threads: 2 });
    assert.deepEqual(cpuTopology(sampleInstance({ flavor: flavor(4, { 'hw:cpu_sockets': '1' }) }), imageWith({ hw_cpu_sockets: 4 })), { sockets: 1, cores: 4, threads: 1 });
    assert.throws(() => cpuTopology(sampleInstance({ flavor: flavor(4, { 'hw:cpu_cores': '3' }) }), imageWith({})), ImageUnacceptable);
    assert.throws(() => cpuTopology(sampleInstance({ flavor: flavor(2, { 'hw:cpu_cores': 'two' }) }), imageWith({})), ImageUnacceptable);
  });

  test('virtio disks by default, with memory, smp, the serial console (a socket that logs), QMP and VNC sockets', () => {
    const inst = sampleInstance({ flavor: flavor(2) });
    const args = machineArgs(inst, imageWith({}), tcg, dir, disks);
    assert.equal(args[args.indexOf('-m') + 1], '256');
    assert.equal(args[args.indexOf('-smp') + 1], '2,sockets=2,cores=1,threads=1');
    assert.equal(args[args.indexOf('-machine') + 1], 'pc,accel=tcg');
    assert.equal(args[args.indexOf('-uuid') + 1], inst.uuid);
    assert.ok(args.includes(`socket,id=qmp,path=${dir.qmp},server=on,wait=off`));
    assert.ok(args.includes(`socket,id=serial0,path=${dir.serial},server=on,wait=off,logfile=${dir.console},logappend=on`));
    assert.ok(args.includes(`unix:${dir.vnc}`));
    assert.deepEqual(
      devices(args).filter((d) => /^(virtio-blk|ide-cd)/.test(d)),
      ['virtio-blk-pci,drive=disk0,id=disk0-dev,bootindex=1', 'virtio-blk-pci,drive=disk1,id=disk1-dev', 'ide-cd,bus=ide.0,unit=0,drive=cd0,id=cd0-dev'],
    );
    assert.ok(!devices(args).some((d) => d.startsWith('virtio-rng')));
  });

  test('hw_disk_bus ide, sata and scsi put the disks on their controllers; the CD-ROM takes the next IDE port', () => {
    const inst = sampleInstance({ flavor: flavor(1) });
    const ide = devices(machineArgs(inst, imageWith({ hw_disk_bus: 'ide' }), tcg, dir, disks));
    assert.ok(ide.includes('ide-hd,bus=ide.0,unit=0,drive=disk0,id=disk0-dev,bootindex=1'));
    assert.ok(ide.includes('ide-hd,bus=ide.0,unit=1,drive=disk1,id=disk1-dev'));
    assert.ok(ide.includes('ide-cd,bus=ide.1,unit=0,drive=cd0,id=cd0-dev'));
    const q35 = devices(machineArgs(inst, imageWith({ hw_disk_bus: 'sata', hw_machine_type: 'q35' }), tcg, dir, disks));
    assert.ok(q35.includes('ide-hd,bus=ide.0,drive=disk0,id=disk0-dev,bootindex=1'));
    assert.ok(q35.includes('ide-cd,bus=ide.2,drive=cd0,id=cd0-dev'));
    const scsi = devices(machineArgs(inst, imageWith({ hw_disk_bus: 'scsi' }), tcg, dir, disks));
    assert.ok(scsi.includes('virtio-scsi-pci,id=scsi0'));
    assert.ok(scsi.includes('scsi-hd,bus=scsi0.0,drive=disk0,id=disk0-dev,bootindex=1'));
    assert.throws(() => machineArgs(inst, imageWith({ hw_disk_bus: 'floppy' }), tcg, dir, disks), ImageUnacceptable);
    assert.throws(() => machineArgs(inst, imageWith({ hw_machine_type: 'virt' }), tcg, dir, disks), ImageUnacceptable);
  });

  test('a guest started again gets the accelerator the host runs now', () => {
    const args = withAccel(machineArgs(sampleInstance(), imageWith({ hw_machine_type: 'q35' }), tcg, dir, disks), { accel: 'kvm', cpu: 'host', reason: '' });
    assert.equal(args[args.indexOf('-machine') + 1], 'q35,accel=kvm');
    assert.equal(args[args.indexOf('-cpu') + 1], 'host');
  });

  test('hw_rng:allowed adds a virtio RNG; hw_firmware_type uefi boots OVMF with the instance its own variables', () => {
    const rng = machineArgs(sampleInstance({ flavor: flavor(1, { 'hw_rng:allowed': 'True' }) }), imageWith({}), tcg, dir, disks);
    assert.ok(devices(rng).includes('virtio-rng-pci,rng=rng0'));
    const uefiImage = imageWith({ hw_firmware_type: 'uefi' });
    if (existsSync(OVMF_CODE)) {
      const args = machineArgs(sampleInstance(), uefiImage, tcg, dir, disks);
      assert.ok(args.includes(`if=pflash,format=raw,unit=1,file=${dir.nvram}`));
    } else {
      assert.throws(() => machineArgs(sampleInstance(), uefiImage, tcg, dir, disks), ImageUnacceptable);
    }
  });
});

const vif: Vif = {
  id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
  address: 'fa:16:3e:00:00:01',
  type: 'ovs',
  network: {
    id: 'net-1',
    label: 'private',
    mtu: 1450,
    subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.0.1', dns: ['10.0.0.2'], routes: [], ips: [{ address: '10.0.0.5', version: 4, type: 'fixed', floating_ips: [] }] }],
  },
};

describe('config drive', () => {
  test('network_data.json describes the interfaces, their addresses and DNS', () => {
    const data = networkData([vif]) as any;
    assert.deepEqual(data.links, [{ id: 'tapaaaaaaaa-bb', vif_id: vif.id, type: 'ovs', mtu: 1450, ethernet_mac_address: vif.address }]);
    assert.equal(data.networks[0].ip_address, '10.0.0.5');
    assert.equal(data.networks[0].netmask, '255.255.255.0');
    assert.deepEqual(data.networks[0].routes, [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.0.1' }]);
    assert.deepEqual(data.services, [{ type: 'dns', address: '10.0.0.2' }]);
    assert.deepEqual(networkData([]), { links: [], networks: [], services: [] });
  });

  const tools = ['genisoimage', 'isoinfo'].every((t) => {
    try {
      execFileSync(t, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  test('the ISO is labelled config-2 and holds the OpenStack documents under each version', { skip: tools ? false : 'genisoimage or isoinfo is missing' }, async () => {
    const work = await mkdtemp(join(tmpdir(), 'nubo-cd-test-'));
    try {
      const iso = join(work, 'disk.config');
      const inst = sampleInstance({ key_name: 'k', key_data: 'ssh-rsa AAAA k', metadata: { role: 'db' }, user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') });
      await buildConfigDrive(iso, inst, [vif], { adminPassword: 'pw', injectedFiles: [{ path: '/etc/motd', contents: Buffer.from('hello').toString('base64') }] });
      const read = (path: string) => execFileSync('isoinfo', ['-R', '-i', iso, '-x', path], { encoding: 'utf8' });
      assert.match(execFileSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' }), /Volume id: config-2/);
      for (const version of ['latest', '2012-08-10']) {
        const meta = JSON.parse(read(`/openstack/${version}/meta_data.json`));
        assert.equal(meta.uuid, inst.uuid);
        assert.equal(meta.hostname, inst.hostname);
        assert.equal(meta.name, inst.display_name);
        assert.deepEqual(meta.public_keys, { k: 'ssh-rsa AAAA k' });
        assert.deepEqual(meta.meta, { role: 'db' });
        assert.equal(meta.admin_pass, 'pw');
        assert.deepEqual(meta.files, [{ path: '/etc/motd', content_path: '/content/0000' }]);
        assert.equal(read(`/openstack/${version}/user_data`), '#!/bin/sh\necho hi\n');
        assert.equal(JSON.parse(read(`/openstack/${version}/network_data.json`)).networks[0].ip_address, '10.0.0.5');
        assert.deepEqual(JSON.parse(read(`/openstack/${version}/vendor_data2.json`)), {});
      }
      assert.equal(read('/openstack/content/0000'), 'hello');
      assert.equal(JSON.parse(read('/ec2/latest/meta-data.json'))['instance-id'], inst.name);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
