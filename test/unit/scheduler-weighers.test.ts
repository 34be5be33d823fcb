import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { prepareRequest } from '../../scheduler/request.ts';
import type { HostState, RequestSpec, SchedulerOptions } from '../../scheduler/state.ts';
import { softAffinityWeigher, softAntiAffinityWeigher } from '../../scheduler/weighers/affinity.ts';
import { rankHosts, weighHosts } from '../../scheduler/weighers/index.ts';
import { cpuWeigher, ramWeigher } from '../../scheduler/weighers/resources.ts';
import type { HostWeigher } from '../../scheduler/weighers/types.ts';
import { defaultOptions, hostState, NOW, smallFlavor } from '../support/scheduler.ts';

const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ flavor: smallFlavor, ...over });
const order = (hosts: HostState[], weighers: HostWeigher[], o: Partial<SchedulerOptions> = {}, s: RequestSpec = spec()) =>
  weighHosts(hosts, prepareRequest(s, hosts, { ...defaultOptions, ...o }, 1, NOW), weighers).map((w) => w.host.host);

describe('normalization', () => {
  /** A weigher giving each host a fixed raw weight. */
  const fixed = (weights: Record<string, number>, bounds: Pick<HostWeigher, 'minval' | 'maxval'> = {}): HostWeigher => ({
    name: 'Fixed',
    ...bounds,
    multiplier: () => 1,
    weigh: (h) => weights[h.host],
  });
  const weights = (w: HostWeigher) => {
    const hosts = ['a', 'b', 'c'].map((h) => hostState(h));
    const weighed = weighHosts(hosts, prepareRequest(spec(), hosts, defaultOptions, 1, NOW), [w]);
    return Object.fromEntries(weighed.map((x) => [x.host.host, x.weight]));
  };
  it('scales to [0, 1] by the weights’ own bounds, or the weigher’s', () => {
    assert.deepEqual(weights(fixed({ a: 2, b: 4, c: 6 })), { a: 0, b: 0.5, c: 1 });
    assert.deepEqual(weights(fixed({ a: 2, b: 4, c: 6 }, { minval: 0 })), { a: 1 / 3, b: 2 / 3, c: 1 });
    assert.deepEqual(weights(fixed({ a: 5, b: 10, c: 30 }, { minval: 0, maxval: 20 })), { a: 0.25, b: 0.5, c: 1 });
  });
  it('gives all 0 when all are equal', () => {
    assert.deepEqual(weights(fixed({ a: 3, b: 3, c: 3 })), { a: 0, b: 0, c: 0 });
  });
});

describe('RAMWeigher', () => {
  const hosts = [hostState('full', { used: { MEMORY_MB: 12000 } }), hostState('empty'), hostState('half', { used: { MEMORY_MB: 8000 } })];
  it('spreads with a positive multiplier: most free memory first', () => {
    assert.deepEqual(order(hosts, [ramWeigher]), ['empty', 'half', 'full']);
  });
  it('stacks with a negative multiplier: least free memory first', () => {
    assert.deepEqual(order(hosts, [ramWeigher], { ramWeightMultiplier: -1 }), ['full', 'half', 'empty']);
  });
  it('weighs free memory without overcommit, clamped at 0 (minval)', () => {
    const over = hostState('over', { used: { MEMORY_MB: 20000 } });
    assert.equal(ramWeigher.weigh(over, prepareRequest(spec(), [over], defaultOptions, 1, NOW)), 16384 - 512 - 20000);
    const weighed = weighHosts([over, hostState('x', { used: { MEMORY_MB: 15872 } })], prepareRequest(spec(), [], defaultOptions, 1, NOW), [ramWeigher]);
    assert.deepEqual(weighed.map((w) => w.weight), [0, 0]);
  });
});

describe('CPUWeigher', () => {
  const hosts = [hostState('busy', { used: { VCPU: 100 } }), hostState('idle'), hostState('big', { vcpus: 16, used: { VCPU: 100 } })];
  it('spreads by free vCPUs with overcommit (total × ratio − used)', () => {
    assert.deepEqual(order(hosts, [cpuWeigher]), ['big', 'idle', 'busy']);
  });
  it('stacks with a negative multiplier', () => {
    assert.deepEqual(order(hosts, [cpuWeigher], { cpuWeightMultiplier: -2 }), ['busy', 'idle', 'big']);
  });
});

describe('weighHosts', () => {
  it('adds each weigher’s normalized weight times its multiplier', () => {
    // RAM: free 15872, 7872, 0 → 1, 0.496, 0; CPU: free 128, 0, 64 → 1, 0, 0.5.
    const hosts = [hostState('a'), hostState('b', { used: { MEMORY_MB: 8000, VCPU: 128 } }), hostState('c', { used: { MEMORY_MB: 15872, VCPU: 64 } })];
    const weighed = weighHosts(hosts, prepareRequest(spec(), hosts, { ...defaultOptions, ramWeightMultiplier: 1, cpuWeightMultiplier: 3 }, 1, NOW), [ramWeigher, cpuWeigher]);
    assert.deepEqual(weighed.map((w) => w.host.host), ['a', 'c', 'b']);
    assert.equal(weighed[0].weight, 4);
    assert.equal(weighed[1].weight, 1.5);
    assert.ok(Math.abs(weighed[2].weight - 7872 / 15872) < 1e-9);
  });
  it('keeps the hosts’ order among equal weights, and skips a weigher whose multiplier is 0', () => {
    const hosts = [hostState('x', { used: { MEMORY_MB: 100 } }), hostState('y'), hostState('z')];
    assert.deepEqual(order(hosts, [ramWeigher], { ramWeightMultiplier: 0 }), ['x', 'y', 'z']);
    assert.deepEqual(order(hosts, [ramWeigher]), ['y', 'z', 'x']);
  });
});

describe('rankHosts', () => {
  it('with a limit gives the same hosts, in the same order, as the first of a full ranking (ties included)', () => {
    // Free RAM in 8 steps over 40 hosts: many ties.
    const hosts = Array.from({ length: 40 }, (_, i) => hostState(`h${i}`, { used: { MEMORY_MB: ((i * 7) % 8) * 1000 } }));
    const req = prepareRequest(spec(), hosts, defaultOptions, 1, NOW);
    const full = weighHosts(hosts, req, [ramWeigher]).map((w) => w.host.host);
    assert.deepEqual(rankHosts(hosts, req, [ramWeigher]).map((h) => h.host), full);
    for (const k of [1, 2, 3, 5, 13, 39, 40, 41]) assert.deepEqual(rankHosts(hosts, req, [ramWeigher], k).map((h) => h.host), full.slice(0, k), `limit ${k}`);
  });
});

describe('soft affinity weighers', () => {
  const hosts = [hostState('none'), hostState('two', { instances: ['m1', 'm2'] }), hostState('one', { instances: ['m3', 'other'] })];
  const group = (policy: 'soft-affinity' | 'soft-anti-affinity') => spec({ group: { uuid: 'g', policy, members: ['m1', 'm2', 'm3'] } });
  it('soft-affinity prefers hosts with more members', () => {
    assert.deepEqual(order(hosts, [softAffinityWeigher], {}, group('soft-affinity')), ['two', 'one', 'none']);
  });
  it('soft-anti-affinity prefers hosts with fewer members', () => {
    assert.deepEqual(order(hosts, [softAntiAffinityWeigher], {}, group('soft-anti-affinity')), ['none', 'one', 'two']);
  });
  it('each weighs nothing for another policy or no group', () => {
    assert.deepEqual(order(hosts, [softAffinityWeigher], {}, group('soft-anti-affinity')), ['none', 'two', 'one']);
    assert.deepEqual(order(hosts, [softAntiAffinityWeigher]), ['none', 'two', 'one']);
  });
  it('the multiplier scales the preference against the resource weighers', () => {
    // 'none' has the most free RAM; a soft-affinity multiplier of 2 outweighs it.
    const busy = [hostState('none'), hostState('two', { instances: ['m1', 'm2'], used: { MEMORY_MB: 12000 } })];
    assert.deepEqual(order(busy, [ramWeigher, softAffinityWeigher], { softAffinityWeightMultiplier: 0.5 }, group('soft-affinity')), ['none', 'two']);
    assert.deepEqual(order(busy, [ramWeigher, softAffinityWeigher], { softAffinityWeightMultiplier: 2 }, group('soft-affinity')), ['two', 'none']);
  });
});
