/** A name and how often it was seen. */
export interface CountEntry {
  name: string;
  count: number;
}

/** Name to count with at most `max` names; further names are counted under `(other)` (bounded memory). */
export class CappedCounter {
  // Boxed counts: one hash lookup per add() instead of a get and a set.
  readonly #counts = new Map<string, { n: number }>();
  readonly #max: number;
  #other = 0;

  constructor(max: number) {
    this.#max = max;
  }

  add(name: string, n = 1): void {
    const box = this.#counts.get(name);
    if (box !== undefined) box.n += n;
    // The key is copied: a slice of a log line would keep the line's whole read chunk alive.
    else if (this.#counts.size < this.#max) this.#counts.set(JSON.parse(JSON.stringify(name)) as string, { n });
    else this.#other += n;
  }

  get(name: string): number {
    return this.#counts.get(name)?.n ?? 0;
  }

  /** Highest count first, ties by name; `(other)` last when anything overflowed. */
  entries(): CountEntry[] {
    const out = [...this.#counts.entries()]
      .map(([name, box]) => ({ name, count: box.n }))
      .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (this.#other > 0) out.push({ name: '(other)', count: this.#other });
    return out;
  }
}
