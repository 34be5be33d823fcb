/**
 * Image data figures, printed (never asserted): upload (PUT /v2/images/{id}/file)
 * and download of a large file through the image API over loopback, against
 * `cp` of the same file on the same disk; and the API process's peak RSS
 * during the upload above its idle RSS.
 *
 *   node --import tsx bench/image.ts [--mib 2048]
 *
 * The image API runs in this process (PGlite, filesystem store in the temp
 * directory); curl is the client, in its own process, so the figures are the
 * server's. Page cache is warm for every run alike; the upload fsyncs its
 * file before answering, cp does not.
 *
 * Targets (2 cores): upload and download at ≥ 70% of cp; upload peak RSS
 * under 100 MB above idle.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, rmSync, statSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startImage } from '../test/support/image.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '2048' } } });
const MiB = 1024 * 1024;
const size = Number(values.mib) * MiB;

/** Runs a command; resolves with its stdout, rejects on a non-zero exit. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** Runs `fn`; its result, how long it took, and the CPU time this process (all its threads) spent meanwhile, in seconds. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(cpu);
  return [result, Number(process.hrtime.bigint() - t) / 1e9, (used.user + used.system) / 1e6];
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

const rssMb = () => process.memoryUsage.rss() / 1e6;
const mbps = (seconds: number) => size / 1e6 / seconds;

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'nubo-bench-image-'));
  const h = await startImage();
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const load = loadavg()[0].toFixed(2);
    const src = join(work, 'image.raw');
    makeFile(src, size);
    // Each run starts with nothing dirty in the page cache: no write-back of an earlier run competes with it.
    const settle = () => run('sync', []);
    await settle();

    const copy = join(work, 'copy.raw');
    const [, cpSeconds] = await timed(() => run('cp', [src, copy]));
    rmSync(copy);
    await settle();
    const [, cpSyncSeconds] = await timed(() => run('sh', ['-c', 'cp "$0" "$1" && sync "$1"', src, copy]));
    rmSync(copy);

    const created = await h.call('POST', '/v2/images', { body: { name: 'bench', disk_format: 'raw', container_format: 'bare' } });
    const id = created.body.id as string;
    const auth = ['-H', `X-Auth-Token: ${h.adminToken}`];

    await settle();
    await new Promise((r) => setTimeout(r, 500));
    const idle = rssMb();
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
    const upload = ['-X', 'PUT', '-T', src, '-H', 'Content-Type: application/octet-stream', '-H', 'Expect:'];
    const [upStatus, upSeconds, upCpu] = await timed(() => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...upload, ...auth, `${base}/v2/images/${id}/file`]));
    clearInterval(sampler);
    if (upStatus !== '204') throw new Error(`upload answered ${upStatus}`);

    await settle();
    const dst = join(work, 'download.raw');
    const [downStatus, downSeconds, downCpu] = await timed(() => run('curl', ['-sS', '-o', dst, '-w', '%{http_code}', ...auth, `${base}/v2/images/${id}/file`]));
    if (downStatus !== '200') throw new Error(`download answered ${downStatus}`);
    if (statSync(dst).size !== size) throw new Error('download has the wrong size');
    await run('cmp', [src, dst]);

    const cp = mbps(cpSeconds);
    const up = mbps(upSeconds);
    const down = mbps(downSeconds);
    console.log(`image data bench: ${size / MiB} MiB over loopback, curl client, store in ${tmpdir()}`);
    const pct = (v: number) => `${((v / cp) * 100).toFixed(0)}%`;
    console.log(`load average before: ${load}, after: ${loadavg()[0].toFixed(2)} (other work on the host skews every figure)`);
    console.log('| run | seconds | MB/s | vs cp | API CPU s |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| cp | ${cpSeconds.toFixed(2)} | ${cp.toFixed(0)} | 100% | |`);
    console.log(`| cp + sync (the upload fsyncs) | ${cpSyncSeconds.toFixed(2)} | ${mbps(cpSyncSeconds).toFixed(0)} | ${pct(mbps(cpSyncSeconds))} | |`);
    console.log(`| upload (PUT /file, md5+sha512, fsync) | ${upSeconds.toFixed(2)} | ${up.toFixed(0)} | ${pct(up)} | ${upCpu.toFixed(1)} |`);
    console.log(`| download (GET /file) | ${downSeconds.toFixed(2)} | ${down.toFixed(0)} | ${pct(down)} | ${downCpu.toFixed(1)} |`);
    console.log(`RSS: idle ${idle.toFixed(0)} MB, peak during upload ${peak.toFixed(0)} MB (+${(peak - idle).toFixed(0)} MB)`);
    console.log('targets: upload and download ≥ 70% of cp; upload peak RSS < +100 MB');
  } finally {
    await h.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
