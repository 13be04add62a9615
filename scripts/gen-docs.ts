/** Regenerates the generated reference docs (docs/reference/config.md). */
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/reference.js';

const path = new URL('../docs/reference/config.md', import.meta.url);
writeFileSync(path, renderConfigReference());
console.log(`wrote ${path.pathname}`);
