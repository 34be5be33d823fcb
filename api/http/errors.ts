import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isNuboError, type NuboError } from '../../lib/errors.ts';

/** The OpenStack services whose error bodies Nubo speaks. */
export type ServiceName = 'identity' | 'compute' | 'image' | 'network';

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Keystone: {"error": {"code", "title", "message"}}. */
function identityBody(status: number, message: string) {
  return { error: { code: status, title: titles[status] ?? 'Error', message } };
}

/** Glance (webob's JSON error): {"code": "404 Not Found", "title", "message"}. */
function imageBody(status: number, message: string) {
  const title = titles[status] ?? 'Error';
  return { code: `${status} ${title}`, title, message };
}

/** Nova's fault names by status (nova/api/openstack/wsgi.py Fault); any other status is a computeFault. */
const novaFaultNames: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** Nova: {"itemNotFound": {"code": 404, "message"}}. */
function computeBody(status: number, message: string) {
  return { [novaFaultNames[status] ?? 'computeFault']: { code: status, message } };
}

const bodies: Record<ServiceName, (status: number, message: string) => unknown> = {
  identity: identityBody,
  compute: computeBody,
  image: imageBody,
  network: identityBody,
};

/** Maps a Fastify framework error (bad JSON, body too large…) to a status and message. */
function frameworkError(e: FastifyError): { status: number; message: string } {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'Request Entity Too Large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'The request body must be JSON (Content-Type: application/json).' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'The request body is empty or malformed.' };
    default:
      if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
        return { status: e.statusCode, message: e instanceof SyntaxError ? 'Malformed JSON in the request body.' : e.message };
      }
      return { status: 500, message: 'An unexpected error prevented the server from fulfilling your request.' };
  }
}

/** The one place a thrown error becomes an HTTP response, per service. */
export function errorHandler(service: ServiceName) {
  return (error: FastifyError | NuboError, request: FastifyRequest, reply: FastifyReply) => {
    let status: number;
    let message: string;
    if (isNuboError(error)) {
      status = error.status;
      message = error.message;
    } else {
      ({ status, message } = frameworkError(error as FastifyError));
    }
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ status, reason: message }, 'request refused');
    if (status === 401 && service === 'identity') {
      reply.header('WWW-Authenticate', `Keystone uri="${request.protocol}://${request.host}"`);
    }
    reply.code(status).type('application/json').send(bodies[service](status, message));
  };
}

export function notFoundHandler(service: ServiceName) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    reply.code(404).type('application/json').send(bodies[service](404, 'The resource could not be found.'));
  };
}
