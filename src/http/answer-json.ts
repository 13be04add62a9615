/**
 * Claim answers and listing pages written by hand, task by task, instead of by the route's response
 * serializer: each task is serialized once, measured (the engine keeps the answer within
 * `tasks.limits.max_answer_bytes`) and the answer is the join of the kept ones. One huge string built
 * at the end (the old way) failed with `Invalid string length` past ~512 MiB, after the tasks were claimed.
 */
import type { TaskAnswerSize } from '../engine/task-engine.js';
import type { Task } from '../types/index.js';
import { taskToJson } from './mappers.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export class TaskAnswer {
  /** Each task's JSON and its length in UTF-8 bytes, measured once (for `sizeOf`, reused by `bytes`). */
  private readonly serialized = new Map<Task, { text: string; bytes: number }>();

  /** `toJson`: the wire form of a task (v1's by default; the operator listing adds the task's keys). */
  constructor(private readonly toJson: (task: Task) => object = taskToJson) {}

  /** For the engine: serializes the task (kept for `bytes`) and answers its size in bytes. */
  readonly sizeOf: TaskAnswerSize = (task) => this.json(task).bytes;

  /**
   * `prefix` + the JSON array of `tasks` + `suffix`, as the UTF-8 bytes to send: written task by task
   * into one buffer (each task's text is forgotten once written). Joining them into one string first
   * held the answer twice more: the joined text, then its bytes.
   */
  bytes(tasks: readonly Task[], prefix = '', suffix = ''): Buffer {
    const parts = tasks.map((task) => this.json(task));
    let total = Buffer.byteLength(prefix) + Buffer.byteLength(suffix) + 2 + Math.max(0, parts.length - 1);
    for (const part of parts) total += part.bytes;
    const out = Buffer.allocUnsafe(total);
    let at = out.write(prefix, 0);
    at += out.write('[', at);
    parts.forEach((part, i) => {
      if (i > 0) at += out.write(',', at);
      at += out.write(part.text, at);
      this.serialized.delete(tasks[i]!);
    });
    at += out.write(']', at);
    at += out.write(suffix, at);
    return at === total ? out : out.subarray(0, at);
  }

  private json(task: Task): { text: string; bytes: number } {
    let serialized = this.serialized.get(task);
    if (serialized === undefined) {
      const text = JSON.stringify(this.toJson(task));
      serialized = { text, bytes: Buffer.byteLength(text) };
      this.serialized.set(task, serialized);
    }
    return serialized;
  }
}
