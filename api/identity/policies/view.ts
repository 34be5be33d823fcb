import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { PolicyRow } from './store.ts';

/** A policy as Keystone shows it: extra attributes flat beside id, type and blob. */
export function policyView(request: FastifyRequest, p: PolicyRow) {
  return {
    ...p.extra,
    id: p.id,
    type: p.type,
    blob: p.blob,
    links: { self: v3Url(request, `/policies/${p.id}`) },
  };
}
