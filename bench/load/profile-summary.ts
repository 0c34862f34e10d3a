// Where a process's time went, from a V8 .cpuprofile (node --cpu-prof): self time by function
// and by where the code lives (an Earshot package's file, a dependency, Node's internals, GC).
//
//   npx tsx bench/load/profile-summary.ts FILE.cpuprofile [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a script lives, shortly: `server/session/session.ts`, `ws`, `node:net`, `(gc)`. */
function placeOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  const own = /packages\/([^/]+)\/src\/(.+)$/.exec(path);
  if (own) return `${own[1]}/${own[2]}`;
  return path.split('/').slice(-2).join('/');
}

/** A text table of the top self-time functions and places of `file`. */
export function summariseCpuProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = profile.endTime - profile.startTime;
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  // Positions in code tsx compiled are of its output (one line), not of the source: left out.
  const nameOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const line = url && !isWorkspaceSource(url) ? `:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}  ${placeOf(url, functionName)}${line}`;
  };
  const isEarshot = (node: ProfileNode) => /\/packages\/[^/]+\/src\//.test(node.callFrame.url);
  const isWorkspaceSource = (url: string) =>
    url.startsWith('file://') && !url.includes('node_modules');
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  // Time spent in Node, `ws`, the SDK… charged to the Earshot function that called into it.
  const earshotCallers = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url } = node.callFrame;
    const name = nameOf(node);
    functions.set(name, (functions.get(name) ?? 0) + us);
    const place = placeOf(url, functionName);
    places.set(place, (places.get(place) ?? 0) + us);
    let at: ProfileNode | undefined = node;
    while (at !== undefined && !isEarshot(at)) {
      const up = parent.get(at.id);
      at = up === undefined ? undefined : byId.get(up);
    }
    const caller = at === undefined ? '(not under Earshot code)' : nameOf(at);
    earshotCallers.set(caller, (earshotCallers.get(caller) ?? 0) + us);
  }
  const idle = functions.get('(idle)  (idle)') ?? 0;
  const busy = total - idle;
  const lines = [
    `profiled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((busy / total) * 100).toFixed(0)} % of one thread); shares are of the busy time`,
    '',
    'self time by function:',
  ];
  const row = ([name, us]: [string, number]) =>
    `  ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${name}`;
  const sorted = (m: Map<string, number>) =>
    [...m].filter(([name]) => !name.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  lines.push(...sorted(functions).slice(0, top).map(row), '', 'self time by place:');
  lines.push(...sorted(places).slice(0, top).map(row));
  lines.push(
    '',
    'by the innermost Earshot function on the stack (it and what it calls outside Earshot):',
  );
  lines.push(...sorted(earshotCallers).slice(0, top).map(row));
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(summariseCpuProfile(process.argv[2]!, Number(process.argv[3] ?? 25)));
}
