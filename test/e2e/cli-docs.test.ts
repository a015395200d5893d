import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { CLI } from '../helpers/daemon.js';

const run = promisify(execFile);

async function help(...command: string[]): Promise<string> {
  return (await run(process.execPath, [CLI, ...command, '--help'])).stdout;
}

/** The names under "Commands:" in a commander help text (its own `help` left out). */
function commandsIn(text: string): string[] {
  const section = text.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

/** The long options under "Options:" (`-c, --config <file>` is `--config`), --help left out. */
function optionsIn(text: string): string[] {
  const section = (text.split(/^Options:$/m)[1] ?? '').split(/^\S/m)[0]!;
  return [...section.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help' && o !== '--version').sort();
}

/**
 * docs/CLI.md's command table: each `prodrome …` form in its first column (several per row, split
 * by ·) as the command it names (`silence add`) and the options it shows (`-c` is `--config`).
 */
function documented(): Map<string, Set<string>> {
  const table = readFileSync('docs/CLI.md', 'utf8').split('\n').filter((l) => l.startsWith('| `prodrome'));
  const out = new Map<string, Set<string>>();
  for (const row of table) {
    for (const form of row.split(' | ')[0]!.slice(2).split(' · ')) {
      const words = form.replace(/`/g, '').split(/\s+/).slice(1);
      const command = words.filter((_, i) => words.slice(0, i + 1).every((w) => /^[a-z][a-z-]*$/.test(w))).join(' ');
      const options = out.get(command) ?? new Set<string>();
      for (const m of form.matchAll(/(?<![\w-])(--[a-z-]+|-c)\b/g)) options.add(m[1] === '-c' ? '--config' : m[1]!);
      out.set(command, options);
    }
  }
  return out;
}

describe('prodrome --help and docs/CLI.md', function () {
  this.timeout(30_000);
  const docs = documented();

  it('list the same commands', async () => {
    const top = commandsIn(await help());
    const listed = (await Promise.all(top.map(async (c) => {
      const subcommands = commandsIn(await help(c));
      return subcommands.length ? subcommands.map((s) => `${c} ${s}`) : [c];
    }))).flat();
    expect([...docs.keys()].filter((c) => c !== '').sort()).to.deep.equal(listed.sort());
  });

  it('give each command the same options', async () => {
    const commands = [...docs.keys()].filter((c) => c !== '');
    const texts = await Promise.all(commands.map((c) => help(...c.split(' '))));
    commands.forEach((command, i) => expect([...docs.get(command)!].sort(), `options of prodrome ${command}`).to.deep.equal(optionsIn(texts[i]!)));
  });

  it('say the same exit codes', async () => {
    const text = await help();
    const md = readFileSync('docs/CLI.md', 'utf8').replace(/\s+/g, ' ');
    for (const [code, meaning] of [['0', 'ok'], ['1', 'failed'], ['2', 'bad config or usage'], ['3', 'a dependency is unreachable']]) {
      expect(text, `--help: ${code}`).to.match(new RegExp(`^  ${code}  ${meaning}`, 'm'));
      expect(md, `docs/CLI.md: ${code}`).to.include(`**${code}** ${meaning}`);
    }
  });

  it('is linked from the README', () => {
    expect(readFileSync('README.md', 'utf8')).to.include('](docs/CLI.md)');
  });
});
