import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

/** The documents a user reads from the repository: the README, deploy/README.md and docs/*.md. */
const DOCS = ['README.md', 'deploy/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks (a `# comment` in a shell block is no heading, a link there no link). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
}

/** A heading's text as GitHub renders it: inline code and emphasis marks gone, a link's text kept. */
function rendered(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*|_)(\S[^*_]*?)\1/g, '$2')
    .trim();
}

/**
 * GitHub's anchor for a heading (github-slugger): lower case, every character that is not a letter,
 * a digit, a space, `-` or `_` dropped, each space turned into `-`; a repeated heading gets `-1`, `-2` ….
 */
export function githubAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, text] of prose(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const base = rendered(text!).toLowerCase().replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every inline link target of a document's prose: `[text](target)`, images included. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).replace(/`[^`\n]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

/** What is wrong with one link of `doc`, or undefined when it resolves to a file, and a heading there if it names one. */
function brokenLink(doc: string, target: string): string | undefined {
  if (/^(https?:|mailto:)/.test(target)) return undefined;
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? doc : normalize(join(dirname(doc), decodeURIComponent(path)));
  if (!existsSync(file)) return `no file ${file}`;
  if (anchor === undefined) return undefined;
  if (!file.endsWith('.md') || statSync(file).isDirectory()) return `#${anchor} into ${file}, which is not a Markdown file`;
  return githubAnchors(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor)) ? undefined : `no heading #${anchor} in ${file}`;
}

describe('the links of the README and docs/', () => {
  it('make anchors as GitHub does: lower case, spaces to "-", punctuation dropped, repeats numbered', () => {
    const anchors = githubAnchors([
      '# Prodrome', '## Your first check', '### `type: http`', '## `notify.channels.<name>`', '## Priority: impact, profiles and working hours',
      '## Heartbeats (push checks)', '## Self-healing in five minutes', '## Known limits', '## Known limits', '```sh', '# not a heading', '```',
    ].join('\n'));
    expect([...anchors]).to.deep.equal([
      'prodrome', 'your-first-check', 'type-http', 'notifychannelsname', 'priority-impact-profiles-and-working-hours',
      'heartbeats-push-checks', 'self-healing-in-five-minutes', 'known-limits', 'known-limits-1',
    ]);
  });

  it('finds a link to a missing file and to a missing heading', () => {
    expect(brokenLink('README.md', 'docs/NOPE.md')).to.equal('no file docs/NOPE.md');
    expect(brokenLink('README.md', 'docs/CLI.md#no-such-heading')).to.equal('no heading #no-such-heading in docs/CLI.md');
    expect(brokenLink('docs/CLI.md', '../README.md#quick-start')).to.equal(undefined);
    expect(brokenLink('README.md', '#quick-start')).to.equal(undefined);
  });

  for (const doc of DOCS) {
    it(`${doc}: every link resolves to a file, and to a heading there when it names one`, () => {
      const text = readFileSync(doc, 'utf8');
      const broken = linkTargets(text).map((target) => [target, brokenLink(doc, target)] as const).filter(([, why]) => why).map(([target, why]) => `${target}: ${why}`);
      expect(broken).to.deep.equal([]);
    });
  }
});
