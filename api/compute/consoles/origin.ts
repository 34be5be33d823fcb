/**
 * The console proxy's Origin check (Nova's websocketproxy): a browser page on
 * another site must not open a console with a token it got hold of. A
 * WebSocket upgrade that carries an Origin is accepted only when the
 * Origin's host is the host the request was sent to (the Host header), or
 * one of compute.console_allowed_origins; its scheme must be http or https.
 * Clients that send no Origin (websockify, Tempest, scripts) are not
 * browsers and pass, as in Nova.
 */
import type { IncomingMessage } from 'node:http';

/** compute.console_allowed_origins: comma-separated host names. */
export function parseAllowedOrigins(option: string): Set<string> {
  return new Set(
    option
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

const hostnameOf = (hostHeader: string): string | null => {
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return null;
  }
};

/** Why the request's Origin is refused, or null when it may connect. */
export function originProblem(req: IncomingMessage, allowed: Set<string>): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `Origin ${origin} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `Origin scheme ${url.protocol} is not http or https`;
  const originHost = url.hostname.toLowerCase();
  const host = hostnameOf(String(req.headers.host ?? ''));
  if (originHost === host || allowed.has(originHost)) return null;
  return `Origin ${origin} does not match this host (${host ?? 'no Host header'}) nor compute.console_allowed_origins`;
}
