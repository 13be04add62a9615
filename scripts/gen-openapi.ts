/**
 * Writes openapi.json from the route schemas. `npm run gen:openapi` after changing a route or schema;
 * test/http/openapi.test.ts fails when the committed file differs from what this generates.
 */
import { writeFileSync } from 'node:fs';
import { generateOpenApiDocument } from '../src/server/openapi.js';

const path = new URL('../openapi.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(await generateOpenApiDocument(), null, 2)}\n`);
console.log(`wrote ${path.pathname}`);
