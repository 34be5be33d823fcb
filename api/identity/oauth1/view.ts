import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { ConsumerRow } from './store.ts';

/** A consumer as Keystone shows it: extra attributes flat, never its secret (hash). */
export function consumerView(request: FastifyRequest, c: ConsumerRow) {
  return {
    ...c.extra,
    id: c.id,
    description: c.description,
    links: { self: v3Url(request, `/OS-OAUTH1/consumers/${c.id}`) },
  };
}
