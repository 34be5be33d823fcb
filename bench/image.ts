/**
 * Image data figures, printed (never asserted): upload (PUT /v2/images/{id}/file)
 * and download of a large file through the image API over loopback, against
 * `cp` of the same file on the same disk; the API process's peak RSS during
 * the upload above its idle RSS; and what each part of an upload costs in CPU.
 *
 *   node --import tsx bench/image.ts [--mib 2048] [--runs 3] [--variants true]
 *
 * The image API runs in this process (PGlite, filesystem store in the temp
 * directory); curl is the client, in its own process. Two baselines: plain
 * `cp` (the copy sits in the page cache when cp exits) and `cp` + fsync of
 * the copy (durable, which is what an upload promises: it fsyncs before the
 * image goes active). Each figure is the best of --runs rounds, each round
 * running every case in turn, so a burst of other work on the host skews
 * one round rather than one case. Wall-clock figures depend on what else
 * runs; the CPU seconds per GiB much less so.
 *
 * The download runs twice per round: first right after the upload (the
 * store wrote the data with direct I/O, so it is not in the page cache),
 * then again (read with direct I/O as well, from the disk, unless
 * image.direct_io is false). The part costs include a bare node:http server
 * streaming the file from the page cache, the floor the API's send is held
 * to, and what a first read of direct-written data costs `cat` through the
 * page cache (the kernel's time: several times a direct read here).
 *
 * Variants (--variants, on by default) also upload with image.hashing_algorithm
 * sha256 (Glance's option; sha512 stays the default) and with image.direct_io
 * false (through the page cache, as before direct I/O).
 *
 * Targets (2 cores): upload and download at ≥ 70% of cp; upload peak RSS
 * under 100 MB above idle.
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { allocateBlocks } from '../api/image/data/blocks.ts';
import { createFileWriter } from '../api/image/data/file-writer.ts';
import { startImage, type ImageHarness } from '../test/support/image.ts';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '2048' }, runs: { type: 'string', default: '3' }, variants: { type: 'string', default: 'true' } },
});
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const size = Number(values.mib) * MiB;
const runs = Math.max(1, Number(values.runs));
const BLOCK = 4 * MiB;

interface Outcome {
  out: string;
  seconds: number;
  /** CPU seconds of this process (all its threads) meanwhile. */
  cpu: number;
  /** CPU seconds of the command (user + system). */
  childCpu: number;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Runs a command; resolves with its stdout, wall time and CPU (its own, from
 * the shell's `times`, and this process's), rejects on a non-zero exit.
 */
function run(cmd: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const cpu = cpuNow();
    const child = spawn('sh', ['-c', '"$@"; s=$?; times >&2; exit $s', 'sh', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      const used = cpuNow() - cpu;
      const lines = err.trim().split('\n');
      // `times`' last line: the children's user and system time, as 0m1.230000s 0m0.450000s.
      const childCpu = (lines.pop() ?? '')
        .split(/\s+/)
        .map((f) => /^(\d+)m([\d.]+)s$/.exec(f))
        .reduce((sum, m) => sum + (m ? Number(m[1]) * 60 + Number(m[2]) : 0), 0);
      if (code === 0) resolve({ out, seconds, cpu: used, childCpu });
      else reject(new Error(`${cmd} exited ${code}: ${lines.join('\n')}`));
    });
  });
}

/** Writes `bytes` of incompressible data: a random block, each copy stamped with its index. */
function makeFile(path: string, bytes: number): void {
  const block = Buffer.allocUnsafe(16 * MiB);
  randomFillSync(block);
  const fd = openSync(path, 'w');
  try {
    for (let off = 0, i = 0; off < bytes; off += block.length, i++) {
      block.writeUInt32LE(i, 0);
      writeSync(fd, block, 0, Math.min(block.length, bytes - off));
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads `path` (up to `limit` bytes) block by block into `block`, calling `each` with the bytes read. */
async function eachBlock(path: string, block: Buffer, limit: number, each: (n: number, position: number) => unknown): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    for (let position = 0; position < limit; ) {
      const n = readSync(fd, block, 0, Math.min(block.length, limit - position), position);
      if (n === 0) break;
      await each(n, position);
      position += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** The md5, sha512 and sha256 of the file, and the CPU seconds per GiB each took on this thread. */
async function hashCosts(path: string) {
  const block = Buffer.allocUnsafeSlow(BLOCK);
  const algos = ['md5', 'sha512', 'sha256'];
  const hashes = new Map<string, Hash>(algos.map((a) => [a, createHash(a)]));
  const spent = new Map<string, number>(algos.map((a) => [a, 0]));
  await eachBlock(path, block, size, (n) => {
    for (const [a, h] of hashes) {
      const c = cpuNow();
      h.update(block.subarray(0, n));
      spent.set(a, spent.get(a)! + cpuNow() - c);
    }
  });
  const digest = Object.fromEntries([...hashes].map(([a, h]) => [a, h.digest('hex')]));
  const perGiB = Object.fromEntries([...spent].map(([a, s]) => [a, (s * GiB) / size]));
  return { digest, perGiB };
}

/**
 * CPU seconds per GiB (all threads) of writing up to 1 GiB of the file with the store's writer, buffered or direct, with the final fsync;
 * and of `cat` reading the written file back once (the kernel's cost of a first read of data that is not in the page cache).
 */
async function writeCost(src: string, dst: string, direct: boolean): Promise<{ cpu: number; seconds: number; firstRead: number }> {
  const bytes = Math.min(size, GiB);
  const [block] = allocateBlocks(1, BLOCK);
  const t = process.hrtime.bigint();
  const c = cpuNow();
  const file = await createFileWriter(dst, { direct });
  await eachBlock(src, block, bytes, (n, position) => file.write(block, n, position));
  await file.finish();
  const cpu = cpuNow() - c;
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const read = await run('sh', ['-c', 'cat "$0" > /dev/null', dst]);
  rmSync(dst);
  return { cpu: (cpu * GiB) / bytes, seconds, firstRead: (read.childCpu * GiB) / bytes };
}

/** CPU seconds per GiB of a bare node:http server receiving the file from curl and discarding it, and of curl sending it. */
async function receiveCost(src: string): Promise<{ server: number; client: number }> {
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const o = await run('curl', ['-sS', '-o', '/dev/null', '-T', src, '-H', 'Expect:', url]);
    return { server: (o.cpu * GiB) / size, client: (o.childCpu * GiB) / size };
  } finally {
    server.close();
  }
}

/** CPU seconds per GiB of a bare node:http server streaming the file (fs.createReadStream piped to the response, from the page cache). */
async function sendCost(src: string): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': size });
    createReadStream(src).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const o = await run('curl', ['-sS', '-o', '/dev/null', url]);
    return (o.cpu * GiB) / size;
  } finally {
    server.close();
  }
}

interface Case {
  name: string;
  results: Outcome[];
  /** Peak RSS above idle during the case, MB (uploads). */
  rss?: number;
  idle?: number;
}

const rssMb = () => process.memoryUsage.rss() / 1e6;
const settle = () => run('sync', []);

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'nubo-bench-image-'));
  const harnesses: ImageHarness[] = [];
  try {
    const loadBefore = loadavg()[0].toFixed(2);
    const src = join(work, 'image.raw');
    makeFile(src, size);
    await settle();

    // What each part of an upload costs, each alone.
    const hashed = await hashCosts(src);
    const writeBuffered = await writeCost(src, join(work, 'w.raw'), false);
    await settle();
    const writeDirect = await writeCost(src, join(work, 'w.raw'), true);
    const receive = await receiveCost(src);
    const send = await sendCost(src);

    const start = async (overrides: Record<string, unknown>) => {
      const h = await startImage({ overrides });
      harnesses.push(h);
      await h.app.listen({ port: 0, host: '127.0.0.1' });
      return { h, base: `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}` };
    };
    const plain = await start({});
    const uploaders = [{ name: 'upload (md5 + sha512, direct I/O, fsync)', ...plain }];
    if (values.variants !== 'false') {
      uploaders.push({ name: 'upload, image.hashing_algorithm sha256', ...(await start({ 'image.hashing_algorithm': 'sha256' })) });
      uploaders.push({ name: 'upload, image.direct_io false (page cache)', ...(await start({ 'image.direct_io': false })) });
    }

    const cases = new Map<string, Case>();
    const record = (name: string, o: Outcome, extra: Partial<Case> = {}) => {
      const c = cases.get(name) ?? { name, results: [] };
      c.results.push(o);
      if (extra.rss !== undefined) {
        c.rss = Math.max(c.rss ?? 0, extra.rss);
        c.idle = extra.idle;
      }
      cases.set(name, c);
    };

    const copy = join(work, 'copy.raw');
    const dst = join(work, 'download.raw');
    const checks: string[] = [];
    for (let round = 0; round < runs; round++) {
      await settle();
      record('cp', await run('cp', [src, copy]));
      rmSync(copy);
      await settle();
      // coreutils' `sync FILE` fsyncs that file.
      record('cp + fsync', await run('sh', ['-c', 'cp "$0" "$1" && sync "$1"', src, copy]));
      rmSync(copy);

      let downloadable: { h: ImageHarness; base: string; id: string } | undefined;
      const made: { h: ImageHarness; id: string }[] = [];
      for (const u of uploaders) {
        const auth = ['-H', `X-Auth-Token: ${u.h.adminToken}`];
        const created = await u.h.call('POST', '/v2/images', { body: { name: 'bench', disk_format: 'raw', container_format: 'bare' } });
        const id = created.body.id as string;
        made.push({ h: u.h, id });
        await settle();
        await new Promise((r) => setTimeout(r, 300));
        const idle = rssMb();
        let peak = idle;
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
        const upload = ['-X', 'PUT', '-T', src, '-H', 'Content-Type: application/octet-stream', '-H', 'Expect:'];
        const o = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...upload, ...auth, `${u.base}/v2/images/${id}/file`]);
        clearInterval(sampler);
        if (o.out !== '204') throw new Error(`upload answered ${o.out}`);
        record(u.name, o, { rss: peak - idle, idle });
        if (round === 0) {
          const shown = (await u.h.call('GET', `/v2/images/${id}`)).body;
          const want = shown.os_hash_algo === 'sha256' ? hashed.digest.sha256 : hashed.digest.sha512;
          const ok = shown.status === 'active' && shown.size === size && shown.checksum === hashed.digest.md5 && shown.os_hash_value === want;
          checks.push(`${u.name}: ${ok ? 'active, size, checksum and os_hash_value (' + shown.os_hash_algo + ') match' : 'MISMATCH ' + JSON.stringify(shown)}`);
        }
        downloadable ??= { h: u.h, base: u.base, id };
      }

      const d = downloadable!;
      const auth = ['-H', `X-Auth-Token: ${d.h.adminToken}`];
      await settle();
      const headers = join(work, 'headers.txt');
      const o = await run('curl', ['-sS', '-o', dst, '-D', headers, '-w', '%{http_code}', ...auth, `${d.base}/v2/images/${d.id}/file`]);
      if (o.out !== '200') throw new Error(`download answered ${o.out}`);
      record('download (GET /file), right after the upload', o);
      // The same again: from the disk again with direct reads, else from the page cache.
      const again = await run('curl', ['-sS', '-o', dst, '-w', '%{http_code}', ...auth, `${d.base}/v2/images/${d.id}/file`]);
      if (again.out !== '200') throw new Error(`download answered ${again.out}`);
      record('download again', again);
      if (round === 0) {
        const md5 = /^content-md5:\s*(\S+)/im.exec(readFileSync(headers, 'utf8'))?.[1];
        await run('cmp', [src, dst]);
        checks.push(`download: ${statSync(dst).size === size ? 'same bytes as the source' : 'WRONG SIZE'}, Content-MD5 ${md5 === hashed.digest.md5 ? 'matches' : 'MISMATCH ' + md5}`);
        // A range in the middle: 206, and the same bytes as the source there.
        const from = Math.floor(size / 3);
        const to = from + MiB - 1;
        const part = join(work, 'range.raw');
        const r = await run('curl', ['-sS', '-o', part, '-r', `${from}-${to}`, '-w', '%{http_code}', ...auth, `${d.base}/v2/images/${d.id}/file`]);
        const got = readFileSync(part);
        const want = Buffer.alloc(MiB);
        const fd = openSync(src, 'r');
        readSync(fd, want, 0, MiB, from);
        closeSync(fd);
        checks.push(`Range bytes=${from}-${to}: ${r.out} ${got.equals(want) ? 'with the same bytes as the source' : 'WRONG BYTES'}`);
      }
      rmSync(dst, { force: true });
      for (const m of made) await m.h.call('DELETE', `/v2/images/${m.id}`);
    }

    const best = (c: Case) => c.results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const mbps = (seconds: number) => size / 1e6 / seconds;
    const perGiB = (cpu: number) => ((cpu * GiB) / size).toFixed(2);
    const cp = mbps(best(cases.get('cp')!).seconds);
    const cpSync = mbps(best(cases.get('cp + fsync')!).seconds);
    const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(0)}%`;
    const cores = availableParallelism();

    console.log(`image data bench: ${size / MiB} MiB over loopback, curl client, store in ${tmpdir()}, ${cores} cores, best of ${runs} rounds`);
    console.log(`load average before: ${loadBefore}, after: ${loadavg()[0].toFixed(2)} (other work on the host skews every wall-clock figure)`);
    console.log('');
    console.log('| run | best s (all runs) | MB/s | vs cp | vs cp + fsync | API CPU s/GiB | client CPU s/GiB |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of cases.values()) {
      const b = best(c);
      const all = c.results.map((r) => r.seconds.toFixed(1)).join(', ');
      const api = c.name.startsWith('cp') ? '' : perGiB(b.cpu);
      console.log(`| ${c.name} | ${b.seconds.toFixed(2)} (${all}) | ${mbps(b.seconds).toFixed(0)} | ${pct(mbps(b.seconds), cp)} | ${pct(mbps(b.seconds), cpSync)} | ${api} | ${perGiB(b.childCpu)} |`);
    }
    for (const c of cases.values()) {
      if (c.rss !== undefined) console.log(`RSS, ${c.name}: idle ${c.idle!.toFixed(0)} MB, peak +${c.rss.toFixed(0)} MB`);
    }
    console.log('');
    console.log('checks:');
    for (const line of checks) console.log(`- ${line}`);
    console.log('');
    const h = hashed.perGiB;
    console.log('CPU seconds per GiB of each part alone (one thread unless said; these hold under load far better than wall time):');
    console.log(`| md5 | ${h.md5.toFixed(2)} |`);
    console.log(`| sha512 | ${h.sha512.toFixed(2)} |`);
    console.log(`| sha256 | ${h.sha256.toFixed(2)} |`);
    console.log(`| HTTP receive, bare node:http server discarding the body | ${receive.server.toFixed(2)} |`);
    console.log(`| HTTP send, the curl client | ${receive.client.toFixed(2)} |`);
    console.log(`| HTTP send, bare node:http server streaming the file from the page cache (fs.createReadStream) | ${send.toFixed(2)} |`);
    console.log(`| store write through the page cache + fsync (all threads) | ${writeBuffered.cpu.toFixed(2)} (${(Math.min(size, GiB) / 1e6 / writeBuffered.seconds).toFixed(0)} MB/s) |`);
    console.log(`| store write with direct I/O + fsync (all threads) | ${writeDirect.cpu.toFixed(2)} (${(Math.min(size, GiB) / 1e6 / writeDirect.seconds).toFixed(0)} MB/s) |`);
    console.log(`| first read of data written with direct I/O (cat, kernel time: not in the page cache) | ${writeDirect.firstRead.toFixed(2)} |`);
    console.log(`| first read of data written through the page cache (cat) | ${writeBuffered.firstRead.toFixed(2)} |`);
    const sum = h.md5 + h.sha512 + receive.server + receive.client + writeDirect.cpu;
    const floor = Math.max(h.md5, sum / cores);
    console.log(
      `An upload's parts add up to ${sum.toFixed(2)} CPU s/GiB (client included); md5 alone runs on one core at best, so on ${cores} cores ` +
        `an upload cannot beat ${(GiB / 1e6 / floor).toFixed(0)} MB/s here (cp: ${cp.toFixed(0)} MB/s, cp + fsync: ${cpSync.toFixed(0)} MB/s).`,
    );
    console.log('targets: upload and download ≥ 70% of cp; upload peak RSS < +100 MB');
  } finally {
    for (const h of harnesses) await h.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
