import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../../bin/commands/index.ts';
import { closeDatabase, openDatabase } from '../../lib/db/index.ts';

const nubo = fileURLToPath(new URL('../../bin/nubo.js', import.meta.url));
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [nubo, ...args], { encoding: 'utf8', env: { ...process.env, NUBO_LOG_LEVEL: 'warn', ...env }, timeout: 60_000 });

test('nubo --help lists every command and each command has --help', () => {
  const top = run(['--help']);
  assert.equal(top.status, 0);
  for (const c of commands) {
    assert.ok(top.stdout.includes(c.name), `--help lists ${c.name}`);
    const help = run([...c.name.split(' '), '--help']);
    assert.equal(help.status, 0, `${c.name} --help`);
    assert.match(help.stdout, new RegExp(`Usage: nubo ${c.name}`));
  }
  const unknown = run(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

test('nubo config show prints every option with secrets masked, and a bad file names the option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubo-cli-'));
  try {
    const file = join(dir, 'nubo.yaml');
    writeFileSync(file, 'database:\n  url: postgres://nubo:hunter2@db.example:5432/nubo\nidentity:\n  port: 5999\n');
    const shown = run(['config', 'show', '--config', file]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /identity\.port = 5999/);
    assert.match(shown.stdout, /database\.url = "postgres:\/\/nubo:\*\*\*@db\.example:5432\/nubo"/);
    assert.ok(!shown.stdout.includes('hunter2'));
    writeFileSync(file, 'identity:\n  lockout_duration: soon\n');
    const bad = run(['config', 'show', '--config', file]);
    assert.equal(bad.status, 78);
    assert.match(bad.stderr, /identity\.lockout_duration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('db migrate, bootstrap and tokens rotate work on the embedded database and are safe to repeat', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubo-cli-'));
  const env = { NUBO_DATA_DIR: dir, NUBO_IDENTITY_PASSWORD_HASH_COST: '10' };
  try {
    const first = run(['db', 'migrate'], env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /applied: 001_identity/);
    assert.match(run(['db', 'migrate'], env).stdout, /up to date/);

    const boot = run(['bootstrap'], env);
    assert.equal(boot.status, 0, boot.stderr);
    assert.equal(statSync(join(dir, 'admin-password')).mode & 0o777, 0o600);
    assert.equal(run(['bootstrap'], env).status, 0, 'a second bootstrap changes nothing and succeeds');

    assert.equal(run(['tokens', 'rotate'], env).status, 0);
    assert.equal(run(['tokens', 'rotate'], env).status, 0);
    const db = openDatabase({ url: '', dataDir: dir });
    try {
      const keys = await db('signing_keys').select('state');
      const states = keys.map((k: { state: string }) => k.state).sort();
      assert.deepEqual(states, ['primary', 'secondary', 'staged'], 'max_active_keys 3 keeps staged, primary and one secondary');
      assert.equal((await db('users').where({ name: 'admin' })).length, 1);
    } finally {
      await closeDatabase(db);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
