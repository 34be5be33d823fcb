import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { originProblem, parseAllowedOrigins } from '../../api/compute/consoles/origin.ts';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('no Origin (not a browser) passes; the same host passes whatever the port or case', () => {
  const none = parseAllowedOrigins('');
  assert.equal(originProblem(req({ host: 'cloud.example:6080' }), none), null);
  assert.equal(originProblem(req({ host: 'cloud.example:6080', origin: 'https://Cloud.Example' }), none), null);
  assert.equal(originProblem(req({ host: '[::1]:6080', origin: 'http://[::1]:6080' }), none), null);
});

test('another host, a bad scheme, or a malformed Origin is refused unless the host is allowed', () => {
  const allowed = parseAllowedOrigins(' portal.example , ,OTHER.example');
  assert.deepEqual([...allowed], ['portal.example', 'other.example']);
  assert.match(originProblem(req({ host: 'cloud.example:6080', origin: 'http://evil.example' }), allowed) ?? '', /does not match/);
  assert.equal(originProblem(req({ host: 'cloud.example:6080', origin: 'https://portal.example:8443' }), allowed), null);
  assert.match(originProblem(req({ host: 'cloud.example', origin: 'ftp://cloud.example' }), allowed) ?? '', /scheme/);
  assert.match(originProblem(req({ host: 'cloud.example', origin: 'null' }), allowed) ?? '', /not a URL/);
  assert.match(originProblem(req({ origin: 'http://cloud.example' }), allowed) ?? '', /no Host header/);
});
