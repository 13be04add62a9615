/**
 * Spreading claimers of several servers over the candidates (docs/design/elasticsearch-claims.md,
 * "Several servers"). Servers that search the same snapshot see the same best hits; taken in claim order,
 * every server writes CLAIMED on the same first tasks, one wins and the others pay a refused write and a
 * further round. Each server instead prefers the candidates of its own slot (a hash of the task id), and
 * learns how many slots to use from its own conflicts: one server alone never conflicts with itself (the
 * claim path excludes what it is already writing), so it keeps one slot, that is the exact claim order.
 *
 * The protocol, per window of `WINDOW` claim writes (first rounds of passes; a claim of one task per pass
 * is the common case, so one pass alone says little):
 * - a window that lost more than `CONFLICT_SHARE` of them to other writers picks a new random slot (the first
 *   one goes from one slot to two); after `ESCALATE_AFTER` such windows in a row, the number of slots
 *   doubles (up to `MAX_SLOTS`);
 * - after `RELAX_AFTER` windows in a row without such losses, the number of slots halves.
 * A server's first round of writes takes only its slot's candidates (when it has any), later rounds the
 * others, its share still first; so a claim is never shorter for it (one more round at worst): only the
 * order across servers becomes "the best of this server's share first". Since the first round takes
 * only its share, its losses tell of servers on the same slot, not of shares taken when one ran short.
 */
export const MAX_SLOTS = 8;
export const CONFLICT_SHARE = 0.25;
export const ESCALATE_AFTER = 3;
export const RELAX_AFTER = 50;
export const WINDOW = 8;

/** FNV-1a over the UTF-16 units of an id: cheap, and stable across processes (every server agrees). */
export function slotHash(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export class ClaimSpread {
  private slotCount = 1;
  private ownSlot = 0;
  private conflictedPasses = 0;
  private cleanPasses = 0;
  private windowAttempted = 0;
  private windowLost = 0;

  constructor(private readonly random: () => number = Math.random) {}

  get slots(): number {
    return this.slotCount;
  }

  get slot(): number {
    return this.ownSlot;
  }

  /** `candidates` split into this server's share and the others', each part keeping its order. */
  split<T>(candidates: readonly T[], idOf: (candidate: T) => string): { own: T[]; others: T[] } {
    if (this.slotCount === 1) return { own: [...candidates], others: [] };
    const own: T[] = [];
    const others: T[] = [];
    for (const c of candidates) (slotHash(idOf(c)) % this.slotCount === this.ownSlot ? own : others).push(c);
    return { own, others };
  }

  /** `candidates` with this server's share first, each part keeping its order. */
  prefer<T>(candidates: readonly T[], idOf: (candidate: T) => string): T[] {
    const { own, others } = this.split(candidates, idOf);
    return own.concat(others);
  }

  /** What the first round of a pass met: how many candidates it wrote, how many other writers had taken. */
  observe(attempted: number, lost: number): void {
    this.windowAttempted += attempted;
    this.windowLost += lost;
    if (this.windowAttempted < WINDOW) return;
    const share = this.windowLost / this.windowAttempted;
    this.windowAttempted = 0;
    this.windowLost = 0;
    if (share > CONFLICT_SHARE) {
      this.cleanPasses = 0;
      if (this.slotCount === 1) {
        this.slotCount = 2; // one slot cannot separate anyone: two at once
      } else if (++this.conflictedPasses >= ESCALATE_AFTER && this.slotCount < MAX_SLOTS) {
        this.slotCount *= 2; // moving did not help: more servers than slots
        this.conflictedPasses = 0;
      }
      this.ownSlot = Math.floor(this.random() * this.slotCount);
      return;
    }
    this.conflictedPasses = 0;
    if (++this.cleanPasses >= RELAX_AFTER && this.slotCount > 1) {
      this.slotCount /= 2;
      this.ownSlot %= this.slotCount;
      this.cleanPasses = 0;
    }
  }
}
