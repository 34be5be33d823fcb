import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { UserRow } from './store.ts';

/** Keystone prints password_expires_at as a naive UTC time with microseconds. */
import { microsNaive as keystoneTime } from '../../http/times.ts';

/**
 * A user as Keystone shows it: extra attributes (email…) flat beside its own
 * fields; default_project_id and description only when set. Never a password.
 */
export function userView(request: FastifyRequest, u: UserRow) {
  return {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    password_expires_at: u.password_expires_at ? keystoneTime(new Date(u.password_expires_at)) : null,
    options: u.options,
    ...(u.default_project_id !== null ? { default_project_id: u.default_project_id } : {}),
    ...(u.description !== null ? { description: u.description } : {}),
    links: { self: v3Url(request, `/users/${u.id}`) },
  };
}
