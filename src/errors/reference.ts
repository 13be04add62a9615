/** Renders docs/reference/errors.md from the error registry, so the reference cannot drift from the code. */
import { ERROR_CODES } from './index.js';

export function renderErrorReference(): string {
  const rows = Object.values(ERROR_CODES)
    .slice()
    .sort((a, b) => a.status - b.status || a.code.localeCompare(b.code))
    .map((e) => `| \`${e.code}\` | ${e.status} | ${e.meaning.replaceAll('|', '\\|')} |`);
  return [
    '# Error codes',
    '',
    'Generated from `src/errors/index.ts` by `npm run gen:docs`; a test fails if this file is stale.',
    '',
    'Every error answer has the body `{"message": "...", "code": "TQ_ERR_..."}`. v1 clients read `message`',
    '(v1 errors keep v1\'s text); `code` is additive and stable, for programs to match on.',
    '',
    '| code | HTTP status | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
