import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, describeConfig, envName, options } from '../../lib/config/index.ts';
import { ConfigError } from '../../lib/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'nubo-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('defaults apply when nothing is set', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c['identity.port'], 5000);
  assert.equal(c['database.url'], '');
  assert.equal(c['identity.token_expiration'], 3600);
});

test('the YAML file overrides defaults and the environment overrides the file', () => {
  const p = file('a.yaml', 'identity:\n  port: 5001\n  token_expiration: 600\nlog:\n  level: debug\n');
  const c = loadConfig({ file: p, env: { NUBO_IDENTITY_PORT: '5002' } });
  assert.equal(c['identity.port'], 5002);
  assert.equal(c['identity.token_expiration'], 600);
  assert.equal(c['log.level'], 'debug');
  assert.equal(c.source, p);
});

test('a bad value fails naming the option', () => {
  assert.throws(() => loadConfig({ env: { NUBO_IDENTITY_PORT: 'http' } }), (e: unknown) => e instanceof ConfigError && /NUBO_IDENTITY_PORT/.test((e as Error).message));
  assert.throws(() => loadConfig({ file: file('b.yaml', 'identity:\n  port: 70000\n'), env: {} }), /identity\.port.*at most 65535/);
  assert.throws(() => loadConfig({ file: file('c.yaml', 'identity:\n  prot: 1\n'), env: {} }), /identity\.prot.*unknown option/);
  assert.throws(() => loadConfig({ env: { NUBO_LOG_LEVEL: 'loud' } }), /NUBO_LOG_LEVEL.*one of/);
  assert.throws(() => loadConfig({ env: { NUBO_DATABASE_URL: 'mysql://x' } }), /database\.url/);
  assert.throws(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }), /does not exist/);
  assert.throws(() => loadConfig({ file: file('d.yaml', 'identity: [1\n'), env: {} }), /not valid YAML/);
});

test('config show masks secrets but keeps a URL readable', () => {
  const c = loadConfig({ env: { NUBO_DATABASE_URL: 'postgres://nubo:hunter2@db:5432/nubo', NUBO_IDENTITY_ADMIN_PASSWORD: 'hunter3' } });
  const shown = describeConfig(c);
  assert.equal(shown['database.url'], 'postgres://nubo:***@db:5432/nubo');
  assert.equal(shown['identity.admin_password'], '***');
  assert.ok(!JSON.stringify(shown).includes('hunter'));
});

test('the README documents every option with its environment variable and default', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const [name, spec] of Object.entries(options)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `README lacks option ${name}`);
    assert.ok(row.includes(envName(name)) && row.includes(JSON.stringify(spec.default)), `README row for ${name} is out of date`);
  }
});

test('an empty variable clears a string option and leaves a number alone', () => {
  const c = loadConfig({ env: { NUBO_CLOUDS_YAML: '', NUBO_IDENTITY_PORT: '' } });
  assert.equal(c.clouds_yaml, '');
  assert.equal(c['identity.port'], 5000);
});
