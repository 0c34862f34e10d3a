// What a server's heap holds per session: two V8 heap snapshots (idle, and at the plateau with
// N sessions) compared by what the objects are (constructor, closure, string, array…), the
// difference divided by N.
//
//   npx tsx bench/load/heap-summary.ts IDLE.heapsnapshot PLATEAU.heapsnapshot SESSIONS [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface HeapSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

/** Self size and count by kind of object: `Session`, `(closure) onMessage`, `(string)`… */
function sizesByKind(file: string): Map<string, { bytes: number; count: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const kinds = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const name = heap.strings[heap.nodes[i + nameAt]!]!;
    const kind =
      type === 'object' || type === 'native'
        ? name
        : type === 'closure'
          ? `(closure) ${name || 'anonymous'}`
          : `(${type})`;
    const entry = kinds.get(kind) ?? { bytes: 0, count: 0 };
    entry.bytes += heap.nodes[i + sizeAt]!;
    entry.count++;
    kinds.set(kind, entry);
  }
  return kinds;
}

/** A text table of what grew from `idleFile` to `plateauFile`, per session. */
export function summariseHeapGrowth(
  idleFile: string,
  plateauFile: string,
  sessions: number,
  top = 25,
): string {
  const idle = sizesByKind(idleFile);
  const plateau = sizesByKind(plateauFile);
  const growth = [...plateau].map(([kind, p]) => {
    const i = idle.get(kind) ?? { bytes: 0, count: 0 };
    return { kind, bytes: (p.bytes - i.bytes) / sessions, count: (p.count - i.count) / sessions };
  });
  const total = growth.reduce((sum, g) => sum + g.bytes, 0);
  const lines = [
    `heap growth per session: ${(total / 1024).toFixed(1)} KB (self sizes; ArrayBuffer contents are outside the heap)`,
    ...growth
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map(
        (g) =>
          `  ${(g.bytes / 1024).toFixed(2).padStart(7)} KB  ${g.count.toFixed(1).padStart(7)} objects  ${g.kind}`,
      ),
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [idle, plateau, sessions, top] = process.argv.slice(2);
  console.log(summariseHeapGrowth(idle!, plateau!, Number(sessions), Number(top ?? 25)));
}
