/**
 * Scheduler figures, printed (never asserted): the time of one scheduling
 * decision (selectDestinations: every filter and weigher over every host,
 * plus alternates) among N in-memory host states, as p50/p99 over many runs;
 * and, with --load, the time loadHostStates takes to read those N hosts from
 * an embedded PGlite database.
 *
 *   node --import tsx bench/scheduler.ts [--hosts 1000] [--runs 2000] [--load]
 *
 * The hosts are varied as a real cloud's: mixed sizes and usage, 20
 * instances each, 2% disabled, 1% silent, three availability zones. The
 * requests alternate between a plain build, one with an image asking for an
 * architecture in one zone, and an anti-affinity server group of 10 members
 * (Nova's default server_group_members quota); a 10-instance multi-create is
 * timed apart.
 *
 * Target: one decision among 1,000 hosts under 5 ms (p99).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { openDatabase, migrate, closeDatabase } from '../lib/db/index.ts';
import { recordNodeReport } from '../scheduler/compute-nodes/service.ts';
import { heartbeat, updateService } from '../scheduler/compute-nodes/store.ts';
import { loadHostStates } from '../scheduler/hosts.ts';
import { createPlacement } from '../scheduler/placement/service.ts';
import { selectDestinations } from '../scheduler/select.ts';
import type { HostState, RequestSpec } from '../scheduler/state.ts';
import { defaultOptions, defaultPolicy, hostState, NOW, smallFlavor } from '../test/support/scheduler.ts';

const { values } = parseArgs({
  options: { hosts: { type: 'string', default: '1000' }, runs: { type: 'string', default: '2000' }, load: { type: 'boolean', default: false } },
});
const N = Number(values.hosts);
const RUNS = Number(values.runs);

/** A deterministic pseudo-random sequence, so that runs compare. */
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

const sizes = [
  { vcpus: 16, memoryMb: 65536, localGb: 500 },
  { vcpus: 32, memoryMb: 131072, localGb: 1000 },
  { vcpus: 64, memoryMb: 262144, localGb: 2000 },
];

function buildHosts(n: number): HostState[] {
  return Array.from({ length: n }, (_, i) => {
    const size = sizes[i % sizes.length];
    const instances = Array.from({ length: 20 }, (_, j) => `vm-${i}-${j}`);
    return hostState(`compute-${String(i).padStart(4, '0')}`, {
      ...size,
      used: { VCPU: Math.floor(rand() * size.vcpus * 8), MEMORY_MB: Math.floor(rand() * size.memoryMb), DISK_GB: Math.floor(rand() * size.localGb * 0.8) },
      instances,
      service: {
        disabled: rand() < 0.02,
        lastSeenUp: rand() < 0.01 ? NOW - 3_600_000 : NOW - 5_000,
        availabilityZone: `az${i % 3}`,
      },
    });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

function time(label: string, runs: number, fn: (i: number) => void) {
  for (let i = 0; i < Math.min(200, runs); i++) fn(i); // warm up
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn(i);
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  console.log(`${label.padEnd(48)} p50 ${fmt(percentile(t, 50))}  p99 ${fmt(percentile(t, 99))}  max ${fmt(t[t.length - 1])}`);
}

const hosts = buildHosts(N);
const requests: RequestSpec[] = [
  { flavor: { ...smallFlavor, vcpus: 2, memoryMb: 4096 } },
  { flavor: smallFlavor, imageProperties: { hw_architecture: 'x86_64', img_hv_type: 'qemu' }, availabilityZone: 'az1' },
  {
    flavor: smallFlavor,
    group: { uuid: 'g', policy: 'anti-affinity', members: Array.from({ length: 10 }, (_, j) => `vm-${j * 97}-${j % 20}`) },
    instanceUuids: ['new-1'],
  },
];
const options = { ...defaultOptions };
const opts = { now: NOW };

console.log(`${N} hosts, ${RUNS} runs each`);
time('selectDestinations, 1 instance (+2 alternates)', RUNS, (i) => selectDestinations(requests[i % requests.length], hosts, 1, options, opts));
time('selectDestinations, 10 instances (multi-create)', Math.max(1, Math.floor(RUNS / 10)), () =>
  selectDestinations(requests[0], hosts, 10, options, opts),
);

if (values.load) {
  const db = openDatabase({ url: '', dataDir: null });
  await migrate(db);
  const placement = createPlacement(db);
  const seedStart = performance.now();
  for (const h of hosts) {
    await heartbeat(db, h.host, 'nubo-compute', new Date(NOW));
    if (h.service.disabled) await updateService(db, h.host, 'nubo-compute', { disabled: true });
    const inv = h.inventory;
    const uuid = await recordNodeReport(
      db,
      placement,
      { host: h.host, binary: 'nubo-compute', hypervisorHostname: h.host, hypervisorType: 'QEMU', hypervisorVersion: 8002000, vcpus: inv.VCPU!.total, memoryMb: inv.MEMORY_MB!.total, localGb: inv.DISK_GB!.total },
      defaultPolicy,
    );
    for (const vm of [...h.instances].slice(0, 3)) await placement.claim(vm, uuid, { VCPU: 1, MEMORY_MB: 1024, DISK_GB: 10 });
  }
  console.log(`seeded PGlite with ${N} hosts and ${3 * N} instances in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  const loads: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    const loaded = await loadHostStates(db);
    loads.push(performance.now() - start);
    if (loaded.length !== N) throw new Error(`loaded ${loaded.length} hosts, expected ${N}`);
  }
  loads.sort((a, b) => a - b);
  console.log(`${'loadHostStates from PGlite (3 queries)'.padEnd(48)} p50 ${fmt(percentile(loads, 50))}  max ${fmt(loads[loads.length - 1])}`);
  await closeDatabase(db);
}
