/**
 * The engine the Elasticsearch benchmarks run against: one embedded OpenSearch node started here (the
 * test engine, scripts/test-engine.mjs) with the full JIT and a 1 GiB heap, or an engine already running
 * (--url). This is the only place in bench/ that knows how the test engine is started.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib.js';

export interface BenchEngine {
  url: string;
  /** The engine's JVM, for its CPU time from /proc; unknown for an engine started elsewhere. */
  pid: number | undefined;
  stop(): Promise<unknown>;
}

/** Benchmarks measure the steady state: C2 on (the tests run C1 only), and a heap that is not the bound. */
const BENCH_JAVA_OPTS = ['-XX:TieredStopAtLevel=4', '-Xms1g', '-Xmx1g'];

export async function startBenchEngine(options: { url?: string; pid?: number } = {}): Promise<BenchEngine> {
  if (options.url) return { url: options.url, pid: options.pid, stop: async () => undefined };
  const { startEngine } = (await import(pathToFileURL(join(ROOT, 'scripts', 'test-engine.mjs')).href)) as {
    startEngine(o: { engine: string; javaOpts?: string[] }): Promise<{ url: string; pid: number; stop(): Promise<unknown> }>;
  };
  const engine = await startEngine({ engine: 'opensearch', javaOpts: BENCH_JAVA_OPTS });
  return { url: engine.url, pid: engine.pid, stop: () => engine.stop() };
}
