import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataStore } from './store-backend.ts';

/**
 * The filesystem image store: one file per image under `dir`. Data is
 * written to a temporary file and renamed into place once complete, so a
 * crash never leaves a partial file where an image's data should be.
 */
export function createFilesystemStore(dir: string): ImageDataStore {
  mkdirSync(dir, { recursive: true });
  const pathOf = (location: string) => join(dir, location.replace(/[^A-Za-z0-9._-]/g, '_'));
  return {
    async delete(location) {
      rmSync(pathOf(location), { force: true });
    },
  };
}
