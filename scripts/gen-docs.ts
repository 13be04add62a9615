/** Regenerates the generated reference docs (docs/reference/config.md and docs/reference/errors.md). */
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/reference.js';
import { renderErrorReference } from '../src/errors/reference.js';

for (const [name, text] of [
  ['config.md', renderConfigReference()],
  ['errors.md', renderErrorReference()],
] as const) {
  const path = new URL(`../docs/reference/${name}`, import.meta.url);
  writeFileSync(path, text);
  console.log(`wrote ${path.pathname}`);
}
