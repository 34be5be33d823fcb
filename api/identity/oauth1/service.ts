import { badRequest, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import { hashPassword } from '../../../lib/passwords.ts';
import type { components } from '../../../spec/identity.d.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './store.ts';
import type { ConsumerRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'config'>;

export type ConsumerCreateInput = components['schemas']['ConsumerCreateRequest']['consumer'];
export type ConsumerUpdateInput = components['schemas']['ConsumerUpdateRequest']['consumer'];

/** A consumer right after creation: the only time its secret is known. */
export interface NewConsumer extends ConsumerRow {
  secret: string;
}

export const consumerNotFound = () => notFound('Consumer not found');

function extraOf(input: Record<string, unknown>): Record<string, unknown> {
  const { id: _i, description: _d, secret: _s, links: _l, ...extra } = input;
  return extra;
}

export async function getConsumer(deps: Pick<Deps, 'db'>, id: string): Promise<ConsumerRow> {
  const row = await store.getConsumer(deps.db, id);
  if (!row) throw consumerNotFound();
  return row;
}

export async function listConsumers(deps: Pick<Deps, 'db'>): Promise<ConsumerRow[]> {
  return store.listConsumers(deps.db);
}

/** Registers a consumer with a new random secret (a client cannot choose it). */
export async function createConsumer(deps: Deps, input: ConsumerCreateInput): Promise<NewConsumer> {
  const secret = newId();
  const row: ConsumerRow = {
    id: newId(),
    description: input.description ?? null,
    secret_hash: await hashPassword(secret, deps.config['identity.password_hash_cost']),
    extra: extraOf(input),
  };
  await store.insertConsumer(deps.db, row);
  return { ...row, secret };
}

/** Changes the description and extra attributes; the id and the secret are fixed. */
export async function updateConsumer(deps: Pick<Deps, 'db'>, id: string, input: ConsumerUpdateInput): Promise<ConsumerRow> {
  if ('secret' in input) throw badRequest("Invalid input for field 'consumer/secret': a consumer's secret cannot be changed");
  if (input.id !== undefined && input.id !== id) throw badRequest('Cannot change ID');
  const current = await getConsumer(deps, id);
  const next: ConsumerRow = { ...current, extra: { ...current.extra, ...extraOf(input) } };
  if ('description' in input) next.description = input.description ?? null;
  await store.updateConsumer(deps.db, next);
  return next;
}

export async function deleteConsumer(deps: Pick<Deps, 'db'>, id: string): Promise<void> {
  if (!(await store.deleteConsumer(deps.db, id))) throw consumerNotFound();
}
