// The test guest's build (test/guest/build.sh: cache, concurrent runs, disk
// layout) and the JSON reader its init uses (test/guest/json-flat.awk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { guestBuildScript } from '../support/guest.ts';

const run = promisify(execFile);
const flattener = fileURLToPath(new URL('../guest/json-flat.awk', import.meta.url));
const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
const noBusybox = has('busybox', '--help') ? false : 'busybox is missing';
const noBuildTools = ['syslinux', 'mcopy', 'qemu-img', 'cpio'].find((c) => !has(c, '--version'));

function flatten(json: string): { status: number | null; lines: string[] } {
  const r = spawnSync('busybox', ['awk', '-f', flattener], { input: json, encoding: 'utf8' });
  return { status: r.status, lines: r.stdout.split('\n').filter(Boolean) };
}

test('the guest reads meta_data.json whatever the key order, nesting and escapes', { skip: noBusybox }, () => {
  const doc = {
    meta: { hostname: 'nested', list: [1, 2.5, true, null] },
    public_keys: { first: 'ssh-ed25519 AAAA a "quoted" \\ key\n', second: 'ssh-rsa BBBB' },
    hostname: 'vm-1',
    uuid: 'u-1',
    name: 'with/slash é',
    empty: {},
    none: [],
  };
  const { status, lines } = flatten(JSON.stringify(doc));
  assert.equal(status, 0);
  assert.deepEqual(lines, [
    'meta.hostname=nested',
    'meta.list.0=1',
    'meta.list.1=2.5',
    'meta.list.2=true',
    'meta.list.3=null',
    'public_keys.first=ssh-ed25519 AAAA a "quoted" \\ key\\n',
    'public_keys.second=ssh-rsa BBBB',
    'hostname=vm-1',
    'uuid=u-1',
    'name=with/slash é',
  ]);
  // Pretty-printed input and escaped slashes read the same.
  assert.deepEqual(flatten('{\n  "a": "x\\/y",\n  "b": [\n    "c"\n  ]\n}\n').lines, ['a=x/y', 'b.0=c']);
  for (const bad of ['{"a": [1,}', '{"a": "open', '{"a" 1}', '{"a": 1} trailing', '{"a": nope}']) {
    assert.equal(flatten(bad).status, 1, bad);
  }
});

test('build.sh caches the image by its inputs and concurrent builds leave one whole image', { skip: noBuildTools ? `${noBuildTools} is missing` : false, timeout: 600_000 }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'nubo-guest-cache-'));
  const outdir = join(cache, 'explicit');
  try {
    const env = { ...process.env, NUBO_GUEST_CACHE: cache };
    const started = Date.now();
    const [a, b, c] = await Promise.all([
      run('bash', [guestBuildScript], { env }),
      run('bash', [guestBuildScript], { env }),
      run('bash', [guestBuildScript, outdir], { env }),
    ]);
    t.diagnostic(`three concurrent builds: ${Date.now() - started} ms`);
    const path = a.stdout.trim();
    assert.equal(b.stdout.trim(), path);
    assert.match(path, new RegExp(`^${cache}/[0-9a-f]{16}/nubo-guest\\.qcow2$`));
    assert.equal(c.stdout.trim(), join(outdir, 'nubo-guest.qcow2'));
    assert.deepEqual(readdirSync(dirname(path)).sort(), ['inputs.txt', 'nubo-guest.qcow2'], 'no build directory left behind');
    assert.deepEqual(readdirSync(outdir).sort(), ['inputs.txt', 'nubo-guest.qcow2']);

    const info = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' }).stdout);
    assert.equal(info.format, 'qcow2');
    const check = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    t.diagnostic(`image: ${statSync(path).size} bytes, virtual ${info['virtual-size']} bytes`);

    // The layout SeaBIOS boots: an MBR with one bootable partition at 1 MiB holding SYSLINUX, kernel and initramfs.
    const raw = join(cache, 'disk.raw');
    assert.equal(spawnSync('qemu-img', ['convert', '-O', 'raw', path, raw]).status, 0);
    const table = JSON.parse(spawnSync('sfdisk', ['--json', raw], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).stdout).partitiontable;
    assert.equal(table.label, 'dos');
    assert.equal(table.partitions.length, 1);
    assert.equal(table.partitions[0].start, 2048);
    assert.equal(table.partitions[0].bootable, true);
    const files = spawnSync('mdir', ['-a', '-b', '-i', `${raw}@@1M`, '::'], { encoding: 'utf8' }).stdout;
    for (const f of ['ldlinux.sys', 'ldlinux.c32', 'vmlinuz', 'initrd.gz', 'syslinux.cfg']) assert.ok(files.includes(`::/${f}`), `${f} in ${files}`);

    // Unchanged inputs: the same path, not rebuilt.
    const mtime = statSync(path).mtimeMs;
    assert.equal((await run('bash', [guestBuildScript], { env })).stdout.trim(), path);
    assert.equal(statSync(path).mtimeMs, mtime);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
