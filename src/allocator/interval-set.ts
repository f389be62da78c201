/**
 * A set of bigint values kept as disjoint, non-adjacent inclusive intervals in a
 * treap ordered by interval start. Every operation is O(log n) expected in the
 * number of intervals, independent of how many values the intervals hold, so a
 * /64 costs the same as a /30.
 */

export interface Interval {
  readonly first: bigint;
  readonly last: bigint;
}

interface TreapNode {
  first: bigint;
  last: bigint;
  priority: number;
  left: TreapNode | null;
  right: TreapNode | null;
}

function merge(lower: TreapNode | null, upper: TreapNode | null): TreapNode | null {
  if (lower === null) return upper;
  if (upper === null) return lower;
  if (lower.priority > upper.priority) {
    lower.right = merge(lower.right, upper);
    return lower;
  }
  upper.left = merge(lower, upper.left);
  return upper;
}

/** Splits into nodes starting before `key` and nodes starting at or after it. */
function split(node: TreapNode | null, key: bigint): [TreapNode | null, TreapNode | null] {
  if (node === null) return [null, null];
  if (node.first < key) {
    const [lower, upper] = split(node.right, key);
    node.right = lower;
    return [node, upper];
  }
  const [lower, upper] = split(node.left, key);
  node.left = upper;
  return [lower, node];
}

function removeByFirst(node: TreapNode | null, first: bigint): TreapNode | null {
  if (node === null) return null;
  if (first < node.first) node.left = removeByFirst(node.left, first);
  else if (first > node.first) node.right = removeByFirst(node.right, first);
  else return merge(node.left, node.right);
  return node;
}

export class IntervalSet {
  private root: TreapNode | null = null;
  private valueCount = 0n;
  private nodeCount = 0;
  // A fixed-seed xorshift keeps tree shapes, and so benchmarks, reproducible.
  private seed = 0x9e3779b9;

  /** Number of values in the set. */
  get size(): bigint {
    return this.valueCount;
  }

  /** Number of disjoint intervals (a measure of fragmentation). */
  get intervalCount(): number {
    return this.nodeCount;
  }

  /** The interval holding the smallest value. */
  first(): Interval | undefined {
    let node = this.root;
    if (node === null) return undefined;
    while (node.left !== null) node = node.left;
    return node;
  }

  has(value: bigint): boolean {
    const node = this.floor(value);
    return node !== null && node.last >= value;
  }

  /** Adds [first, last], which must not intersect the set; merges with adjacent intervals. */
  addRange(first: bigint, last: bigint): void {
    if (first > last) throw new RangeError(`interval ${first}-${last} is empty`);
    const below = this.floor(last);
    if (below !== null && below.last >= first) {
      throw new RangeError(`interval ${first}-${last} intersects ${below.first}-${below.last}`);
    }
    const before = below !== null && below.last === first - 1n ? below : null;
    const after = this.ceilingAbove(last);
    const touchesAfter = after !== null && after.first === last + 1n;
    this.valueCount += last - first + 1n;
    if (before !== null && touchesAfter) {
      before.last = after.last;
      this.root = removeByFirst(this.root, after.first);
      this.nodeCount--;
    } else if (before !== null) {
      before.last = last;
    } else if (touchesAfter) {
      // Lowering the start keeps the order: nothing lies between `before` and `after`.
      after.first = first;
    } else {
      this.insertNode(first, last);
    }
  }

  add(value: bigint): boolean {
    if (this.has(value)) return false;
    this.addRange(value, value);
    return true;
  }

  /** Removes one value; splits its interval when the value lies inside. */
  delete(value: bigint): boolean {
    const node = this.floor(value);
    if (node === null || node.last < value) return false;
    this.valueCount--;
    if (node.first === value && node.last === value) {
      this.root = removeByFirst(this.root, value);
      this.nodeCount--;
    } else if (node.first === value) {
      // Raising the start stays below the next interval's start.
      node.first = value + 1n;
    } else if (node.last === value) {
      node.last = value - 1n;
    } else {
      const upperLast = node.last;
      node.last = value - 1n;
      this.insertNode(value + 1n, upperLast);
    }
    return true;
  }

  /** Removes a whole interval that is exactly one member of the set. */
  deleteInterval(interval: Interval): void {
    const node = this.floor(interval.first);
    if (node === null || node.first !== interval.first || node.last !== interval.last) {
      throw new RangeError(`interval ${interval.first}-${interval.last} is not a member`);
    }
    this.root = removeByFirst(this.root, interval.first);
    this.nodeCount--;
    this.valueCount -= interval.last - interval.first + 1n;
  }

  /** The intervals in ascending order (walks the whole tree: for tests and rebuilds). */
  intervals(): Interval[] {
    const out: Interval[] = [];
    const stack: TreapNode[] = [];
    let node = this.root;
    while (node !== null || stack.length > 0) {
      while (node !== null) {
        stack.push(node);
        node = node.left;
      }
      const top = stack.pop() as TreapNode;
      out.push({ first: top.first, last: top.last });
      node = top.right;
    }
    return out;
  }

  /** The node with the greatest start <= value. */
  private floor(value: bigint): TreapNode | null {
    let best: TreapNode | null = null;
    let node = this.root;
    while (node !== null) {
      if (node.first <= value) {
        best = node;
        node = node.right;
      } else {
        node = node.left;
      }
    }
    return best;
  }

  /** The node with the smallest start > value. */
  private ceilingAbove(value: bigint): TreapNode | null {
    let best: TreapNode | null = null;
    let node = this.root;
    while (node !== null) {
      if (node.first > value) {
        best = node;
        node = node.left;
      } else {
        node = node.right;
      }
    }
    return best;
  }

  private insertNode(first: bigint, last: bigint): void {
    const node: TreapNode = { first, last, priority: this.nextPriority(), left: null, right: null };
    const [lower, upper] = split(this.root, first);
    this.root = merge(merge(lower, node), upper);
    this.nodeCount++;
  }

  private nextPriority(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}
