/**
 * The tasks this engine last wrote (claimed or reported in), by (queue, id), so that done, failed,
 * report-in and unclaim can compare-and-set on the version they already know instead of reading the task
 * first. A stale entry costs one conflict, after which the engine reads as before: the compare-and-set
 * is what keeps it correct, the cache only saves the read (a realtime GET, which on Elasticsearch can
 * force an internal refresh). Bounded: the oldest entries go first.
 */
import type { Task } from '../types/index.js';

const keyOf = (queue: string, id: string) => `${queue}\u0000${id}`;

export class WrittenTasks {
  private readonly tasks = new Map<string, Task>();

  constructor(private readonly capacity = 10_000) {}

  remember(task: Task): void {
    const key = keyOf(task.queue, task.id);
    this.tasks.delete(key);
    if (task.state !== 'claimed') return; // only claimed tasks are written again by their worker
    this.tasks.set(key, task);
    if (this.tasks.size > this.capacity) this.tasks.delete(this.tasks.keys().next().value!);
  }

  /** The task as this engine last wrote it, taken out of the cache (put back by `remember`). */
  take(queue: string, id: string): Task | undefined {
    const key = keyOf(queue, id);
    const task = this.tasks.get(key);
    if (task) this.tasks.delete(key);
    return task;
  }

  get size(): number {
    return this.tasks.size;
  }
}
