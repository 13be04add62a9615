/**
 * `tasques/worker`: the Worker loop, which lives in its own package, `@tasques/client/worker`
 * (packages/client). Kept here so that existing `tasques/worker` imports work.
 * @packageDocumentation
 */
export * from '@tasques/client/worker';
