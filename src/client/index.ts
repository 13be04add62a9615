/**
 * `tasques/client`: the typed HTTP client, which lives in its own package, `@tasques/client`
 * (packages/client: no dependencies, for producers and workers that do not need the server). Kept here
 * so that existing `tasques/client` imports work.
 * @packageDocumentation
 */
export * from '@tasques/client';
