/**
 * Compute figures, printed (never asserted), on PostgreSQL and RabbitMQ with
 * separate processes: `nubo api`, `nubo scheduler` and 10 `nubo compute`
 * agents with the fake driver (bench/support/cloud.ts starts and removes
 * them). The API is the compiled tree `npm start` runs (built first) unless
 * --tsx.
 *
 *   node --import tsx bench/compute.ts [--servers 1000] [--agents 10] [--schedulers 1]
 *        [--concurrency 16] [--batch 100] [--requests 100] [--timeout 900] [--tsx] [--profile DIR]
 *
 * 1. Time from the first POST /servers to all servers ACTIVE, as clients
 *    create them: --servers single POSTs, --concurrency in flight; then as
 *    many again in POSTs of min_count = max_count = --batch, all in flight.
 *    ACTIVE is counted in the database every 250 ms (polling the API would
 *    load the process being measured).
 * 2. GET /servers/detail and GET /servers p50/p99 over --requests sequential
 *    requests, with the first run's servers in the project (one page: the
 *    default compute.max_limit is 1000).
 * 3. One scheduling decision among 1,000 hosts: bench/scheduler.ts, run
 *    once the cloud is stopped, its figure printed here.
 *
 * With --profile DIR each process writes a V8 CPU profile (node --cpu-prof)
 * into DIR/<role>. The bench stops itself after --timeout seconds.
 *
 * Targets: 1,000 servers ACTIVE under 20 s; GET /servers/detail p50 under
 * 50 ms with 1,000 servers; one scheduling decision under 5 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { http } from './support/api.ts';
import { startCloud, type Cloud } from './support/cloud.ts';
import { cpuOf, prepare } from './support/compute-setup.ts';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '10' },
    schedulers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    batch: { type: 'string', default: '100' },
    requests: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '900' },
    tsx: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const N = Number(values.servers);
const CONCURRENCY = Number(values.concurrency);
const BATCH = Number(values.batch);
const REQUESTS = Number(values.requests);
/** How often ACTIVE servers are counted: each count reads every instance row, on the database being measured. */
const POLL_MS = 250;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The broker's process (it serves everyone on the machine: its figure is not the bench's alone). */
const brokerPid = () =>
  readdirSync('/proc')
    .map(Number)
    .find((pid) => {
      try {
        return pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'beam.smp';
      } catch {
        return false;
      }
    });

type CpuSample = Map<string, Map<number, number>>;

/** CPU seconds so far of each role's processes, of the PostgreSQL backends serving the cloud's database, and of the broker. */
async function sampleCpu(cloud: Cloud): Promise<CpuSample> {
  const out: CpuSample = new Map();
  for (const [role, pids] of Object.entries(cloud.pids)) out.set(role, new Map(pids.map((p) => [p, cpuOf(p)])));
  const backends = await cloud.db.raw('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  out.set('postgres', new Map(backends.rows.map((r: { pid: number }) => [r.pid, cpuOf(r.pid)])));
  const broker = brokerPid();
  out.set('rabbitmq (whole broker)', new Map(broker ? [[broker, cpuOf(broker)]] : []));
  return out;
}

/** CPU seconds per role between two samples (a PostgreSQL backend that came meanwhile counts from 0). */
const cpuDelta = (before: CpuSample, after: CpuSample) =>
  [...after]
    .map(([role, pids]) => {
      let used = 0;
      for (const [pid, cpu] of pids) used += cpu - (before.get(role)?.get(pid) ?? 0);
      return `${role} ${used.toFixed(1)}`;
    })
    .join(', ');

type Setup = Awaited<ReturnType<typeof prepare>>;

async function counts(cloud: Cloud): Promise<{ active: number; error: number }> {
  const [row] = await cloud.db('instances')
    .whereNull('deleted_at')
    .select(
      cloud.db.raw("count(*) filter (where vm_state = 'active' and task_state is null)::int as active"),
      cloud.db.raw("count(*) filter (where vm_state = 'error')::int as error"),
    );
  return row;
}

interface RunResult {
  label: string;
  postsMs: number;
  activeMs: number;
  cpu: string;
}

/**
 * Sends `posts` (each creating `perPost` servers) with `inFlight` at once and
 * waits until `expected` servers (all so far) are ACTIVE.
 */
async function createRun(cloud: Cloud, s: Setup, label: string, posts: number, perPost: number, inFlight: number, expected: number): Promise<RunResult> {
  const cpu0 = await sampleCpu(cloud);
  const start = performance.now();
  let next = 0;
  let postsMs = 0;
  const worker = async () => {
    while (next < posts) {
      const i = next++;
      const server: Record<string, unknown> = { name: `${label}-${i}`, imageRef: s.imageId, flavorRef: s.flavorId };
      if (perPost > 1) Object.assign(server, { min_count: perPost, max_count: perPost });
      await http('POST', `${cloud.computeUrl}/servers`, s.token, { server });
    }
  };
  const posting = Promise.all(Array.from({ length: Math.min(inFlight, posts) }, worker)).then(() => (postsMs = performance.now() - start));
  let failed: unknown;
  posting.catch((e) => (failed = e));
  for (;;) {
    if (failed) throw failed;
    const c = await counts(cloud);
    if (c.error) throw new Error(`${c.error} servers went to ERROR (logs in ${cloud.dir})`);
    if (c.active >= expected) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  await posting;
  const activeMs = performance.now() - start;
  return { label, postsMs, activeMs, cpu: cpuDelta(cpu0, await sampleCpu(cloud)) };
}

async function latency(url: string, token: string, expected: number): Promise<{ p50: number; p99: number; bytes: number }> {
  const first = JSON.parse((await http('GET', url, token)).text);
  if (first.servers.length !== expected) throw new Error(`${url} listed ${first.servers.length} servers, expected ${expected}`);
  for (let i = 0; i < 5; i++) await http('GET', url, token);
  const t: number[] = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    bytes = (await http('GET', url, token)).text.length;
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 50), p99: percentile(t, 99), bytes };
}

/** bench/scheduler.ts's figure for one decision among 1,000 hosts. */
function schedulerFigure(): { p50: number; p99: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', here('./scheduler.ts'), '--hosts', '1000', '--runs', '2000'], { encoding: 'utf8', timeout: 300_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('selectDestinations, 1 instance'));
  const m = line && /p50 ([\d.]+) ms\s+p99 ([\d.]+) ms/.exec(line);
  if (!m) throw new Error(`bench/scheduler.ts printed no figure: ${r.stdout}${r.stderr}`);
  return { p50: Number(m[1]), p99: Number(m[2]) };
}

async function main() {
  if (!values.tsx && spawnSync(process.execPath, [here('../bin/build.js')], { stdio: 'inherit' }).status !== 0) throw new Error('node bin/build.js failed');
  const profiles = values.profile ? resolve(values.profile) : '';
  if (profiles) mkdirSync(profiles, { recursive: true });
  const prof = (name: string) => (profiles ? ['--cpu-prof', `--cpu-prof-dir=${join(profiles, name)}`] : []);
  const load = loadavg()[0].toFixed(2);
  const setupStart = performance.now();
  const cloud = await startCloud({
    agents: Number(values.agents),
    schedulers: Number(values.schedulers),
    built: !values.tsx,
    nodeFlags: { api: prof('api'), scheduler: prof('scheduler'), compute: prof('compute') },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await cloud.stop();
  };
  const deadline = setTimeout(() => {
    console.error(`bench/compute: gave up after ${values.timeout} s; stopping the cloud`);
    void stop().finally(() => process.exit(2));
  }, Number(values.timeout) * 1000);
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  const rows: [string, string, string][] = [];
  const runs: RunResult[] = [];
  try {
    console.log(`compute bench: PostgreSQL, RabbitMQ, ${values.agents} fake compute agents, ${values.schedulers} scheduler(s), ${values.tsx ? 'tsx' : 'compiled'} processes; cloud up in ${seconds(performance.now() - setupStart)}`);
    const setup = await prepare(cloud);

    runs.push(await createRun(cloud, setup, 'single', N, 1, CONCURRENCY, N));
    const detail = await latency(`${cloud.computeUrl}/servers/detail`, setup.token, Math.min(N, 1000));
    const brief = await latency(`${cloud.computeUrl}/servers`, setup.token, Math.min(N, 1000));
    runs.push(await createRun(cloud, setup, 'batch', Math.ceil(N / BATCH), BATCH, CONCURRENCY, N + Math.ceil(N / BATCH) * BATCH));

    const [single, batch] = runs;
    rows.push([`${N} servers ACTIVE, ${N} POSTs × 1, ${CONCURRENCY} in flight`, seconds(single.activeMs), '< 20 s']);
    rows.push([`${N} servers ACTIVE, ${Math.ceil(N / BATCH)} POSTs × max_count ${BATCH}`, seconds(batch.activeMs), '< 20 s']);
    rows.push([`GET /servers/detail p50 (p99), ${Math.min(N, 1000)} servers, ${(detail.bytes / 1e6).toFixed(1)} MB`, `${detail.p50.toFixed(1)} ms (${detail.p99.toFixed(1)} ms)`, '< 50 ms']);
    rows.push([`GET /servers p50 (p99), ${Math.min(N, 1000)} servers`, `${brief.p50.toFixed(1)} ms (${brief.p99.toFixed(1)} ms)`, '']);
  } finally {
    clearTimeout(deadline);
    await stop();
  }
  const decision = schedulerFigure();
  rows.push(['one scheduling decision among 1,000 hosts, p50 (p99) (bench/scheduler.ts)', `${decision.p50.toFixed(2)} ms (${decision.p99.toFixed(2)} ms)`, '< 5 ms']);

  for (const r of runs) {
    console.log(
      `${r.label}: POSTs answered in ${seconds(r.postsMs)} (${((N / r.postsMs) * 1000).toFixed(0)} servers/s created), all ACTIVE after ${seconds(r.activeMs)} (${((N / r.activeMs) * 1000).toFixed(0)}/s); CPU s: ${r.cpu}`,
    );
  }
  console.log(`load average before: ${load}, after: ${loadavg()[0].toFixed(2)} (other work on the host skews every figure)`);
  console.log('| figure | measured | target |');
  console.log('| --- | --- | --- |');
  for (const [f, m, t] of rows) console.log(`| ${f} | ${m} | ${t} |`);
  if (profiles) console.log(`CPU profiles in ${profiles}`);
}

await main();
