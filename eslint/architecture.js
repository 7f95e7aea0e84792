/**
 * Tessera's architecture rules (docs/architecture.md), as a local ESLint plugin:
 * - `index-only`: from outside a folder, the folder is imported only through its index.ts (a file may import its
 *   own folder's files and its ancestors' files directly).
 * - `no-cycle`: no import cycle between files of src/ (type-only imports count too: a cycle of types is still an
 *   arrow back up). The graph is read once per lint run from the files' import lines.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const toTs = (file) => (file.endsWith('.js') ? `${file.slice(0, -3)}.ts` : file);
const within = (dir, ancestor) => dir === ancestor || dir.startsWith(ancestor + sep);
const resolveSpec = (from, spec) => (spec.startsWith('.') ? toTs(resolve(dirname(from), spec)) : null);

function sourceNodes(context, check) {
  const visit = (node) => {
    if (node.source && typeof node.source.value === 'string') check(node, node.source.value);
  };
  return { ImportDeclaration: visit, ExportNamedDeclaration: visit, ExportAllDeclaration: visit };
}

const indexOnly = {
  meta: {
    type: 'problem',
    docs: { description: 'a folder is imported only through its index.ts from outside it' },
    schema: [
      {
        type: 'object',
        properties: {
          /** Pairs [importer folder, imported folder] (repo-relative) exempt while a move is pending. */
          exempt: { type: 'array', items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 } },
        },
        additionalProperties: false,
      },
    ],
    messages: { pastIndex: "import '{{spec}}' through {{folder}}/index.ts: a folder is imported only through its index from outside it" },
  },
  create(context) {
    const root = context.cwd;
    const exempt = (context.options[0]?.exempt ?? []).map(([a, b]) => [resolve(root, a), resolve(root, b)]);
    const file = context.filename;
    return sourceNodes(context, (node, spec) => {
      const target = resolveSpec(file, spec);
      if (!target || target.endsWith(`${sep}index.ts`)) return;
      const from = dirname(file);
      const folder = dirname(target);
      if (within(from, folder)) return;
      if (exempt.some(([a, b]) => within(from, a) && within(folder, b))) return;
      context.report({ node: node.source, messageId: 'pastIndex', data: { spec, folder: relative(root, folder) } });
    });
  },
};

const IMPORT_LINE = /^(?:import|export)\s[^;]*?from\s*'(\.[^']*)'/gms;
const graphs = new Map();

function listTs(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Files in an import cycle under `src`, by Tarjan's strongly connected components. */
function cyclicFiles(src) {
  const edges = new Map(listTs(src).map((file) => [file, [...readFileSync(file, 'utf8').matchAll(IMPORT_LINE)].map((m) => resolveSpec(file, m[1]))]));
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const component = new Map();
  let next = 0;
  const connect = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const members = [];
    for (let w = stack.pop(); ; w = stack.pop()) {
      onStack.delete(w);
      members.push(w);
      if (w === v) break;
    }
    if (members.length > 1) for (const m of members) component.set(m, v);
  };
  for (const v of edges.keys()) if (!index.has(v)) connect(v);
  return component;
}

const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'no import cycle between the files of src/' },
    schema: [],
    messages: { cycle: "import '{{spec}}' closes an import cycle ({{file}} and {{target}} import each other, directly or not)" },
  },
  create(context) {
    const src = join(context.cwd, 'src');
    if (!within(context.filename, src)) return {};
    if (!graphs.has(src)) graphs.set(src, cyclicFiles(src));
    const component = graphs.get(src);
    const mine = component.get(context.filename);
    if (mine === undefined) return {};
    return sourceNodes(context, (node, spec) => {
      const target = resolveSpec(context.filename, spec);
      if (target && component.get(target) === mine) {
        context.report({ node: node.source, messageId: 'cycle', data: { spec, file: relative(context.cwd, context.filename), target: relative(context.cwd, target) } });
      }
    });
  },
};

export default { meta: { name: 'tessera-architecture' }, rules: { 'index-only': indexOnly, 'no-cycle': noCycle } };
