import type { components } from '../../../spec/identity.d.ts';
import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import { hashPassword } from '../../../lib/passwords.ts';
import type { IdentityContext } from '../context.ts';
import { mergeOptions } from '../domains/immutable.ts';
import * as domainStore from '../domains/store.ts';
import * as store from './store.ts';
import type { TimeComparison, UserFilter, UserRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens' | 'config'>;

/** What a client may set on a user (the spec's update body): its own fields plus any extra attribute (email…), kept flat. */
export type UserInput = components['schemas']['UserUpdateRequest']['user'];

export const userNotFound = (id: string) => notFound(`Could not find user: ${id}.`);
const duplicateName = (name: string, domainId: string) =>
  conflict(`Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID ${domainId}.`);

function extraOf(input: UserInput): Record<string, unknown> {
  const { name: _n, domain_id: _d, password: _p, enabled: _e, default_project_id: _dp, description: _ds, options: _o, id: _i, ...extra } =
    input;
  return extra;
}

/** Keystone: a user's default project may be anything but a domain. */
async function assertNotADomain(deps: Pick<Deps, 'db'>, defaultProjectId: string | null | undefined): Promise<void> {
  if (defaultProjectId && (await domainStore.getDomain(deps.db, defaultProjectId))) {
    throw badRequest(`User's default project ID cannot be a domain ID: ${defaultProjectId}`);
  }
}

const hashOf = (deps: Pick<Deps, 'config'>, password: string | null | undefined) =>
  typeof password === 'string' ? hashPassword(password, deps.config['identity.password_hash_cost']) : Promise.resolve(null);

export async function findUser(deps: Pick<Deps, 'db'>, id: string): Promise<UserRow | undefined> {
  return store.getUser(deps.db, id);
}

export async function getUser(deps: Pick<Deps, 'db'>, id: string): Promise<UserRow> {
  const row = await store.getUser(deps.db, id);
  if (!row) throw userNotFound(id);
  return row;
}

const comparisons = new Set<TimeComparison>(['lt', 'lte', 'gt', 'gte', 'eq', 'neq']);

/**
 * Keystone's password_expires_at filter: `<op>:<timestamp>` or a bare
 * timestamp (eq); op one of lt, lte, gt, gte, eq, neq.
 */
export function parsePasswordExpiresFilter(value: string): { op: TimeComparison; at: Date } {
  let op = 'eq';
  let stamp = value;
  const colon = value.indexOf(':');
  if (colon >= 2 && colon <= 3) {
    op = value.slice(0, colon);
    stamp = value.slice(colon + 1);
  }
  const at = new Date(stamp);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(stamp) || Number.isNaN(at.getTime())) {
    throw badRequest(
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  }
  if (!comparisons.has(op as TimeComparison)) {
    throw badRequest(`The given operator ${op} is not valid. It must be one of the following: 'eq', 'neq', 'lt', 'lte', 'gt', or 'gte'.`);
  }
  return { op: op as TimeComparison, at };
}

export async function listUsers(deps: Pick<Deps, 'db'>, filter: UserFilter): Promise<UserRow[]> {
  return store.listUsers(deps.db, filter);
}

/**
 * A new user in `domainId`, which must exist (404 otherwise, as Keystone).
 * The password is stored hashed and never returned.
 */
export async function createUser(deps: Deps, input: UserInput & { name: string }, domainId: string): Promise<UserRow> {
  if (!(await domainStore.getDomain(deps.db, domainId))) throw notFound(`Could not find domain: ${domainId}.`);
  await assertNotADomain(deps, input.default_project_id);
  const name = input.name.trim();
  if (await store.userNameTaken(deps.db, name, domainId)) throw duplicateName(name, domainId);
  const row: UserRow = {
    id: newId(),
    name,
    domain_id: domainId,
    enabled: input.enabled ?? true,
    default_project_id: input.default_project_id ?? null,
    description: input.description ?? null,
    password_expires_at: null,
    options: mergeOptions({}, input.options),
    extra: extraOf(input),
  };
  const hash = await hashOf(deps, input.password);
  try {
    await store.insertUser(deps.db, row, hash);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(name, domainId);
    throw e;
  }
  return row;
}

/**
 * Changes a user; its id and domain are fixed. Setting a password (an
 * administrator's reset) or disabling the user revokes its tokens.
 */
export async function updateUser(deps: Deps, user: UserRow, input: UserInput): Promise<UserRow> {
  if (input.id !== undefined && input.id !== user.id) throw badRequest('Cannot change user ID');
  if (input.domain_id !== undefined && input.domain_id !== user.domain_id) throw badRequest('Cannot change Domain ID');
  await assertNotADomain(deps, input.default_project_id);
  const next: UserRow = { ...user, extra: { ...user.extra, ...extraOf(input) } };
  if (input.name !== undefined) next.name = input.name.trim();
  if (input.enabled !== undefined) next.enabled = input.enabled;
  if ('default_project_id' in input) next.default_project_id = input.default_project_id ?? null;
  if ('description' in input) next.description = input.description ?? null;
  if (input.options !== undefined) next.options = mergeOptions(user.options, input.options);
  if (next.name !== user.name && (await store.userNameTaken(deps.db, next.name, user.domain_id, user.id))) {
    throw duplicateName(next.name, user.domain_id);
  }
  try {
    await store.updateUser(deps.db, next);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(next.name, user.domain_id);
    throw e;
  }
  const passwordSet = 'password' in input;
  if (passwordSet) await store.setPassword(deps.db, user.id, await hashOf(deps, input.password));
  const disabled = user.enabled && !next.enabled;
  if (disabled || (passwordSet && input.password !== null)) {
    await deps.tokens.revoke({ user_id: user.id, issued_before: new Date() });
  }
  return next;
}

/** Deletes a user with its memberships, grants and application credentials; revokes its tokens. */
export async function deleteUser(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteUser(deps.db, id))) throw userNotFound(id);
  await deps.tokens.revoke({ user_id: id, issued_before: new Date() });
}
