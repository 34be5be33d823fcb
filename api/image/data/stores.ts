import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../../lib/errors.ts';

/** The one backend Nubo has, under the identifier Glance's multi-store API shows. */
export const DEFAULT_STORE = 'file';

/** GET /v2/info/stores, in the api-ref's shape. */
export const storesInfo = () => ({
  stores: [{ id: DEFAULT_STORE, description: 'Filesystem store on the image API hosts', default: true }],
});

/** glance_store's words for a store identifier it does not know. */
export const unknownStoreMessage = (id: string) => `Unknown scheme '${id}' found in URI`;

/** The store an upload names in X-Image-Meta-Store (400 when it is not one of ours, as Glance). */
export function assertStoreHeader(request: FastifyRequest): void {
  const store = request.headers['x-image-meta-store'];
  if (store !== undefined && store !== DEFAULT_STORE) throw badRequest(unknownStoreMessage(String(store)));
}
