import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { builtNubo, removeDataDir, startAllInOne } from '../support/all-in-one.ts';

const build = fileURLToPath(new URL('../../bin/build.js', import.meta.url));

/** What `npm start` runs: the compiled tree, built by bin/build.js, serving the real client. */
test('npm start: bin/build.js compiles the tree and the compiled all-in-one serves openstack', { timeout: 180_000 }, async () => {
  const built = spawnSync(process.execPath, [build], { encoding: 'utf8' });
  assert.equal(built.status, 0, `bin/build.js failed:\n${built.stdout}${built.stderr}`);
  const help = spawnSync(process.execPath, [builtNubo, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /all-in-one/);
  const cloud = await startAllInOne({ built: true });
  try {
    const token = cloud.openstack(['token', 'issue', '-f', 'json']);
    assert.match(token.id, /\S{20,}/);
    const images = cloud.openstack(['image', 'list', '-f', 'json']);
    assert.ok(Array.isArray(images));
  } finally {
    await cloud.stop();
    removeDataDir(cloud.dataDir);
  }
});
