import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Bus } from '../../lib/bus/bus.ts';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { NuboError } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/log.ts';
import type { NewTokenClaims, TokenClaims, TokenService } from '../../lib/tokens/claims.ts';
import { createTokenService } from '../../lib/tokens/index.ts';
import { eventMatches, RevocationIndex } from '../../lib/tokens/revocations.ts';
import { databaseEngines, type TestDatabase } from '../support/db.ts';

const maxActiveKeys = 3;
const pollMs = 200;
const config = loadConfig({
  env: {},
  overrides: { 'identity.revocation_poll_ms': pollMs, 'identity.max_active_keys': maxActiveKeys, 'identity.token_expiration': 3600 },
});
const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sample = (over: Partial<NewTokenClaims> = {}): NewTokenClaims => ({
  user_id: newId(),
  user_domain_id: 'default',
  methods: ['password'],
  scope: { type: 'project', project_id: newId(), domain_id: 'default' },
  roles: [
    { id: newId(), name: 'member' },
    { id: newId(), name: 'reader' },
  ],
  expires_at: new Date(Date.now() + 3600_000),
  ...over,
});

const header = (token: string) => jwt.decode(token, { complete: true })!.header;

function assertUnauthorized(fn: () => unknown) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NuboError, `expected a NuboError, got ${e}`);
    assert.equal(e.status, 401);
    assert.equal(e.message, 'The request you have made requires authentication.');
    return true;
  });
}

const rejects = (tokens: TokenService, token: string) => {
  try {
    tokens.verify(token);
    return false;
  } catch (e) {
    if (e instanceof NuboError && e.status === 401) return true;
    throw e;
  }
};

/** Polls until `tokens` rejects `token`; returns the ms it took (fails after `limitMs`). */
async function msUntilRejected(tokens: TokenService, token: string, start: number, limitMs = 3000): Promise<number> {
  for (;;) {
    if (rejects(tokens, token)) return Date.now() - start;
    if (Date.now() - start > limitMs) assert.fail(`token still accepted after ${limitMs} ms`);
    await sleep(5);
  }
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, limitMs = 3000) {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) assert.fail(`${what}: not within ${limitMs} ms`);
    await sleep(10);
  }
}

for (const [engine, openDatabase] of databaseEngines) {
  describe(`token service on ${engine}`, () => {
    let database: TestDatabase;
    const opened: { close(): Promise<void> }[] = [];
    let bus: Bus;
    let a: TokenService;
    let b: TokenService;

    const newBus = () => {
      const bus = createMemoryBus();
      opened.push(bus);
      return bus;
    };
    const service = async (on: Bus, cfg = config) => {
      const s = await createTokenService({ db: database.db, bus: on, config: cfg, logger });
      opened.push(s);
      return s;
    };
    const keyStates = async () => {
      const rows: { kid: string; state: string }[] = await database.db('signing_keys').select('kid', 'state');
      return rows;
    };

    before(async () => {
      database = await openDatabase();
      bus = newBus();
    });
    after(async () => {
      // Services before buses (services were pushed after their bus): close in reverse.
      for (const o of opened.reverse()) await o.close();
      await database.drop();
    });

    test('first start creates one staged and one primary key, once even when several start together', async () => {
      const [first, second, third] = await Promise.all([service(bus), service(bus), service(bus)]);
      a = first;
      b = second;
      const rows = await keyStates();
      assert.deepEqual(rows.map((r) => r.state).sort(), ['primary', 'staged']);
      for (const r of rows) assert.match(r.kid, /^[0-9a-f]{32}$/);
      const primary = rows.find((r) => r.state === 'primary')!.kid;
      for (const s of [first, second, third]) assert.equal(header((await s.issue(sample())).token).kid, primary);
    });

    test('issue → verify round trip keeps every claim, issued_at to the millisecond', async () => {
      const scopes: NewTokenClaims['scope'][] = [
        { type: 'project', project_id: newId(), domain_id: newId() },
        { type: 'domain', domain_id: newId() },
        { type: 'system' },
        { type: 'unscoped' },
      ];
      const issuedMs: number[] = [];
      for (const scope of scopes) {
        const before = Date.now();
        const { token, claims } = await a.issue(sample({ scope, expires_at: new Date(Date.now() + 600_000 + 123) }));
        const after = Date.now();
        const verified = a.verify(token);
        assert.deepEqual(verified, claims);
        assert.deepEqual(b.verify(token), claims);
        assert.deepEqual(verified.scope, scope);
        assert.ok(claims.issued_at.getTime() >= before && claims.issued_at.getTime() <= after);
        assert.equal(claims.expires_at.getTime() % 1000, 0, 'expires_at is whole seconds, as the JWT exp');
        assert.equal(claims.audit_ids.length, 1);
        assert.match(claims.audit_ids[0], /^[A-Za-z0-9_-]{22}$/);
        issuedMs.push(claims.issued_at.getTime());
        const h = header(token);
        assert.equal(h.alg, 'ES256');
        assert.match(h.kid!, /^[0-9a-f]{32}$/);
        const payload = jwt.decode(token) as Record<string, unknown>;
        assert.equal(payload.exp, claims.expires_at.getTime() / 1000);
        assert.equal(payload.ims, claims.issued_at.getTime());
        await sleep(3);
      }
      assert.ok(issuedMs.some((ms) => ms % 1000 !== 0), 'issued_at carries milliseconds');

      const withAppCred = await a.issue(
        sample({ methods: ['application_credential'], application_credential_id: newId(), application_credential_unrestricted: false }),
      );
      const v = b.verify(withAppCred.token);
      assert.deepEqual(v, withAppCred.claims);
      assert.equal(v.application_credential_unrestricted, false);
      assert.ok(!('application_credential_id' in a.verify((await a.issue(sample())).token)));
    });

    test('a tampered token, a foreign key, alg none, garbage and an expired token are all 401', async () => {
      const { token } = await a.issue(sample());
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forgedPayload = Buffer.from(JSON.stringify({ ...payload, sub: newId() })).toString('base64url');
      assertUnauthorized(() => a.verify(`${h}.${forgedPayload}.${s}`));
      const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
      assertUnauthorized(() => a.verify(`${h}.${p}.${flipped}`));

      const foreign = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const unknownKid = jwt.sign(payload, foreign.privateKey, { algorithm: 'ES256', keyid: randomBytes(16).toString('hex'), noTimestamp: true });
      assertUnauthorized(() => a.verify(unknownKid));
      const knownKidWrongKey = jwt.sign(payload, foreign.privateKey, { algorithm: 'ES256', keyid: header(token).kid, noTimestamp: true });
      assertUnauthorized(() => a.verify(knownKidWrongKey));
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: header(token).kid })).toString('base64url')}.${p}.`;
      assertUnauthorized(() => a.verify(none));
      const hs256 = jwt.sign(payload, 'secret', { algorithm: 'HS256', keyid: header(token).kid, noTimestamp: true });
      assertUnauthorized(() => a.verify(hs256));
      for (const garbage of ['', 'abc', 'a.b.c', '...', 'x'.repeat(20_000)]) assertUnauthorized(() => a.verify(garbage));

      const expired = await a.issue(sample({ expires_at: new Date(Date.now() - 1000) }));
      assertUnauthorized(() => a.verify(expired.token));

      // Expiry is honoured for a token already verified (and cached).
      const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
      const shortLived = await a.issue(sample({ expires_at: expiresAt }));
      a.verify(shortLived.token);
      await sleep(expiresAt.getTime() - Date.now() + 5);
      assertUnauthorized(() => a.verify(shortLived.token));
    });

    test('rotate once: old tokens stay valid, new ones are signed by the former staged key', async () => {
      const old = await a.issue(sample());
      a.verify(old.token);
      const stagedBefore = (await keyStates()).find((r) => r.state === 'staged')!.kid;
      await a.rotate();
      const rows = await keyStates();
      assert.equal(rows.find((r) => r.state === 'primary')!.kid, stagedBefore);
      assert.equal(rows.filter((r) => r.state === 'staged').length, 1);
      assert.ok(rows.some((r) => r.state === 'secondary' && r.kid === header(old.token).kid));
      assert.ok(rows.length <= maxActiveKeys);

      assert.deepEqual(a.verify(old.token), old.claims);
      const fresh = await a.issue(sample());
      assert.notEqual(header(fresh.token).kid, header(old.token).kid);
      assert.equal(header(fresh.token).kid, stagedBefore);
      assert.deepEqual(a.verify(fresh.token), fresh.claims);
    });

    test(`a token outlives max_active_keys - 2 rotations and not max_active_keys - 1 (max_active_keys = ${maxActiveKeys})`, async () => {
      const old = await a.issue(sample());
      for (let i = 0; i < maxActiveKeys - 2; i++) {
        await a.rotate();
        assert.deepEqual(a.verify(old.token), old.claims, `still valid after ${i + 1} rotation(s)`);
        assert.deepEqual(b.verify(old.token), old.claims);
      }
      await a.rotate();
      assert.equal((await keyStates()).length, maxActiveKeys);
      assert.ok(!(await keyStates()).some((r) => r.kid === header(old.token).kid), 'the key was deleted');
      assertUnauthorized(() => a.verify(old.token));
      await eventually('B drops the retired key', () => rejects(b, old.token));
      for (let i = 0; i < 2; i++) await a.rotate();
      assertUnauthorized(() => a.verify(old.token));
      assert.equal((await keyStates()).length, maxActiveKeys);
      // Back-to-back rotations outrun the staged key's head start (as with Fernet keys, a staged key
      // must reach every process before it is promoted): let B catch up before the next test.
      await eventually('B knows the current keys', async () => !rejects(b, (await a.issue(sample())).token));
    });

    test('two services on one database and bus: tokens cross, rotations spread', async () => {
      const fromA = await a.issue(sample());
      assert.deepEqual(b.verify(fromA.token), fromA.claims);
      const fromB = await b.issue(sample());
      assert.deepEqual(a.verify(fromB.token), fromB.claims);

      await a.rotate();
      const primary = (await keyStates()).find((r) => r.state === 'primary')!.kid;
      // The new primary was the staged key B already held: A's new tokens verify on B at once.
      const afterRotation = await a.issue(sample());
      assert.equal(header(afterRotation.token).kid, primary);
      assert.deepEqual(b.verify(afterRotation.token), afterRotation.claims);
      await eventually('B signs with the new primary', async () => header((await b.issue(sample())).token).kid === primary);
      assert.deepEqual(b.verify(fromA.token), fromA.claims);
    });

    test('revoking by audit id on A: B rejects within 1 s', async () => {
      const { token, claims } = await a.issue(sample());
      const other = await a.issue(sample({ user_id: claims.user_id }));
      b.verify(token);
      const start = Date.now();
      await a.revoke({ audit_id: claims.audit_ids[0], issued_before: new Date() });
      assertUnauthorized(() => a.verify(token));
      const ms = await msUntilRejected(b, token, start);
      assert.ok(ms < 1000, `B rejected the token after ${ms} ms`);
      assert.deepEqual(b.verify(other.token), other.claims, 'another token of the same user is untouched');
    });

    test('revoking by user id revokes the tokens issued before, not one issued after', async () => {
      const user_id = newId();
      const before1 = await a.issue(sample({ user_id }));
      const before2 = await b.issue(sample({ user_id, scope: { type: 'system' } }));
      const someoneElse = await a.issue(sample());
      b.verify(before1.token);
      await sleep(3);
      await a.revoke({ user_id, issued_before: new Date() });
      await sleep(3);
      const afterwards = await a.issue(sample({ user_id }));
      for (const s of [a, b]) {
        await eventually('revocation reaches the service', () => rejects(s, before1.token));
        assertUnauthorized(() => s.verify(before2.token));
        assert.deepEqual(s.verify(afterwards.token), afterwards.claims);
        assert.deepEqual(s.verify(someoneElse.token), someoneElse.claims);
      }
    });

    test('a service on another bus sees revocations and rotations by polling the database', async () => {
      const c = await service(newBus());
      const { token, claims } = await a.issue(sample());
      c.verify(token);
      const start = Date.now();
      await a.revoke({ audit_id: claims.audit_ids[0], issued_before: new Date() });
      const ms = await msUntilRejected(c, token, start);
      assert.ok(ms < 1000, `C rejected the token after ${ms} ms (poll every ${pollMs} ms)`);

      await a.rotate();
      const primary = (await keyStates()).find((r) => r.state === 'primary')!.kid;
      await eventually('C signs with the new primary', async () => header((await c.issue(sample())).token).kid === primary);
    });

    test('a token made from a parent is revoked with the parent', async () => {
      const parent = await a.issue(sample({ scope: { type: 'unscoped' } }));
      const child = await a.issue(
        sample({ user_id: parent.claims.user_id, methods: ['password', 'token'], parent_audit_id: parent.claims.audit_ids[0] }),
      );
      assert.deepEqual(child.claims.audit_ids.slice(1), [parent.claims.audit_ids[0]]);
      assert.notEqual(child.claims.audit_ids[0], parent.claims.audit_ids[0]);
      const unrelated = await a.issue(sample({ user_id: parent.claims.user_id }));
      assert.deepEqual(b.verify(child.token), child.claims);
      await a.revoke({ audit_id: parent.claims.audit_ids[0], issued_before: new Date() });
      for (const s of [a, b]) {
        await eventually('revocation reaches the service', () => rejects(s, child.token));
        assertUnauthorized(() => s.verify(parent.token));
        assert.deepEqual(s.verify(unrelated.token), unrelated.claims);
      }
    });

    test('a service started later loads recent revocations and prunes old ones', async () => {
      const { token, claims } = await a.issue(sample());
      await a.revoke({ user_id: claims.user_id, issued_before: new Date() });
      const old = new Date(Date.now() - 2 * 86400_000);
      const [{ id: oldId }] = await database.db('revocation_events').insert({ user_id: newId(), issued_before: old, revoked_at: old }).returning('id');
      const late = await service(newBus());
      assertUnauthorized(() => late.verify(token));
      const left = await database.db('revocation_events').where('id', oldId);
      assert.equal(left.length, 0, 'an event older than any token lifetime is pruned');
    });

    test('close() stops polling and unsubscribes', async () => {
      const ownBus = newBus();
      const d = await service(ownBus);
      const { token, claims } = await a.issue(sample());
      d.verify(token);
      await d.close();
      await a.revoke({ audit_id: claims.audit_ids[0], issued_before: new Date() });
      await ownBus.publish('identity.revoked', { id: '999999', audit_id: claims.audit_ids[0], issued_before: new Date().toISOString() });
      await sleep(pollMs * 2);
      // A closed service keeps its last state: it saw neither the bus nor the table.
      assert.deepEqual(d.verify(token), claims);
    });
  });
}

describe('revocation matching', () => {
  const claims = (over: Partial<TokenClaims> = {}): TokenClaims => ({
    user_id: 'u1',
    user_domain_id: 'd-user',
    methods: ['password'],
    scope: { type: 'project', project_id: 'p1', domain_id: 'd-project' },
    roles: [
      { id: 'r1', name: 'member' },
      { id: 'r2', name: 'reader' },
    ],
    audit_ids: ['self', 'parent'],
    issued_at: new Date(1_000_000),
    expires_at: new Date(5_000_000),
    ...over,
  });
  const at = new Date(1_000_000);

  test('each field matches as Keystone matches it', () => {
    const c = claims();
    const yes = [
      { audit_id: 'self' },
      { audit_id: 'parent' },
      { user_id: 'u1' },
      { project_id: 'p1' },
      { domain_id: 'd-user' },
      { domain_id: 'd-project' },
      { role_id: 'r2' },
      { user_id: 'u1', project_id: 'p1' },
      { user_id: 'u1', domain_id: 'd-project', role_id: 'r1' },
      {},
    ];
    const no = [
      { audit_id: 'other' },
      { user_id: 'u2' },
      { project_id: 'p2' },
      { domain_id: 'd-other' },
      { role_id: 'r3' },
      { application_credential_id: 'ac1' },
      { user_id: 'u1', project_id: 'p2' },
    ];
    for (const ev of yes) assert.ok(eventMatches({ ...ev, issued_before: at }, c), JSON.stringify(ev));
    for (const ev of no) assert.ok(!eventMatches({ ...ev, issued_before: at }, c), JSON.stringify(ev));
    assert.ok(!eventMatches({ user_id: 'u1', issued_before: new Date(999_999) }, c), 'issued after issued_before');
    assert.ok(eventMatches({ application_credential_id: 'ac1', issued_before: at }, claims({ application_credential_id: 'ac1' })));
    assert.ok(eventMatches({ domain_id: 'd9', issued_before: at }, claims({ scope: { type: 'domain', domain_id: 'd9' } })));
    assert.ok(!eventMatches({ project_id: 'p1', issued_before: at }, claims({ scope: { type: 'domain', domain_id: 'd9' } })));
  });

  test('the index finds the same events as a scan, among many', () => {
    const index = new RevocationIndex();
    let id = 0;
    for (let i = 0; i < 5000; i++) index.add({ id: String(++id), audit_id: `a${i}`, issuedBefore: 2_000_000 });
    for (let i = 0; i < 2000; i++) index.add({ id: String(++id), user_id: `u${i + 10}`, issuedBefore: 2_000_000 });
    assert.ok(!index.isRevoked(claims()));
    const cases: [Record<string, string>, Partial<TokenClaims>][] = [
      [{ audit_id: 'parent' }, {}],
      [{ user_id: 'u1' }, {}],
      [{ application_credential_id: 'ac' }, { application_credential_id: 'ac' }],
      [{ project_id: 'p1' }, {}],
      [{ role_id: 'r2' }, {}],
      [{ domain_id: 'd-user' }, {}],
      [{ domain_id: 'd-project' }, {}],
      [{}, {}],
    ];
    for (const [fields, over] of cases) {
      const idx = new RevocationIndex();
      idx.add({ id: '1', ...fields, issuedBefore: 1_000_000 });
      assert.ok(idx.isRevoked(claims(over)), JSON.stringify(fields));
      assert.ok(!idx.isRevoked(claims({ ...over, issued_at: new Date(1_000_001) })), `${JSON.stringify(fields)} after issued_before`);
    }
    const v = index.version;
    assert.equal(index.add({ id: '1', audit_id: 'self', issuedBefore: 2_000_000 }), false, 'a known id is ignored');
    assert.equal(index.version, v);
    index.add({ id: 'x', audit_id: 'self', issuedBefore: 2_000_000 });
    assert.ok(index.isRevoked(claims()));
    const size = index.size;
    assert.equal(index.prune(3_000_000), size);
    assert.equal(index.size, 0);
    assert.ok(!index.isRevoked(claims()));
  });
});
