import type { FastifyRequest } from 'fastify';
import { microsNaive } from '../../http/times.ts';
import { zoneOfAggregate } from './service.ts';
import type { AggregateRecord } from './store.ts';

/** From 2.41 an aggregate shows its uuid. */
export const AGGREGATE_UUID_MICROVERSION = '2.41';

/**
 * Nova's marshalled aggregate (its object's fields, naive timestamps, never
 * deleted here); `created` leaves hosts and metadata out, as Nova's create
 * answer does.
 */
export function aggregateView(request: FastifyRequest, a: AggregateRecord, created = false) {
  return {
    id: a.id,
    ...(request.microversion.atLeast(AGGREGATE_UUID_MICROVERSION) ? { uuid: a.uuid } : {}),
    name: a.name,
    availability_zone: zoneOfAggregate(a),
    ...(created ? {} : { hosts: a.hosts, metadata: a.metadata }),
    created_at: microsNaive(a.created_at),
    updated_at: a.updated_at ? microsNaive(a.updated_at) : null,
    deleted: false,
    deleted_at: null,
  };
}
