import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Whether a request changed identity data (names, enabled flags, grants,
 * the catalog): any successful write outside /v3/auth/. Issuing and revoking
 * tokens change no identity data and announce themselves otherwise.
 */
export function changesIdentity(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400) return false;
  return !request.url.startsWith('/v3/auth/');
}
