import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { identityPolicyDefaults, identityPolicyNewDefaults } from '../../api/identity/policy-rules.ts';
import { isNuboError } from '../../lib/errors.ts';
import { Enforcer, loadPolicyFile, type PolicyCredentials } from '../../lib/policy/enforcer.ts';
import { checkRule, parseRule, PolicySyntaxError } from '../../lib/policy/rule.ts';

const creds = (over: Record<string, unknown> = {}) => ({ user_id: 'u1', roles: ['member'], project_id: 'p1', ...over });

describe('policy rule language', () => {
  it('always, never, empty', () => {
    assert.equal(checkRule('@', {}, creds()), true);
    assert.equal(checkRule('!', {}, creds()), false);
    assert.equal(checkRule('', {}, creds()), true);
  });

  it('role: is case-insensitive', () => {
    assert.equal(checkRule('role:Member', {}, creds()), true);
    assert.equal(checkRule('role:admin', {}, creds()), false);
    assert.equal(checkRule('role:ADMIN', {}, creds({ roles: ['admin'] })), true);
  });

  it('not > and > or', () => {
    const c = creds({ roles: ['a', 'b'] });
    // a or (b and c): b and c is false, a is true
    assert.equal(checkRule('role:a or role:b and role:c', {}, c), true);
    // (x or b) and c: false; a parse as (x or b) and c would also be false, so check the other order
    assert.equal(checkRule('role:c and role:b or role:a', {}, c), true); // (c and b) or a
    assert.equal(checkRule('role:x or role:b and role:c', {}, c), false); // x or (b and c)
    // not binds tighter than and: (not x) and a
    assert.equal(checkRule('not role:x and role:a', {}, c), true);
    // not binds tighter than or: (not a) or b
    assert.equal(checkRule('not role:a or role:b', {}, c), true);
    assert.equal(checkRule('not role:a or role:x', {}, c), false);
    assert.equal(checkRule('not not role:a', {}, c), true);
    assert.equal(checkRule('role:a AND NOT role:b', {}, c), false);
  });

  it('parentheses override precedence', () => {
    const c = creds({ roles: ['a'] });
    assert.equal(checkRule('role:a or role:b and role:c', {}, c), true);
    assert.equal(checkRule('(role:a or role:b) and role:c', {}, c), false);
    assert.equal(checkRule('not (role:a or role:b)', {}, c), false);
    assert.equal(checkRule('((role:a)) and (role:x or (role:a))', {}, c), true);
  });

  it('compares credentials with literals, True/False and quoted strings', () => {
    const c = creds({ system_scope: 'all', is_admin_project: true, name: 'a b', project_id: 'p1' });
    assert.equal(checkRule('system_scope:all', {}, c), true);
    assert.equal(checkRule('system_scope:other', {}, c), false);
    assert.equal(checkRule('is_admin_project:True', {}, c), true);
    assert.equal(checkRule('is_admin_project:False', {}, c), false);
    assert.equal(checkRule("project_id:'p1'", {}, c), true);
    assert.equal(checkRule("name:'a b' and project_id:p1", {}, c), true);
    // a literal on the left compares with the substituted value
    assert.equal(checkRule("'Member':%(role.name)s", { role: { name: 'Member' } }, c), true);
    assert.equal(checkRule('True:%(user.enabled)s', { user: { enabled: true } }, c), true);
    assert.equal(checkRule('True:%(user.enabled)s', { user: { enabled: false } }, c), false);
    assert.equal(checkRule('None:%(role.domain_id)s', { role: { domain_id: null } }, c), true);
    assert.equal(checkRule('None:%(role.domain_id)s', { role: { domain_id: 'd1' } }, c), false);
  });

  it('reads dotted credential paths, matching any element of a list', () => {
    const c = { user_id: 'u1', token: { domain: { id: 'd1' }, roles: [{ name: 'reader' }, { name: 'admin' }] } };
    assert.equal(checkRule('token.domain.id:d1', {}, c), true);
    assert.equal(checkRule('token.project.domain.id:d1', {}, c), false);
    assert.equal(checkRule('token.roles.name:admin', {}, c), true);
    // null or absent credentials never match, even a target of None
    assert.equal(checkRule('domain_id:%(domain_id)s', { domain_id: null }, { domain_id: null }), false);
  });

  it('substitutes target values: nested, flat dotted keys, and a mix', () => {
    const c = creds();
    assert.equal(checkRule('user_id:%(target.user.id)s', { target: { user: { id: 'u1' } } }, c), true);
    assert.equal(checkRule('user_id:%(target.user.id)s', { 'target.user.id': 'u1' }, c), true);
    assert.equal(checkRule('user_id:%(target.user.id)s', { 'target.user': { id: 'u1' } }, c), true);
    assert.equal(checkRule('user_id:%(target.user.id)s', { target: { 'user.id': 'u1' } }, c), true);
    assert.equal(checkRule('user_id:%(target.user.id)s', { target: { user: { id: 'u2' } } }, c), false);
    assert.equal(checkRule('user_id:%(user_id)s', { user_id: 'u1' }, c), true);
    assert.equal(checkRule('project_id:x-%(a)s-%(b)s', { a: '1', b: '2' }, creds({ project_id: 'x-1-2' })), true);
    assert.equal(checkRule('role:%(r)s', { r: 'MEMBER' }, c), true);
  });

  it('a missing target key makes the check false, even under not', () => {
    const c = creds();
    assert.equal(checkRule('user_id:%(target.user.id)s', {}, c), false);
    assert.equal(checkRule('user_id:%(target.user.id)s', { target: {} }, c), false);
    assert.equal(checkRule('user_id:%(target.user.id)s', { target: { user: null } }, c), false);
    assert.equal(checkRule('role:%(nope)s', {}, c), false);
    assert.equal(checkRule('user_id:%(constructor)s', {}, c), false);
    assert.equal(checkRule('not user_id:%(target.user.id)s', {}, c), true);
  });

  it('rule: refers to other named rules; an unknown one is false', () => {
    const rules = { is_member: 'role:member', both: 'rule:is_member and project_id:p1' };
    assert.equal(checkRule('rule:both', {}, creds(), rules), true);
    assert.equal(checkRule('rule:nope or rule:is_member', {}, creds(), rules), true);
    assert.equal(checkRule('rule:nope', {}, creds(), rules), false);
  });

  it('syntax errors name the rule', () => {
    const bad = ['role:a or', 'role:a and and role:b', '(role:a', 'role:a)', 'justaword', 'role:a role:b', "name:'open", 'user_id:%(x', 'not', '   '];
    for (const text of bad) {
      assert.throws(
        () => parseRule(text, 'identity:broken'),
        (e: unknown) => e instanceof PolicySyntaxError && e.ruleName === 'identity:broken' && /identity:broken/.test(e.message),
        `expected a syntax error for ${JSON.stringify(text)}`,
      );
    }
  });

  it('parses once: the same text gives the same compiled rule', () => {
    assert.equal(parseRule('role:a or role:b'), parseRule('role:a or role:b'));
  });
});

describe('Enforcer', () => {
  const admin: PolicyCredentials = { user_id: 'u1', project_id: 'p1', project_domain_id: 'default', roles: ['admin'] };
  const member: PolicyCredentials = { user_id: 'u2', project_id: 'p1', project_domain_id: 'default', roles: ['member'] };

  it('an unknown action is denied, and authorize throws a 403 naming it', () => {
    const e = new Enforcer({ 'x:ok': '@' });
    assert.equal(e.allows('x:ok', {}, member), true);
    assert.equal(e.allows('x:unknown', {}, admin), false);
    assert.throws(
      () => e.authorize('x:unknown', {}, admin),
      (err: unknown) =>
        isNuboError(err) && err.status === 403 && err.message === 'You are not authorized to perform the requested action: x:unknown.',
    );
    e.authorize('x:ok', {}, member);
  });

  it('overrides replace a default by name and may add named rules', () => {
    const defaults = { admin_required: 'role:admin', 'x:do': 'rule:admin_required', 'x:other': 'rule:admin_required' };
    const e = new Enforcer(defaults, { 'x:do': 'rule:members_too', members_too: 'role:admin or role:member' });
    assert.equal(e.allows('x:do', {}, member), true);
    assert.equal(e.allows('x:other', {}, member), false);
    assert.equal(e.ruleText('x:do'), 'rule:members_too');
    // an override of a base rule changes every rule that refers to it
    const e2 = new Enforcer(defaults, { admin_required: 'role:member' });
    assert.equal(e2.allows('x:other', {}, member), true);
    assert.equal(e2.allows('x:other', {}, admin), false);
  });

  it('a bad rule or a rule cycle fails at construction, naming the rule', () => {
    assert.throws(() => new Enforcer({ 'x:a': '@' }, { 'x:b': 'role:a or' }), /'x:b'/);
    assert.throws(() => new Enforcer({ a: 'rule:b', b: 'rule:a' }), /cycle/);
  });

  describe('loadPolicyFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubo-policy-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };

    it('reads YAML and JSON maps of rule strings', () => {
      const y = file('ok.yaml', '"identity:get_user": "role:admin or user_id:%(target.user.id)s"\nidentity:list_users: ""\n# comment\n');
      assert.deepEqual(loadPolicyFile(y), {
        'identity:get_user': 'role:admin or user_id:%(target.user.id)s',
        'identity:list_users': '',
      });
      const j = file('ok.json', JSON.stringify({ 'identity:get_user': '!' }));
      assert.deepEqual(loadPolicyFile(j), { 'identity:get_user': '!' });
      assert.deepEqual(loadPolicyFile(file('empty.yaml', '# nothing here\n')), {});
    });

    it('rejects a file that is not a map of strings, naming the file and key', () => {
      const list = file('list.yaml', '- role:admin\n');
      assert.throws(() => loadPolicyFile(list), (e: unknown) => e instanceof Error && e.message.includes(list));
      const num = file('num.yaml', '"identity:get_user": 3\n');
      assert.throws(
        () => loadPolicyFile(num),
        (e: unknown) => e instanceof Error && e.message.includes(num) && e.message.includes('identity:get_user'),
      );
      const nested = file('nested.yaml', 'identity:get_user:\n  a: b\n');
      assert.throws(() => loadPolicyFile(nested), /identity:get_user/);
      const syntax = file('syntax.yaml', '"identity:get_user": "role:admin or"\n');
      assert.throws(
        () => loadPolicyFile(syntax),
        (e: unknown) => e instanceof Error && e.message.includes(syntax) && e.message.includes('identity:get_user'),
      );
      const broken = file('broken.yaml', 'a: "unterminated\n');
      assert.throws(() => loadPolicyFile(broken), (e: unknown) => e instanceof Error && e.message.includes(broken));
      assert.throws(() => loadPolicyFile(join(dir, 'missing.yaml')), /missing\.yaml/);
    });
  });
});

describe('Keystone default identity rules', () => {
  const policy = new Enforcer(identityPolicyDefaults);
  const strict = new Enforcer(identityPolicyNewDefaults);

  // The admin project token `openstack --os-cloud` gets after bootstrap.
  const projectAdmin: PolicyCredentials = {
    user_id: 'admin-user',
    user_domain_id: 'default',
    project_id: 'admin-project',
    project_domain_id: 'default',
    domain_id: null,
    system_scope: null,
    roles: ['admin', 'member', 'reader'],
  };
  const systemReader: PolicyCredentials = { user_id: 'auditor', user_domain_id: 'default', system_scope: 'all', roles: ['reader'] };
  const systemAdmin: PolicyCredentials = { user_id: 'root', user_domain_id: 'default', system_scope: 'all', roles: ['admin', 'member', 'reader'] };
  const domainAdminD: PolicyCredentials = { user_id: 'dadmin', user_domain_id: 'D', domain_id: 'D', roles: ['admin', 'member', 'reader'] };
  const domainReaderD: PolicyCredentials = { user_id: 'dreader', user_domain_id: 'D', domain_id: 'D', roles: ['reader'] };
  const member: PolicyCredentials = {
    user_id: 'alice',
    user_domain_id: 'D',
    project_id: 'alice-project',
    project_domain_id: 'D',
    roles: ['member', 'reader'],
  };

  const userTarget = (id: string, domain: string) => ({ user_id: id, target: { user: { id, domain_id: domain } } });
  const newUser = (domain: string) => ({ target: { user: { domain_id: domain } } });
  const newProject = (domain: string) => ({ target: { project: { domain_id: domain } } });
  const appCred = (owner: string) => ({ user_id: owner, target: { user: { id: owner }, application_credential: { user_id: owner } } });

  it('every rule parses, and every rule:<name> it uses exists', () => {
    for (const rules of [identityPolicyDefaults, identityPolicyNewDefaults]) {
      for (const [name, text] of Object.entries(rules)) {
        parseRule(text, name);
        for (const m of text.matchAll(/rule:([\w:]+)/g)) assert.ok(m[1] in rules, `${name} refers to missing rule ${m[1]}`);
      }
    }
    assert.equal(identityPolicyDefaults.admin_required, 'role:admin or is_admin:1');
    assert.match(identityPolicyDefaults['identity:create_user'], /\) or \(rule:admin_required\)$/);
  });

  it('a project-scoped admin can manage everything', () => {
    const grantTarget = {
      target: { user: { id: 'bob', domain_id: 'default' }, project: { id: 'p9', domain_id: 'default' }, role: { id: 'r', domain_id: null } },
    };
    for (const [action, target] of [
      ['identity:create_project', newProject('default')],
      ['identity:create_user', newUser('default')],
      ['identity:create_grant', grantTarget],
      ['identity:revoke_grant', grantTarget],
      ['identity:list_users', {}],
      ['identity:create_domain', {}],
      ['identity:create_role', {}],
      ['identity:create_implied_role', {}],
      ['identity:create_system_grant_for_user', {}],
      ['identity:list_role_assignments', {}],
      ['identity:create_endpoint', {}],
      ['identity:delete_application_credential', appCred('bob')],
      ['identity:validate_token', { target: { token: { user_id: 'bob' } } }],
    ] as const) {
      assert.equal(policy.allows(action, target, projectAdmin), true, action);
    }
    // without the deprecated rules (enforce_new_defaults) it is no longer a cloud admin
    assert.equal(strict.allows('identity:create_user', newUser('default'), projectAdmin), false);
  });

  it('a system reader may read but not write', () => {
    assert.equal(policy.allows('identity:list_users', {}, systemReader), true);
    assert.equal(policy.allows('identity:get_user', userTarget('bob', 'D'), systemReader), true);
    assert.equal(policy.allows('identity:list_projects', {}, systemReader), true);
    assert.equal(policy.allows('identity:list_role_assignments', {}, systemReader), true);
    assert.equal(policy.allows('identity:list_endpoints', {}, systemReader), true);
    assert.equal(policy.allows('identity:create_user', newUser('default'), systemReader), false);
    assert.equal(policy.allows('identity:create_project', newProject('default'), systemReader), false);
    assert.equal(policy.allows('identity:create_grant', {}, systemReader), false);
    assert.equal(policy.allows('identity:create_user', newUser('default'), systemAdmin), true);
  });

  it('a domain admin manages its domain', () => {
    assert.equal(policy.allows('identity:create_user', newUser('D'), domainAdminD), true);
    assert.equal(policy.allows('identity:create_project', newProject('D'), domainAdminD), true);
    assert.equal(strict.allows('identity:create_user', newUser('D'), domainAdminD), true);
    // Only the new rules confine it to D: Keystone Zed's stock rules OR in
    // rule:admin_required, so there any admin token is a cloud admin.
    assert.equal(strict.allows('identity:create_user', newUser('E'), domainAdminD), false);
    assert.equal(strict.allows('identity:create_project', newProject('E'), domainAdminD), false);
    assert.equal(policy.allows('identity:create_user', newUser('E'), domainAdminD), true);
    // grants inside D (role global) but not across domains
    const grant = (userDomain: string, projectDomain: string) => ({
      target: { user: { id: 'x', domain_id: userDomain }, project: { id: 'p', domain_id: projectDomain }, role: { id: 'r', domain_id: null } },
    });
    assert.equal(strict.allows('identity:create_grant', grant('D', 'D'), domainAdminD), true);
    assert.equal(strict.allows('identity:create_grant', grant('D', 'E'), domainAdminD), false);
  });

  it('a domain reader reads its domain only', () => {
    assert.equal(policy.allows('identity:list_users', { target: { domain_id: 'D' } }, domainReaderD), true);
    assert.equal(policy.allows('identity:list_users', { target: { domain_id: 'E' } }, domainReaderD), false);
    assert.equal(policy.allows('identity:get_user', userTarget('bob', 'D'), domainReaderD), true);
    assert.equal(policy.allows('identity:get_user', userTarget('bob', 'E'), domainReaderD), false);
    assert.equal(policy.allows('identity:get_domain', { target: { domain: { id: 'D' } } }, domainReaderD), true);
    assert.equal(policy.allows('identity:create_user', newUser('D'), domainReaderD), false);
  });

  it('a member reads only itself', () => {
    assert.equal(policy.allows('identity:get_user', userTarget('alice', 'D'), member), true);
    assert.equal(policy.allows('identity:get_user', userTarget('bob', 'D'), member), false);
    assert.equal(policy.allows('identity:list_user_projects', userTarget('alice', 'D'), member), true);
    assert.equal(policy.allows('identity:list_user_projects', userTarget('bob', 'D'), member), false);
    assert.equal(policy.allows('identity:list_groups_for_user', userTarget('alice', 'D'), member), true);
    assert.equal(policy.allows('identity:list_groups_for_user', userTarget('bob', 'D'), member), false);
    assert.equal(policy.allows('identity:get_project', { target: { project: { id: 'alice-project', domain_id: 'D' } } }, member), true);
    assert.equal(policy.allows('identity:get_project', { target: { project: { id: 'other', domain_id: 'D' } } }, member), false);
    assert.equal(policy.allows('identity:get_domain', { target: { domain: { id: 'D' } } }, member), true);
    assert.equal(policy.allows('identity:list_users', {}, member), false);
    assert.equal(policy.allows('identity:list_projects', {}, member), false);
    assert.equal(policy.allows('identity:create_user', newUser('D'), member), false);
    assert.equal(policy.allows('identity:list_roles', {}, member), false);
    assert.equal(policy.allows('identity:get_auth_projects', {}, member), true);
    assert.equal(policy.allows('identity:list_regions', {}, member), true);
  });

  it("a member manages its own application credentials, not another user's", () => {
    for (const action of [
      'identity:create_application_credential',
      'identity:list_application_credentials',
      'identity:get_application_credential',
      'identity:delete_application_credential',
    ]) {
      assert.equal(policy.allows(action, appCred('alice'), member), true, action);
      assert.equal(policy.allows(action, appCred('bob'), member), false, action);
    }
  });

  it('tokens: the subject or readers may validate; the subject or admins may revoke', () => {
    const own = { target: { token: { user_id: 'alice' } } };
    const other = { target: { token: { user_id: 'bob' } } };
    assert.equal(policy.allows('identity:validate_token', own, member), true);
    assert.equal(policy.allows('identity:validate_token', other, member), false);
    assert.equal(policy.allows('identity:check_token', other, systemReader), true);
    assert.equal(policy.allows('identity:revoke_token', own, member), true);
    assert.equal(policy.allows('identity:revoke_token', other, member), false);
    assert.equal(policy.allows('identity:revoke_token', other, systemReader), false);
    assert.equal(policy.allows('identity:validate_token', other, { ...member, roles: ['service'] }), true);
  });

});
