import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NoValidHost, selectDestinations, type Selection } from '../../scheduler/select.ts';
import type { HostState, RequestSpec, SchedulerOptions } from '../../scheduler/state.ts';
import { defaultOptions, hostState, NOW, smallFlavor } from '../support/scheduler.ts';

const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ flavor: smallFlavor, ...over });
const select = (s: RequestSpec, hosts: HostState[], count = 1, o: Partial<SchedulerOptions> = {}, random?: () => number) =>
  selectDestinations(s, hosts, count, { ...defaultOptions, ...o }, { now: NOW, random });
const names = (sel: Selection[][]) => sel.map((alts) => alts.map((s) => s.host));

/** Hosts with 16 GB each, `usedMb` of it used. */
const withRam = (usedMb: Record<string, number>) => Object.entries(usedMb).map(([h, mb]) => hostState(h, { used: { MEMORY_MB: mb } }));

describe('selectDestinations', () => {
  it('picks the best-weighed host and the next best as alternates, max_attempts − 1 of them', () => {
    const hosts = withRam({ a: 8000, b: 0, c: 4000, d: 12000 });
    assert.deepEqual(names(select(spec(), hosts)), [['b', 'c', 'a']]);
    assert.deepEqual(names(select(spec(), hosts, 1, { maxAttempts: 5 })), [['b', 'c', 'a', 'd']]);
    assert.deepEqual(names(select(spec(), hosts, 1, { maxAttempts: 1 })), [['b']]);
  });

  it('returns host, node and provider of each selection', () => {
    assert.deepEqual(select(spec(), [hostState('a')]), [[{ host: 'a', nodename: 'a', providerUuid: 'rp-a' }]]);
  });

  it('stacks with a negative RAM multiplier', () => {
    const hosts = withRam({ a: 8000, b: 0, c: 4000 });
    assert.deepEqual(names(select(spec(), hosts, 1, { ramWeightMultiplier: -1, cpuWeightMultiplier: 0 })), [['a', 'c', 'b']]);
  });

  it('places several instances one after another, consuming what each takes', () => {
    // a has room for 2 more 4 GB instances before b (with 5 GB used) is emptier.
    const hosts = withRam({ a: 0, b: 5000 });
    const s = spec({ flavor: { ...smallFlavor, memoryMb: 4096 } });
    const sel = select(s, hosts, 3, { cpuWeightMultiplier: 0 });
    assert.deepEqual(sel.map((alts) => alts[0].host), ['a', 'a', 'b']);
    // Alternates never name a host chosen for this request.
    assert.deepEqual(sel.map((alts) => alts.slice(1)), [[], [], []]);
  });

  it('does not modify the host states given', () => {
    const hosts = withRam({ a: 0 });
    select(spec({ instanceUuids: ['i1'] }), hosts);
    assert.deepEqual(hosts[0].used, { MEMORY_MB: 0 });
    assert.equal(hosts[0].instances.size, 0);
  });

  it('throws NoValidHost when not every instance fits, with Nova’s message', () => {
    const hosts = [hostState('a', { vcpus: 1, used: { VCPU: 15 } })];
    assert.throws(() => select(spec(), [hostState('x', { service: { disabled: true } })]), NoValidHost);
    assert.throws(() => select(spec(), hosts, 2), /^NoValidHost: No valid host was found. There are not enough hosts available.$/);
    assert.equal(select(spec(), hosts, 1).length, 1);
  });

  it('skips ignore_hosts (the hosts a build already failed on)', () => {
    const hosts = withRam({ a: 8000, b: 0, c: 4000 });
    assert.deepEqual(names(select(spec({ ignoreHosts: ['b'] }), hosts)), [['c', 'a']]);
  });

  it('anti-affinity spreads a multi-create over hosts, and fails when hosts run out', () => {
    const hosts = withRam({ a: 0, b: 0, c: 0 });
    const group = { uuid: 'g', policy: 'anti-affinity' as const, members: [] };
    const sel = select(spec({ group, instanceUuids: ['i1', 'i2', 'i3'] }), hosts, 3);
    assert.deepEqual(sel.map((alts) => alts[0].host).sort(), ['a', 'b', 'c']);
    assert.throws(() => select(spec({ group }), hosts, 4), NoValidHost);
  });

  it('affinity keeps a multi-create together, and follows existing members', () => {
    const hosts = withRam({ a: 4000, b: 0, c: 2000 });
    const fresh = { uuid: 'g', policy: 'affinity' as const, members: [] };
    assert.deepEqual(select(spec({ group: fresh }), hosts, 3).map((alts) => alts[0].host), ['b', 'b', 'b']);
    const placed = [hostState('a', { instances: ['m1'] }), hostState('b')];
    const existing = { uuid: 'g', policy: 'affinity' as const, members: ['m1'] };
    assert.deepEqual(names(select(spec({ group: existing }), placed)), [['a']]);
  });

  it('soft-anti-affinity prefers hosts without members but uses them when it must', () => {
    const hosts = [hostState('a', { instances: ['m1'] }), hostState('b', { used: { MEMORY_MB: 10000 } })];
    const group = { uuid: 'g', policy: 'soft-anti-affinity' as const, members: ['m1'] };
    const sel = select(spec({ group }), hosts, 3, { softAntiAffinityWeightMultiplier: 10 });
    assert.deepEqual(sel.map((alts) => alts[0].host), ['b', 'a', 'b']);
  });

  it('with host_subset_size, picks at random among the best hosts only', () => {
    const hosts = withRam({ a: 1000, b: 0, c: 2000, d: 3000 });
    const first = (r: number) => select(spec(), hosts, 1, { hostSubsetSize: 2 }, () => r)[0][0].host;
    assert.equal(first(0), 'b');
    assert.equal(first(0.99), 'a');
    const picked = new Set(Array.from({ length: 50 }, () => select(spec(), hosts, 1, { hostSubsetSize: 3 })[0][0].host));
    assert.ok(!picked.has('d'));
    // The others stay in weight order as alternates.
    assert.deepEqual(names(select(spec(), hosts, 1, { hostSubsetSize: 2, maxAttempts: 4 }, () => 0.6)), [['a', 'b', 'c', 'd']]);
  });
});
