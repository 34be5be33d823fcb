/**
 * The image service's URL for build messages, read from the catalog at most
 * once per REUSE_MS (every build used to read it): a catalog change reaches
 * the builds cast after it within that time. A failed read is not kept.
 */
import type { Db } from '../../lib/db/index.ts';
import { imageEndpoint } from './store.ts';

export const REUSE_MS = 5000;

export function recentImageEndpoint(db: Db, now: () => number = Date.now): () => Promise<string | null> {
  let last: { at: number; url: Promise<string | null> } | undefined;
  return () => {
    const t = now();
    if (last && t - last.at < REUSE_MS) return last.url;
    const url = imageEndpoint(db);
    const entry = { at: t, url };
    last = entry;
    url.catch(() => {
      if (last === entry) last = undefined;
    });
    return url;
  };
}
