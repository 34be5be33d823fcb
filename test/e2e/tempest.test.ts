import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { passingFile, readList, SUITES, type RunResults, type Suite } from '../tempest/run.ts';

const runner = fileURLToPath(new URL('../tempest/run.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Guard: every Tempest test in test/tempest/<suite>-passing.txt (identity,
 * image, compute) passes against a fresh all-in-one, in one Tempest run.
 * (`node --import tsx test/tempest/run.ts --update` refreshes the lists after
 * the API gains features.)
 */
test('the Tempest tests in the passing lists pass', { timeout: 25 * 60_000 }, async () => {
  const suites = Object.keys(SUITES) as Suite[];
  for (const suite of suites) {
    assert.ok(readList(passingFile(suite)).length > 0, `${passingFile(suite)} lists no tests: run \`node --import tsx test/tempest/run.ts --update\``);
  }
  const listed = suites.flatMap((suite) => readList(passingFile(suite)));
  assert.equal(spawnSync('tempest', ['--version']).status, 0, 'the `tempest` command (Debian package tempest) is not installed');

  const dir = mkdtempSync(join(tmpdir(), 'nubo-tempest-guard-'));
  const jsonFile = join(dir, 'results.json');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', runner, '--json', jsonFile, '--timeout', '1200'], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.once('error', reject);
      child.once('exit', resolve);
    });
    let results: RunResults;
    try {
      results = JSON.parse(readFileSync(jsonFile, 'utf8'));
    } catch {
      assert.fail(`the Tempest runner exited with ${code} without results (see its output above)`);
    }
    const notPassing = results.tests.filter((t) => t.status !== 'pass');
    assert.deepEqual(
      notPassing.map((t) => `${t.id} (${t.status}): ${t.reason}`),
      [],
      `listed Tempest tests that did not pass (logs in ${results.workspace})`,
    );
    assert.deepEqual(results.unknown, [], 'tests listed in a passing list that Tempest does not have');
    assert.equal(results.counts.pass, new Set(listed).size, 'every listed test ran and passed');
    assert.equal(code, 0, `the runner exited with ${code}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
