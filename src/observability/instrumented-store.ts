/**
 * A Store decorator that times every call (metrics) and, inside a traced request, records it as a child
 * span. Generic: it wraps whatever functions the store has, by name, through a Proxy, so drivers need no
 * edits and a method added to the contract is instrumented without touching this file. Calls run on
 * the real store (`this` is the driver, so private fields keep working); every other property passes
 * through unchanged (`instanceof`, `capabilities`, driver-specific helpers).
 */
import type { Store } from '../store/store.js';

/** What the decorator reports to; each part is optional. */
export interface StoreProbes {
  /** Called once per call with its duration and the error it threw, if any. */
  observe?: ((method: string, seconds: number, error: unknown) => void) | undefined;
  /**
   * Starts a span for a call, or returns undefined (no traced request in progress: background work
   * such as the elector or the reaper is not traced). The returned function ends it.
   */
  startSpan?: ((method: string) => ((error: unknown) => void) | undefined) | undefined;
}

const NO_ERROR = undefined;

/** The store itself when there is nothing to report to (zero cost), else an instrumented view of it. */
export function instrumentStore<S extends Store>(store: S, probes: StoreProbes): S {
  const { observe, startSpan } = probes;
  if (observe === undefined && startSpan === undefined) return store;
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();

  const wrap = (method: string, fn: (...args: unknown[]) => unknown) =>
    function instrumented(...args: unknown[]): unknown {
      const end = startSpan?.(method);
      const started = performance.now();
      const settle = (error: unknown) => {
        observe?.(method, (performance.now() - started) / 1000, error);
        end?.(error);
      };
      let result: unknown;
      try {
        result = fn.apply(store, args);
      } catch (error) {
        settle(error);
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value: unknown) => {
            settle(NO_ERROR);
            return value;
          },
          (error: unknown) => {
            settle(error);
            throw error;
          },
        );
      }
      settle(NO_ERROR);
      return result;
    };

  return new Proxy(store, {
    get(target, property, _receiver) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        wrapper = wrap(property, value as (...args: unknown[]) => unknown);
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
