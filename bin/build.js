#!/usr/bin/env node
// Compiles Nubo to JavaScript in .build/ (incrementally: a rebuild with no
// change takes a moment) and copies the OpenAPI documents the APIs read at
// run time beside it. `npm start` runs this, then .build/bin/main.js.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const specOut = join(root, '.build', 'spec');
mkdirSync(specOut, { recursive: true });
for (const f of readdirSync(join(root, 'spec')).filter((f) => f.endsWith('.yaml'))) copyFileSync(join(root, 'spec', f), join(specOut, f));

