import { randomUUID } from 'node:crypto';

/** v1's generated task ids: a UUIDv4 without hyphens (32 lower-case hex characters). */
export function generateTaskId(): string {
  return randomUUID().replaceAll('-', '');
}
