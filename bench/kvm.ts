/**
 * Qemu driver figures through the real API, printed (never asserted):
 * `nubo api`, `nubo scheduler` and one `nubo compute` agent with the qemu
 * driver on PostgreSQL and RabbitMQ (bench/support/cloud.ts starts and
 * removes them), booting the busybox test guest (test/guest/) uploaded to
 * the cloud's own image service. The processes are the compiled tree
 * `npm start` runs (built first) unless --tsx.
 *
 *   node --import tsx bench/kvm.ts [--runs 5] [--guests 20] [--ram 128]
 *        [--accel auto|kvm|tcg] [--settle 300] [--timeout 1500] [--tsx] [--skip-cold]
 *
 * --guests 0 skips figure 3, --skip-cold figure 4.
 *
 * 1. POST /servers → ACTIVE with a warm image cache: a first server (which
 *    fetches the image into the agent's cache) keeps running so that the
 *    cache entry stays; then --runs servers one after the other, each
 *    deleted before the next. ACTIVE (vm_state active, no task_state) is
 *    read from the database every 10 ms, which loads neither the API nor
 *    the agent.
 * 2. POST → the guest's first console line, in the same runs: the serial
 *    log the agent serves (os-getConsoleOutput) read straight from the
 *    instance directory every 10 ms; also the test guest's init line and
 *    its ready line (config drive read). The accelerator is what the QEMU
 *    command line says (accel=kvm or accel=tcg).
 * 3. --guests servers POSTed at once: time to all ACTIVE; once they are up
 *    (ready lines, or after --settle seconds), the host memory each QEMU
 *    process takes beyond the guest RAM it has touched, from
 *    /proc/<pid>/smaps (see memoryOf).
 * 4. A 1 GiB image (the test guest converted to raw and grown to 1 GiB)
 *    uploaded to the image service, absent from the agent's cache: POST →
 *    ACTIVE includes its download, checksum and qemu-img check.
 *
 * Everything is removed at the end (servers, QEMU processes, the cloud's
 * processes, database, vhost and temporary directory). The bench stops
 * itself after --timeout seconds.
 *
 * Targets: POST → ACTIVE under 1 s (warm cache); POST → first console line
 * under 3 s with KVM; per-guest host memory overhead under 30 MB.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InstanceDir } from '../compute-driver/drivers/qemu/instance-dir.ts';
import { GUEST_INIT, GUEST_READY, testGuestImage } from '../test/support/guest.ts';
import { adminToken, http } from './support/api.ts';
import { startCloud, type Cloud } from './support/cloud.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    guests: { type: 'string', default: '20' },
    ram: { type: 'string', default: '128' },
    accel: { type: 'string', default: 'auto' },
    settle: { type: 'string', default: '300' },
    timeout: { type: 'string', default: '1500' },
    tsx: { type: 'boolean', default: false },
    'skip-cold': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const GUESTS = Number(values.guests);
const RAM_MB = Number(values.ram);
const SETTLE_MS = Number(values.settle) * 1000;
/** A single guest must be ACTIVE (and, where waited for, ready) within this. */
const BOOT_MS = 240_000;
const GiB = 1024 ** 3;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
/** The probe answer the qemu driver tests keep (test/integration/qemu-driver.test.ts): seeds the agent's, when there, to skip a KVM probe of up to a minute (and is kept from this run when missing). */
const TEST_ACCEL_PROBE = join(tmpdir(), 'nubo-test-accel-probe.json');

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

interface Api {
  cloud: Cloud;
  token: string;
  stateDir: string;
}

/** An admin token, the image service in the catalog, the flavor, instance quotas above the run, and the test guest as a public qcow2 image. */
async function prepare(cloud: Cloud) {
  const { token, projectId } = await adminToken(cloud);
  const flavor = JSON.parse((await http('POST', `${cloud.computeUrl}/flavors`, token, { flavor: { name: 'bench.kvm', ram: RAM_MB, vcpus: 1, disk: 1 } })).text).flavor;
  // `nubo bootstrap` registers identity only: the conductor tells the agent to download from the catalog's image service.
  const service = JSON.parse((await http('POST', `${cloud.identityUrl}/v3/services`, token, { service: { type: 'image', name: 'glance' } })).text).service;
  await http('POST', `${cloud.identityUrl}/v3/endpoints`, token, { endpoint: { service_id: service.id, interface: 'internal', url: cloud.imageUrl, region_id: 'RegionOne' } });
  await http('PUT', `${cloud.computeUrl}/os-quota-sets/${projectId}`, token, { quota_set: { instances: 1000, cores: 1000, ram: 10_000_000 } });
  const guest = await testGuestImage();
  const imageId = await uploadImage(cloud, token, 'nubo-guest', 'qcow2', guest);
  return { token, flavorId: flavor.id as string, imageId, guestBytes: statSync(guest).size };
}

async function uploadImage(cloud: Cloud, token: string, name: string, diskFormat: string, file: string): Promise<string> {
  const image = JSON.parse((await http('POST', `${cloud.imageUrl}/v2/images`, token, { name, disk_format: diskFormat, container_format: 'bare', visibility: 'public' })).text);
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream;
  await http('PUT', `${cloud.imageUrl}/v2/images/${image.id}/file`, token, body, { 'content-type': 'application/octet-stream' });
  return image.id as string;
}

type Setup = Awaited<ReturnType<typeof prepare>>;

async function post(api: Api, s: Setup, name: string, imageId = s.imageId): Promise<string> {
  const { text } = await http('POST', `${api.cloud.computeUrl}/servers`, api.token, { server: { name, imageRef: imageId, flavorRef: s.flavorId } });
  return JSON.parse(text).server.id as string;
}

/** How many of `uuids` are ACTIVE with no task; throws when one went to ERROR. */
async function activeCount(api: Api, uuids: string[]): Promise<number> {
  const rows: { uuid: string; vm_state: string; task_state: string | null }[] = await api.cloud.db('instances').whereIn('uuid', uuids).select('uuid', 'vm_state', 'task_state');
  const failed = rows.find((r) => r.vm_state === 'error');
  if (failed) {
    const server = JSON.parse((await http('GET', `${api.cloud.computeUrl}/servers/${failed.uuid}`, api.token)).text).server;
    throw new Error(`server ${failed.uuid} went to ERROR: ${JSON.stringify(server.fault)}`);
  }
  return rows.filter((r) => r.vm_state === 'active' && !r.task_state).length;
}

async function untilActive(api: Api, uuids: string[], ms = BOOT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await activeCount(api, uuids)) < uuids.length) {
    if (Date.now() > deadline) throw new Error(`${uuids.length} servers not ACTIVE within ${ms / 1000} s`);
    await sleep(10);
  }
}

const consoleOf = (api: Api, uuid: string) => {
  try {
    return readFileSync(new InstanceDir(api.stateDir, uuid).console, 'utf8');
  } catch {
    return '';
  }
};

/** The QEMU pid of a server (its pidfile), or null. */
function qemuPid(api: Api, uuid: string): number | null {
  try {
    const pid = Number(readFileSync(new InstanceDir(api.stateDir, uuid).pidfile, 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(uuid) ? pid : null;
  } catch {
    return null;
  }
}

interface BootTimes {
  /** The POST's answer. */
  postMs: number;
  /** The agent's build began (its instance action event's start_time), from the POST. */
  agentMs: number;
  /** The agent saw the guest run (launched_at), from the POST. */
  launchedMs: number;
  activeMs: number;
  firstLineMs: number;
  initMs: number;
  readyMs: number;
  firstLine: string;
}

/** One server: POST → ACTIVE, → first console line, → init line, → ready line. */
async function bootOne(api: Api, s: Setup, name: string): Promise<{ uuid: string; times: BootTimes }> {
  const t0 = performance.now();
  const wall0 = Date.now();
  const uuid = await post(api, s, name);
  const times: Partial<BootTimes> = { postMs: performance.now() - t0 };
  const deadline = Date.now() + BOOT_MS;
  while (times.readyMs === undefined) {
    if (Date.now() > deadline) throw new Error(`server ${uuid} not ready within ${BOOT_MS / 1000} s; console:\n${consoleOf(api, uuid)}`);
    const at = performance.now() - t0;
    if (times.activeMs === undefined && (await activeCount(api, [uuid])) === 1) times.activeMs = performance.now() - t0;
    const text = consoleOf(api, uuid);
    // The first line with something on it (the log starts with a bare \r\n).
    const line = times.firstLineMs === undefined ? /^[^\S\n]*(\S[^\n]*)\n/m.exec(text) : null;
    if (line) {
      times.firstLineMs = at;
      times.firstLine = line[1].trim();
    }
    if (times.initMs === undefined && text.includes(GUEST_INIT)) times.initMs = at;
    if (text.includes(GUEST_READY)) times.readyMs = at;
    await sleep(10);
  }
  if (times.activeMs === undefined) {
    await untilActive(api, [uuid]);
    times.activeMs = performance.now() - t0;
  }
  const row = await api.cloud.db('instances').where({ uuid }).first('launched_at');
  const event = await api.cloud.db('instance_action_events as e')
    .join('instance_actions as a', 'a.id', 'e.action_id')
    .where({ 'a.instance_uuid': uuid, 'e.event': 'compute_build_and_run_instance' })
    .first('e.start_time');
  times.agentMs = new Date(event.start_time).getTime() - wall0;
  times.launchedMs = new Date(row.launched_at).getTime() - wall0;
  return { uuid, times: times as BootTimes };
}

async function remove(api: Api, uuids: string[]): Promise<void> {
  await Promise.all(uuids.map((id) => http('DELETE', `${api.cloud.computeUrl}/servers/${id}`, api.token).catch(() => undefined)));
  const deadline = Date.now() + 180_000;
  for (;;) {
    const left = await api.cloud.db('instances').whereIn('uuid', uuids).whereNull('deleted_at').count({ n: '*' });
    const running = uuids.filter((id) => qemuPid(api, id) !== null);
    if (Number(left[0].n) === 0 && running.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${left[0].n} servers not deleted (${running.length} QEMU processes left) after 180 s`);
    await sleep(200);
  }
}

interface Memory {
  rssKb: number;
  pssKb: number;
  guestRamKb: number;
  /** TCG's translated code: its anonymous rwx mapping (none under KVM). */
  tcgKb: number;
}

/**
 * A QEMU process's memory from /proc/<pid>/smaps: its whole RSS and PSS
 * (PSS shares the pages QEMU's binary and libraries have in common across
 * the guests' processes out among them), and the resident part of the guest
 * RAM: the anonymous mapping of the flavor's size (QEMU maps the whole
 * `-m` block at once, rounded up a little for alignment) — the RAM the
 * guest has touched. What is left is the host's overhead for the guest;
 * under TCG part of it is the cache of translated code (the anonymous rwx
 * mapping), which KVM does not have.
 */
function memoryOf(pid: number, ramMb: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const out: Memory = { rssKb: 0, pssKb: 0, guestRamKb: 0, tcgKb: 0 };
  let size = 0;
  let anonymous = false;
  let perms = '';
  let candidate = 0;
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      perms = header[1];
      anonymous = header[2] === '0' && header[3] === '';
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    if (field[1] === 'Size') size = kb;
    else if (field[1] === 'Rss') {
      out.rssKb += kb;
      // The guest RAM block: the one anonymous mapping of at least -m and at most 4 MiB above it.
      if (anonymous && size >= ramMb * 1024 && size <= ramMb * 1024 + 4096) candidate = Math.max(candidate, kb);
      if (anonymous && perms === 'rwxp') out.tcgKb += kb;
    } else if (field[1] === 'Pss') out.pssKb += kb;
  }
  out.guestRamKb = candidate;
  return out;
}

/** --guests servers POSTed at once: all ACTIVE; then, when they are up, their memory. */
async function parallel(api: Api, s: Setup) {
  const t0 = performance.now();
  const uuids = await Promise.all(Array.from({ length: GUESTS }, (_, i) => post(api, s, `par-${i}`)));
  const postsMs = performance.now() - t0;
  await untilActive(api, uuids, 900_000);
  const activeMs = performance.now() - t0;
  const deadline = Date.now() + SETTLE_MS;
  let ready = 0;
  for (;;) {
    ready = uuids.filter((id) => consoleOf(api, id).includes(GUEST_READY)).length;
    if (ready === uuids.length || Date.now() > deadline) break;
    await sleep(1000);
  }
  const readyMs = performance.now() - t0;
  const mems = uuids.map((id) => {
    const pid = qemuPid(api, id);
    if (!pid) throw new Error(`server ${id} has no QEMU process`);
    return memoryOf(pid, RAM_MB);
  });
  return { uuids, postsMs, activeMs, ready, readyMs, mems };
}

/** The test guest as a 1 GiB raw image (its data, then zeros to 1 GiB: every byte is sent, hashed and written). */
function makeBigImage(dir: string, guest: string): string {
  const out = join(dir, 'big.raw');
  execFileSync('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', guest, out]);
  execFileSync('qemu-img', ['resize', '-q', '-f', 'raw', out, String(GiB)]);
  return out;
}

async function main() {
  if (!values.tsx && spawnSync(process.execPath, [here('../bin/build.js')], { stdio: 'inherit' }).status !== 0) throw new Error('node bin/build.js failed');
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').trim();
  const setupStart = performance.now();
  // The agent's state directory, set (not <data_dir>/instances) so that the bench knows it before the agent starts.
  const stateDir = join(tmpdir(), `nubo-bench-kvm-${process.pid}`);
  mkdirSync(stateDir, { recursive: true });
  if (values.accel === 'auto' && existsSync(TEST_ACCEL_PROBE)) copyFileSync(TEST_ACCEL_PROBE, join(stateDir, 'accel-probe.json'));
  const cloud = await startCloud({
    agents: 1,
    schedulers: 1,
    built: !values.tsx,
    agentEnv: () => ({ NUBO_COMPUTE_DRIVER: 'qemu', NUBO_COMPUTE_QEMU_ACCEL: values.accel, NUBO_COMPUTE_QEMU_STATE_DIR: stateDir }),
  }).catch((e) => {
    rmSync(stateDir, { recursive: true, force: true });
    throw e;
  });
  const api: Api = { cloud, token: '', stateDir };
  const probe = join(stateDir, 'accel-probe.json');
  if (values.accel === 'auto' && !existsSync(TEST_ACCEL_PROBE) && existsSync(probe)) copyFileSync(probe, TEST_ACCEL_PROBE);
  const servers = new Set<string>();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (api.token && servers.size) await remove(api, [...servers]).catch((e) => console.error(`bench/kvm: ${e.message}`));
    // Whatever QEMU is left (a failed delete, an agent gone): ended by its pidfile, as the driver would.
    for (const uuid of readdirSync(stateDir).filter((n) => /^[0-9a-f-]{36}$/.test(n))) {
      const pid = qemuPid(api, uuid);
      if (pid) process.kill(pid, 'SIGKILL');
    }
    await cloud.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
  const deadline = setTimeout(() => {
    console.error(`bench/kvm: gave up after ${values.timeout} s; stopping the cloud`);
    void stop().finally(() => process.exit(2));
  }, Number(values.timeout) * 1000);
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));

  const rows: [string, string, string, string][] = [];
  const notes: string[] = [];
  let accel = 'unknown';
  try {
    const s = await prepare(cloud);
    api.token = s.token;
    console.log(`kvm bench: PostgreSQL, RabbitMQ, nubo api + scheduler + 1 compute agent (qemu driver), ${values.tsx ? 'tsx' : 'compiled'} processes; cloud up in ${secs(performance.now() - setupStart)}`);
    console.log(`load average at start (/proc/loadavg): ${loadAtStart}`);

    // A first server fetches the image into the agent's cache, and stays so that the entry stays (an unused entry is removed).
    const first = await bootOne(api, s, 'keeper');
    servers.add(first.uuid);
    const cmdline = readFileSync(`/proc/${qemuPid(api, first.uuid)}/cmdline`, 'utf8').split('\0');
    accel = /accel=(\w+)/.exec(cmdline[cmdline.indexOf('-machine') + 1] ?? '')?.[1] ?? 'unknown';
    const cpu = cmdline[cmdline.indexOf('-cpu') + 1];
    console.log(`accelerator: ${accel.toUpperCase()} (-machine …accel=${accel}, -cpu ${cpu}); first console line: ${JSON.stringify(first.times.firstLine)}`);

    const runs: BootTimes[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await bootOne(api, s, `warm-${i}`);
      servers.add(r.uuid);
      runs.push(r.times);
      const b = r.times;
      console.log(
        `run ${i + 1}: POST answered ${secs(b.postMs)}, agent starts the build ${secs(b.agentMs)}, guest launched ${secs(b.launchedMs)}, ` +
          `ACTIVE ${secs(b.activeMs)}, first console line ${secs(b.firstLineMs)}, init ${secs(b.initMs)}, ready ${secs(b.readyMs)}`,
      );
      await remove(api, [r.uuid]);
      servers.delete(r.uuid);
    }
    const p50 = (k: keyof Omit<BootTimes, 'firstLine'>) => percentile(runs.map((r) => r[k]).sort((a, b) => a - b), 50);
    const range = (k: keyof Omit<BootTimes, 'firstLine'>) => `${secs(Math.min(...runs.map((r) => r[k])))}–${secs(Math.max(...runs.map((r) => r[k])))}`;
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    rows.push([`POST /servers → ACTIVE, warm image cache, p50 of ${RUNS} (range)`, `${secs(p50('activeMs'))} (${range('activeMs')})`, '< 1 s', met(p50('activeMs') < 1000)]);
    rows.push([`POST → first console line, ${accel.toUpperCase()}, p50 (range)`, `${secs(p50('firstLineMs'))} (${range('firstLineMs')})`, '< 3 s with KVM', accel === 'kvm' ? met(p50('firstLineMs') < 3000) : `${met(p50('firstLineMs') < 3000)} (not KVM)`]);
    rows.push([`POST → guest init line / ready line (config drive read), p50`, `${secs(p50('initMs'))} / ${secs(p50('readyMs'))}`, '', '']);
    rows.push([`POST → ACTIVE, cold cache, test guest image (${(s.guestBytes / 1024 ** 2).toFixed(1)} MiB qcow2)`, secs(first.times.activeMs), '', '']);

    if (GUESTS > 0) {
      const par = await parallel(api, s);
      for (const id of par.uuids) servers.add(id);
      const n = par.mems.length;
      const avg = (f: (m: Memory) => number) => par.mems.reduce((t, m) => t + f(m), 0) / n;
      const pssOver = avg((m) => m.pssKb - m.guestRamKb);
      const rssOver = avg((m) => m.rssKb - m.guestRamKb);
      rows.push([`${GUESTS} guests POSTed at once → all ACTIVE (POSTs answered in ${secs(par.postsMs)})`, secs(par.activeMs), '', '']);
      const tcg = avg((m) => m.tcgKb);
      rows.push([`host memory per guest beyond the guest RAM it touched (PSS − guest RAM; RSS − guest RAM), mean of ${n}`, `${mb(pssOver)} (RSS: ${mb(rssOver)})`, '< 30 MB', met(pssOver / 1024 < 30)]);
      if (tcg > 0) rows.push(['the same without TCG\'s translated-code cache (what KVM would not have)', mb(pssOver - tcg), '< 30 MB', met((pssOver - tcg) / 1024 < 30)]);
      notes.push(
        `${par.ready} of ${GUESTS} guests were ready ${secs(par.readyMs)} after the POSTs when memory was read; per QEMU process, mean: RSS ${mb(avg((m) => m.rssKb))}, PSS ${mb(avg((m) => m.pssKb))}, guest RAM resident ${mb(avg((m) => m.guestRamKb))} of ${RAM_MB} MB, TCG translated code ${mb(tcg)}.`,
        'memory method: /proc/<pid>/smaps of each QEMU process. The guest RAM in use is the resident part of the anonymous mapping of the flavor\'s size (the -m block QEMU maps); overhead = PSS − that (PSS splits the QEMU binary\'s and libraries\' shared pages among the processes; RSS counts them in each).',
      );
      await remove(api, par.uuids);
      for (const id of par.uuids) servers.delete(id);
    }
    if (!values['skip-cold']) {
      const big = makeBigImage(cloud.dir, await testGuestImage());
      const bigId = await uploadImage(cloud, s.token, 'big', 'raw', big);
      if (existsSync(join(stateDir, '_base', bigId))) throw new Error('the 1 GiB image is in the agent\'s cache already');
      const t0 = performance.now();
      const bigServer = await post(api, s, 'cold-1g', bigId);
      servers.add(bigServer);
      await untilActive(api, [bigServer]);
      rows.push(['POST → ACTIVE, cold cache, 1 GiB raw image (download, md5 + sha512, qemu-img check, boot)', secs(performance.now() - t0), '', '']);
    }
  } catch (e) {
    const log = join(cloud.dir, 'compute-0.log');
    if (existsSync(log)) console.error(`last lines of the compute agent's log:\n${readFileSync(log, 'utf8').split('\n').slice(-12).join('\n')}`);
    throw e;
  } finally {
    clearTimeout(deadline);
    await stop();
  }

  console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()} (other work on the host skews every figure)`);
  for (const n of notes) console.log(n);
  console.log(`accelerator: ${accel.toUpperCase()}; load average at start: ${loadAtStart}`);
  console.log('| figure | measured | target | |');
  console.log('| --- | --- | --- | --- |');
  for (const [f, m, t, ok] of rows) console.log(`| ${f} | ${m} | ${t} | ${ok} |`);
}

await main();
