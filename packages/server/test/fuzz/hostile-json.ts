import fc from 'fast-check';

// What a hostile or broken frontend may put in a text frame, for the server's fuzz tests: any
// JSON, keys that trip code treating JSON as plain objects, nesting far past any real message,
// huge strings, and edits that turn a valid message of a wire into an almost-valid one.

/**
 * Object keys that trip code which treats JSON as plain objects: prototype members, and keys
 * that make a value's conversion to a string or number throw (`{"toString": 1}`).
 */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'toJSON',
] as const;

const key = fc.string({ maxLength: 12 });

/**
 * Any JSON value, biased towards the hostile: prototype keys, the `type`/`event`/`action`
 * fields the wires dispatch on (with names that wire knows among `names`), lone surrogates,
 * numbers at the edge of what JSON carries.
 */
export function hostileJsonArb(names: readonly string[] = []): fc.Arbitrary<unknown> {
  const nameArb = fc.oneof(
    names.length > 0 ? fc.constantFrom(...names) : fc.constant('start'),
    fc.constantFrom(...PROTOTYPE_KEYS),
    fc.string({ maxLength: 20 }),
  );
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(null, true, 0, -1, 1e308, 2 ** 53 + 1, '', '\u0000', '\ud800'),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), key), tie('value'), {
        maxKeys: 4,
      }),
      // A dispatch field with a known name or a hostile value, among other fields.
      fc
        .record({
          field: fc.constantFrom('type', 'event', 'action'),
          name: fc.oneof(nameArb, tie('value')),
          rest: fc.dictionary(key, tie('value'), { maxKeys: 3 }),
        })
        .map(({ field, name, rest }) => ({ ...rest, [field]: name })),
    ),
  })).value;
}

/** A JSON text nested `depth` levels deep (arrays or objects), around `core`. */
export function nestedJson(depth: number, shape: 'array' | 'object', core = '0'): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}${core}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${core}${'}'.repeat(depth)}`;
}

/** Nesting past any sane message, up to what fits in the server's 256 KiB frame limit. */
export const nestingArb = fc.record({
  depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1_000, max: 40_000 })),
  shape: fc.constantFrom('array' as const, 'object' as const),
});

/** A valid message of a wire with the value at `field` replaced by raw JSON text. */
export function withRawField(message: object, field: string, raw: string): string {
  const marker = '__earshot_fuzz_raw__';
  return JSON.stringify({ ...message, [field]: marker }).replace(`"${marker}"`, raw);
}

/** One edit of a JSON value: where (an index into its paths, wrapped) and what. */
export type JsonEdit =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add'; at: number; key: string; value: unknown };

export function jsonEditArb(names: readonly string[] = []): fc.Arbitrary<JsonEdit> {
  const value = hostileJsonArb(names);
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value }),
    fc.record({
      kind: fc.constant('add' as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), key),
      value,
    }),
  );
}

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) pathsOf(v, [...prefix, i], out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  }
  return out;
}

const at = (node: unknown, k: string | number) => (node as Record<string | number, unknown>)[k];

/**
 * Applies `edits` to a copy of the JSON value `value`. Keys are set with
 * `Object.defineProperty`, so a `__proto__` key is an own key, as `JSON.parse` makes it.
 */
export function applyEdits(value: unknown, edits: readonly JsonEdit[]): unknown {
  let root = JSON.parse(JSON.stringify(value)) as unknown;
  for (const edit of edits) {
    const paths = pathsOf(root);
    const path = paths[edit.at % paths.length]!;
    const last = path.at(-1);
    const parent = path.slice(0, -1).reduce(at, root) as Record<string | number, unknown>;
    const target = path.reduce(at, root);
    const define = (on: object, k: string | number, v: unknown) =>
      Object.defineProperty(on, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    if (edit.kind === 'delete') {
      if (last === undefined) continue;
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (edit.kind === 'replace') {
      if (last === undefined) root = edit.value;
      else define(parent, last, edit.value);
    } else if (typeof target === 'object' && target !== null) {
      define(target, Array.isArray(target) ? target.length : edit.key, edit.value);
    }
  }
  return root;
}
