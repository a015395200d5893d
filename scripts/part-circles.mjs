#!/usr/bin/env node
// The parts of src/ (a top-level folder, or a top-level file) and the arrows between them, read
// from the import lines; type-only imports count, since a circle of types ties the parts'
// meaning together as much as one of code. Exit 1 and the circle when parts import each other in
// a circle. Run by `npm test` (test/architecture) so a circle cannot come back unnoticed.
// Usage: node scripts/part-circles.mjs [SRC_DIR]   (default: src)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function tsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return /\.ts$/.test(e.name) && !/\.d\.ts$/.test(e.name) ? [p] : [];
  });
}

function partOf(src, file) {
  const rel = path.relative(src, file).split(path.sep);
  return rel.length > 1 ? rel[0] : rel[0].replace(/\.ts$/, '');
}

/** Map of part → the parts it imports. */
export function partArrows(src) {
  const arrows = new Map();
  for (const file of tsFiles(src)) {
    const from = partOf(src, file);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      if (!target.startsWith(src + path.sep)) continue;
      const to = partOf(src, target);
      if (to === from) continue;
      if (!arrows.has(from)) arrows.set(from, new Set());
      arrows.get(from).add(to);
    }
  }
  return arrows;
}

/** The circles: strongly connected groups of more than one part (Tarjan). */
export function circles(arrows) {
  let next = 0;
  const index = new Map(), low = new Map(), onStack = new Set(), stack = [], found = [];
  const visit = (v) => {
    index.set(v, next); low.set(v, next); next++; stack.push(v); onStack.add(v);
    for (const w of arrows.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const group = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); group.push(w); } while (w !== v);
      if (group.length > 1) found.push(group.sort());
    }
  };
  for (const v of new Set([...arrows.keys(), ...[...arrows.values()].flatMap((s) => [...s])])) if (!index.has(v)) visit(v);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const src = path.resolve(process.argv[2] ?? 'src');
  const arrows = partArrows(src);
  for (const [from, to] of [...arrows].sort(([a], [b]) => a.localeCompare(b))) console.log(`${from} -> ${[...to].sort().join(' ')}`);
  const found = circles(arrows);
  for (const group of found) console.log(`circle: ${group.join(' ⇄ ')}`);
  if (found.length) process.exit(1);
  console.log('no circles between the parts of src/');
}
