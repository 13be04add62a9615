/**
 * Memory after large payloads. V8 frees a large string (a task's 1 MiB args, a 15 MiB claim answer) only
 * in a full collection, and starts one only when the heap has grown to a multiple of what was alive after
 * the last: on a server whose live heap is ~40 MB, hundreds of MB of dead payload copies pile up first
 * (each large request or answer leaves 3–5 copies: the body text, its parse, the stored or sent JSON).
 * RSS then followed the payload traffic of the last minutes, not what the server holds.
 *
 * So once large requests and answers (each at least `largeBytes`) have moved `everyBytes` together, a
 * full collection runs, at most once per `minIntervalMs`. Traffic of ordinary tasks never triggers it;
 * a full collection of this server's heap takes a few ms to a few tens of ms.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { FastifyInstance } from 'fastify';

export interface LargePayloadGcOptions {
  /** A request or answer body this large counts (default 256 KiB). */
  largeBytes?: number;
  /** Bytes of large bodies between two collections (default 8 MiB). */
  everyBytes?: number;
  /** Shortest time between two collections (default 200 ms). */
  minIntervalMs?: number;
  /** The collection to run (tests); V8's full collection by default. */
  collect?: () => void;
}

let collector: (() => void) | undefined | null = null;

/**
 * V8's own full collection. `--expose-gc` set at run time installs `gc` in contexts created afterwards,
 * so a new context hands it over (as test runners that detect leaks do); undefined where that fails.
 */
function fullCollection(): (() => void) | undefined {
  if (collector === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc: unknown = vm.runInNewContext('gc');
      collector = typeof gc === 'function' ? (gc as () => void) : undefined;
    } catch {
      collector = undefined;
    }
  }
  return collector ?? undefined;
}

/** Counts the bytes of large bodies; `due` once they add up to `everyBytes` since the last `reset`. */
export class LargePayloadMeter {
  private moved = 0;

  constructor(
    private readonly largeBytes: number,
    private readonly everyBytes: number,
  ) {}

  /** Notes one request or answer body of `bytes`; whether a collection is due. */
  note(bytes: number): boolean {
    if (bytes >= this.largeBytes) this.moved += bytes;
    return this.moved >= this.everyBytes;
  }

  reset(): void {
    this.moved = 0;
  }
}

export function registerLargePayloadGc(app: FastifyInstance, options: LargePayloadGcOptions = {}): void {
  const meter = new LargePayloadMeter(options.largeBytes ?? 262_144, options.everyBytes ?? 8_388_608);
  const minIntervalMs = options.minIntervalMs ?? 200;
  const gc = options.collect ?? fullCollection();
  if (gc === undefined) return;
  let lastAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const collect = () => {
    timer = undefined;
    meter.reset();
    lastAt = Date.now();
    gc();
  };
  app.addHook('onResponse', (request, reply, done) => {
    const due = [meter.note(Number(request.headers['content-length'] ?? 0)), meter.note(Number(reply.getHeader('content-length') ?? 0))];
    if (due.includes(true) && timer === undefined) {
      timer = setTimeout(collect, Math.max(0, lastAt + minIntervalMs - Date.now()));
      timer.unref();
    }
    done();
  });
  app.addHook('onClose', (_app, done) => {
    if (timer !== undefined) clearTimeout(timer);
    done();
  });
}
