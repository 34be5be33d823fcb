import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { differentHostFilter, sameHostFilter, serverGroupAffinityFilter, serverGroupAntiAffinityFilter } from '../../scheduler/filters/affinity.ts';
import { availabilityZoneFilter } from '../../scheduler/filters/availability-zone.ts';
import { computeFilter, serviceIsUp } from '../../scheduler/filters/compute.ts';
import { imagePropertiesFilter } from '../../scheduler/filters/image-properties.ts';
import { filterHosts } from '../../scheduler/filters/index.ts';
import { coreFilter, diskFilter, ramFilter } from '../../scheduler/filters/resources.ts';
import type { HostFilter } from '../../scheduler/filters/types.ts';
import { imageRequirements, prepareRequest } from '../../scheduler/request.ts';
import type { HostState, RequestSpec, ServerGroup } from '../../scheduler/state.ts';
import { defaultOptions, hostState, NOW, smallFlavor } from '../support/scheduler.ts';

const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ flavor: smallFlavor, ...over });
const passes = (f: HostFilter, host: HostState, s: RequestSpec = spec(), hosts: HostState[] = [host]) =>
  f.passes(host, prepareRequest(s, hosts, defaultOptions, 1, NOW));

describe('ComputeFilter', () => {
  it('passes an enabled service heard from within service_down_time', () => {
    assert.equal(passes(computeFilter, hostState('a')), true);
    assert.equal(passes(computeFilter, hostState('a', { service: { lastSeenUp: NOW - 60_000 } })), true);
  });
  it('fails a disabled, forced-down, silent or never-seen service', () => {
    assert.equal(passes(computeFilter, hostState('a', { service: { disabled: true, disabledReason: 'maintenance' } })), false);
    assert.equal(passes(computeFilter, hostState('a', { service: { forcedDown: true } })), false);
    assert.equal(passes(computeFilter, hostState('a', { service: { lastSeenUp: NOW - 60_001 } })), false);
    assert.equal(passes(computeFilter, hostState('a', { service: { lastSeenUp: null } })), false);
  });
  it('serviceIsUp takes the clock skew either way, as Nova', () => {
    const s = hostState('a').service;
    assert.equal(serviceIsUp({ ...s, lastSeenUp: NOW + 30_000 }, NOW, 60_000), true);
    assert.equal(serviceIsUp({ ...s, lastSeenUp: NOW + 90_000 }, NOW, 60_000), false);
  });
});

describe('AvailabilityZoneFilter', () => {
  const az1 = hostState('a', { service: { availabilityZone: 'az1' } });
  it('passes any host when no zone is asked', () => {
    assert.equal(passes(availabilityZoneFilter, az1), true);
    assert.equal(passes(availabilityZoneFilter, az1, spec({ availabilityZone: null })), true);
  });
  it('passes only hosts in the zone asked', () => {
    assert.equal(passes(availabilityZoneFilter, az1, spec({ availabilityZone: 'az1' })), true);
    assert.equal(passes(availabilityZoneFilter, az1, spec({ availabilityZone: 'nova' })), false);
  });
});

describe('RamFilter, CoreFilter, DiskFilter', () => {
  it('RamFilter counts the allocation ratio and the reservation: (16384 − 512) × 1.5 = 23808 MB', () => {
    const big = (memoryMb: number) => spec({ flavor: { ...smallFlavor, memoryMb } });
    assert.equal(passes(ramFilter, hostState('a', { used: { MEMORY_MB: 20000 } }), big(3808)), true);
    assert.equal(passes(ramFilter, hostState('a', { used: { MEMORY_MB: 20000 } }), big(3809)), false);
  });
  it('RamFilter refuses an instance larger than the host, whatever the ratio (max_unit)', () => {
    assert.equal(passes(ramFilter, hostState('a'), spec({ flavor: { ...smallFlavor, memoryMb: 16385 } })), false);
  });
  it('CoreFilter: 8 vCPUs × 16 = 128', () => {
    assert.equal(passes(coreFilter, hostState('a', { used: { VCPU: 127 } })), true);
    assert.equal(passes(coreFilter, hostState('a', { used: { VCPU: 128 } })), false);
    assert.equal(passes(coreFilter, hostState('a'), spec({ flavor: { ...smallFlavor, vcpus: 9 } })), false);
  });
  it('DiskFilter counts root + ephemeral + swap (rounded up to GB); a volume-backed root takes none', () => {
    const flavor = { ...smallFlavor, rootGb: 100, ephemeralGb: 50, swap: 1 };
    assert.equal(passes(diskFilter, hostState('a', { used: { DISK_GB: 49 } }), spec({ flavor })), true);
    assert.equal(passes(diskFilter, hostState('a', { used: { DISK_GB: 50 } }), spec({ flavor })), false);
    assert.equal(passes(diskFilter, hostState('a', { used: { DISK_GB: 50 } }), spec({ flavor, bootFromVolume: true })), true);
  });
  it('a host without inventory of a class fails a request for it, and passes one that asks none', () => {
    const noDisk = hostState('a', { localGb: 0 });
    assert.equal(passes(diskFilter, noDisk), false);
    assert.equal(passes(diskFilter, noDisk, spec({ flavor: { ...smallFlavor, rootGb: 0 } })), true);
  });
});

describe('ImagePropertiesFilter', () => {
  const kvm = hostState('a', { supportedInstances: [['x86_64', 'kvm', 'hvm'], ['i686', 'kvm', 'hvm']] });
  const img = (imageProperties: Record<string, unknown>) => spec({ imageProperties });
  it('passes any host for an image asking nothing, even a host advertising nothing', () => {
    assert.equal(passes(imagePropertiesFilter, hostState('a', { supportedInstances: [] }), img({ os_distro: 'ubuntu' })), true);
  });
  it('matches architecture, hypervisor type and vm mode together', () => {
    assert.equal(passes(imagePropertiesFilter, kvm, img({ hw_architecture: 'x86_64', img_hv_type: 'kvm', hw_vm_mode: 'hvm' })), true);
    assert.equal(passes(imagePropertiesFilter, kvm, img({ hw_architecture: 'aarch64' })), false);
    assert.equal(passes(imagePropertiesFilter, kvm, img({ img_hv_type: 'qemu' })), false);
    assert.equal(passes(imagePropertiesFilter, kvm, img({ hw_vm_mode: 'xen' })), false);
    assert.equal(passes(imagePropertiesFilter, hostState('a', { supportedInstances: [] }), img({ hw_architecture: 'x86_64' })), false);
  });
  it('canonicalizes names and accepts the old property names', () => {
    assert.equal(passes(imagePropertiesFilter, kvm, img({ architecture: 'AMD64', hypervisor_type: 'KVM', vm_mode: 'hv' })), true);
    assert.equal(passes(imagePropertiesFilter, kvm, img({ hw_architecture: 'i386' })), true);
    assert.deepEqual(imageRequirements({ hw_vm_mode: 'pv', img_hv_type: 'xapi' }), { architecture: null, hypervisorType: 'xen', vmMode: 'xen' });
  });
});

describe('SameHostFilter and DifferentHostFilter', () => {
  const a = hostState('a', { instances: ['i1', 'i2'] });
  const b = hostState('b', { instances: ['i3'] });
  it('without hints every host passes', () => {
    assert.equal(passes(sameHostFilter, b), true);
    assert.equal(passes(differentHostFilter, a), true);
  });
  it('same_host keeps hosts running one of the instances (a string or a list)', () => {
    assert.equal(passes(sameHostFilter, a, spec({ schedulerHints: { same_host: 'i1' } })), true);
    assert.equal(passes(sameHostFilter, b, spec({ schedulerHints: { same_host: ['i1', 'i9'] } })), false);
  });
  it('different_host drops hosts running any of the instances', () => {
    assert.equal(passes(differentHostFilter, a, spec({ schedulerHints: { different_host: ['i9', 'i2'] } })), false);
    assert.equal(passes(differentHostFilter, b, spec({ schedulerHints: { different_host: ['i1', 'i2'] } })), true);
  });
});

describe('ServerGroupAffinityFilter and ServerGroupAntiAffinityFilter', () => {
  const group = (policy: ServerGroup['policy'], members: string[], over: Partial<ServerGroup> = {}): ServerGroup => ({ uuid: 'g', policy, members, ...over });
  const a = hostState('a', { instances: ['m1', 'x'] });
  const b = hostState('b', { instances: ['y'] });
  const hosts = [a, b];

  it('affinity: only the hosts of the members; any host for the first member', () => {
    const s = spec({ group: group('affinity', ['m1']) });
    assert.equal(passes(serverGroupAffinityFilter, a, s, hosts), true);
    assert.equal(passes(serverGroupAffinityFilter, b, s, hosts), false);
    assert.equal(passes(serverGroupAffinityFilter, b, spec({ group: group('affinity', []) }), hosts), true);
    assert.equal(passes(serverGroupAffinityFilter, b, spec({ group: group('affinity', ['m1'], { hosts: ['b'] }) }), hosts), true);
  });
  it('anti-affinity: not where a member runs, unless max_server_per_host allows more', () => {
    const s = spec({ group: group('anti-affinity', ['m1']) });
    assert.equal(passes(serverGroupAntiAffinityFilter, a, s, hosts), false);
    assert.equal(passes(serverGroupAntiAffinityFilter, b, s, hosts), true);
    assert.equal(passes(serverGroupAntiAffinityFilter, a, spec({ group: group('anti-affinity', ['m1'], { rules: { max_server_per_host: 2 } }) }), hosts), true);
  });
  it('anti-affinity does not hold a move’s source host (running the instance itself) against it', () => {
    const s = spec({ group: group('anti-affinity', ['m1', 'x']), instanceUuids: ['x'] });
    assert.equal(passes(serverGroupAntiAffinityFilter, a, s, hosts), true);
  });
  it('each filter ignores the other policies', () => {
    assert.equal(passes(serverGroupAffinityFilter, b, spec({ group: group('anti-affinity', ['m1']) }), hosts), true);
    assert.equal(passes(serverGroupAntiAffinityFilter, a, spec({ group: group('affinity', ['m1']) }), hosts), true);
    assert.equal(passes(serverGroupAntiAffinityFilter, a, spec({ group: group('soft-anti-affinity', ['m1']) }), hosts), true);
  });
});

describe('filterHosts', () => {
  it('drops ignore_hosts (case-insensitively) and keeps the order of those passing every filter', () => {
    const hosts = [hostState('a'), hostState('B'), hostState('c', { service: { disabled: true } }), hostState('d')];
    const req = prepareRequest(spec({ ignoreHosts: ['b'] }), hosts, defaultOptions, 1, NOW);
    assert.deepEqual(filterHosts(hosts, req).map((h) => h.host), ['a', 'd']);
  });
});
