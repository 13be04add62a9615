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
  private readonly serialized = new Map<Task, string>();

  /** `toJson`: the wire form of a task (v1's by default; the operator listing adds the task's keys). */
  constructor(private readonly toJson: (task: Task) => object = taskToJson) {}

  /** For the engine: serializes the task (kept for `array`) and answers its size in bytes. */
  readonly sizeOf: TaskAnswerSize = (task) => Buffer.byteLength(this.json(task));

  /** The JSON array of `tasks`, in order. */
  array(tasks: readonly Task[]): string {
    return `[${tasks.map((task) => this.json(task)).join(',')}]`;
  }

  private json(task: Task): string {
    let text = this.serialized.get(task);
    if (text === undefined) {
      text = JSON.stringify(this.toJson(task));
      this.serialized.set(task, text);
    }
    return text;
  }
}
