import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAllInOne, removeDataDir, type AllInOne } from '../support/all-in-one.ts';
import { postgresDatabase, type TestDatabase } from '../support/db.ts';

const rabbitUrl = process.env.NUBO_TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The real `openstack` client against a real all-in-one process. */
function openstackScenario(name: string, backing: () => Promise<{ env: NodeJS.ProcessEnv; cleanup(): Promise<void> }>) {
  describe(`openstack client against the all-in-one (${name})`, () => {
    let cloud: AllInOne;
    let cleanup: () => Promise<void>;
    before(async () => {
      const b = await backing();
      cleanup = b.cleanup;
      cloud = await startAllInOne({ env: b.env });
    });
    after(async () => {
      await cloud?.stop();
      if (cloud) removeDataDir(cloud.dataDir);
      await cleanup?.();
    });

    const userEnv = (user: string, password: string, project: string) => ({
      OS_AUTH_URL: cloud.authUrl,
      OS_USERNAME: user,
      OS_PASSWORD: password,
      OS_PROJECT_NAME: project,
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_IDENTITY_API_VERSION: '3',
      PATH: process.env.PATH,
      HOME: process.env.HOME,
    });

    test('first start bootstraps, stores the admin password with mode 0600 and writes clouds.yaml', () => {
      const pwFile = join(cloud.dataDir, 'admin-password');
      assert.equal(statSync(pwFile).mode & 0o777, 0o600);
      assert.equal(readFileSync(pwFile, 'utf8').trim(), cloud.password);
      assert.equal(statSync(cloud.cloudsFile).mode & 0o777, 0o600);
      assert.ok(!JSON.stringify(cloud.logs).includes(cloud.password), 'the password never reaches the log');
    });

    test('token issue, then the whole identity workflow', async () => {
      const token = cloud.openstack(['token', 'issue', '-f', 'json']);
      assert.match(token.id, /^[\w.-]{20,}$/);
      assert.ok(token.project_id && token.user_id && token.expires);

      const project = cloud.openstack(['project', 'create', 'demo', '--description', 'Demo project', '-f', 'json']);
      assert.equal(project.name, 'demo');
      const user = cloud.openstack(['user', 'create', '--project', 'demo', '--password', 's3cret-alice', 'alice', '-f', 'json']);
      assert.equal(user.name, 'alice');
      assert.equal(user.default_project_id, project.id);
      assert.ok(!('password' in user));
      const group = cloud.openstack(['group', 'create', 'devs', '-f', 'json']);
      cloud.openstack(['group', 'add', 'user', 'devs', 'alice']);
      const groupUsers = cloud.openstack(['user', 'list', '--group', 'devs', '-f', 'json']);
      assert.deepEqual(groupUsers.map((u: any) => u.Name), ['alice']);
      const role = cloud.openstack(['role', 'create', 'observer', '-f', 'json']);
      assert.equal(role.name, 'observer');

      cloud.openstack(['role', 'add', '--project', 'demo', '--user', 'alice', 'member']);
      cloud.openstack(['role', 'add', '--project', 'demo', '--group', 'devs', 'observer']);
      const assignments = cloud.openstack(['role', 'assignment', 'list', '--project', 'demo', '--names', '-f', 'json']);
      const roles = assignments.map((a: any) => `${a.Role}:${a.User || a.Group}`).sort();
      assert.deepEqual(roles, ['member:alice@Default', 'observer:devs@Default']);
      const effective = cloud.openstack(['role', 'assignment', 'list', '--user', 'alice', '--project', 'demo', '--effective', '--names', '-f', 'json']);
      assert.deepEqual(effective.map((a: any) => a.Role).sort(), ['member', 'observer', 'reader']);

      // alice logs in with her password and makes an application credential
      const aliceEnv = userEnv('alice', 's3cret-alice', 'demo');
      const aliceToken = JSON.parse(cloud.openstackRaw(['token', 'issue', '-f', 'json'], aliceEnv).stdout);
      assert.equal(aliceToken.project_id, project.id);
      const created = cloud.openstackRaw(['application', 'credential', 'create', 'ci-app', '-f', 'json'], aliceEnv);
      assert.equal(created.status, 0, created.stderr);
      const appcred = JSON.parse(created.stdout);
      assert.ok(appcred.id && appcred.secret);

      // a new command authenticated with only the application credential
      const appEnv = {
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_AUTH_URL: cloud.authUrl,
        OS_APPLICATION_CREDENTIAL_ID: appcred.id,
        OS_APPLICATION_CREDENTIAL_SECRET: appcred.secret,
        OS_IDENTITY_API_VERSION: '3',
        PATH: process.env.PATH,
        HOME: process.env.HOME,
      };
      const appToken = cloud.openstackRaw(['token', 'issue', '-f', 'json'], appEnv);
      assert.equal(appToken.status, 0, appToken.stderr);
      assert.equal(JSON.parse(appToken.stdout).project_id, project.id);
      const wrongSecret = cloud.openstackRaw(['token', 'issue', '-f', 'json'], { ...appEnv, OS_APPLICATION_CREDENTIAL_SECRET: 'nope' });
      assert.notEqual(wrongSecret.status, 0);

      const catalog = cloud.openstack(['catalog', 'list', '-f', 'json']);
      const identity = catalog.find((s: any) => s.Type === 'identity');
      assert.ok(identity, JSON.stringify(catalog));
      assert.match(JSON.stringify(identity.Endpoints), /public/);

      // removing alice's roles on demo (direct and through the group) locks her out of it
      cloud.openstack(['role', 'remove', '--project', 'demo', '--user', 'alice', 'member']);
      cloud.openstack(['group', 'remove', 'user', 'devs', 'alice']);
      const noRole = cloud.openstackRaw(['token', 'issue', '-f', 'json'], aliceEnv);
      assert.notEqual(noRole.status, 0);
      assert.match(noRole.stderr, /401|not authorized|authentication/i);
      assert.ok(group.id);
    });

    test('token revoke makes the token invalid everywhere', async () => {
      const token = cloud.openstack(['token', 'issue', '-f', 'json']);
      const admin = cloud.openstack(['token', 'issue', '-f', 'json']);
      const check = () =>
        fetch(`${cloud.authUrl}/auth/tokens`, { headers: { 'x-auth-token': admin.id, 'x-subject-token': token.id } }).then((r) => r.status);
      assert.equal(await check(), 200);
      cloud.openstack(['token', 'revoke', token.id]);
      assert.equal(await check(), 404);
    });
  });
}

openstackScenario('embedded PGlite and in-process bus', async () => ({ env: {}, cleanup: async () => {} }));

openstackScenario('PostgreSQL and RabbitMQ', async () => {
  const database: TestDatabase = await postgresDatabase();
  return {
    env: { NUBO_DATABASE_URL: database.url, NUBO_BUS_URL: rabbitUrl },
    cleanup: () => database.drop(),
  };
});

describe('a second start reuses everything', () => {
  test('same admin password, same admin user, tokens still verify', async () => {
    const first = await startAllInOne();
    try {
      const token = first.openstack(['token', 'issue', '-f', 'json']);
      await first.stop();
      const second = await startAllInOne({ dataDir: first.dataDir });
      try {
        assert.equal(second.password, first.password);
        const again = second.openstack(['token', 'issue', '-f', 'json']);
        assert.equal(again.user_id, token.user_id);
        assert.equal(again.project_id, token.project_id);
        const res = await fetch(`${second.authUrl}/auth/tokens`, { headers: { 'x-auth-token': again.id, 'x-subject-token': token.id } });
        assert.equal(res.status, 200, 'a token from before the restart still verifies');
      } finally {
        await second.stop();
      }
    } finally {
      removeDataDir(first.dataDir);
    }
  });

  test('a bad configuration value stops the start with a message naming the option', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [new URL('../../bin/nubo.js', import.meta.url).pathname, 'all-in-one'], {
      env: { ...process.env, NUBO_IDENTITY_PORT: 'five-thousand', NUBO_DATA_DIR: `/tmp/nubo-bad-${randomBytes(4).toString('hex')}` },
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /NUBO_IDENTITY_PORT/);
  });
});
