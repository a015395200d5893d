import type { TicketText } from './ticket-text.js';

/*
 * Atlassian Document Format: the rich text Jira Cloud's REST API v3 takes for descriptions and
 * comments (v2 and Jira Data Center take plain text). Only the few nodes a ticket needs: heading,
 * paragraph, bullet list, text with link marks, hard break. Jira refuses a text node with empty
 * text, so empty lines are left out rather than sent.
 */

export interface AdfMark {
  type: 'link';
  attrs: { href: string };
}

export interface AdfNode {
  type: 'heading' | 'paragraph' | 'bulletList' | 'listItem' | 'text' | 'hardBreak';
  attrs?: Record<string, unknown>;
  content?: AdfNode[];
  text?: string;
  marks?: AdfMark[];
}

export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

/** A text node at most this long: a runaway probe message must not swell the ticket past Jira's 32 767 characters. */
const MAX_TEXT = 2_000;
/** A URL, without the punctuation that ends the sentence around it ("on http://x/fhir: timeout"). */
const URL_PART = /(https?:\/\/[^\s<>"]*[^\s<>".,;:!?')\]])/;

/** A line as inline nodes: URLs become links, newlines hard breaks. */
export function inline(line: string): AdfNode[] {
  const nodes: AdfNode[] = [];
  line
    .slice(0, MAX_TEXT)
    .split(/\r?\n/)
    .forEach((row, i) => {
      if (i > 0 && nodes.length) nodes.push({ type: 'hardBreak' });
      // split() with a capturing group puts the URLs at the odd indexes.
      row.split(URL_PART).forEach((part, j) => {
        if (!part) return;
        nodes.push(j % 2 ? { type: 'text', text: part, marks: [{ type: 'link', attrs: { href: part } }] } : { type: 'text', text: part });
      });
    });
  return nodes;
}

export function paragraph(line: string): AdfNode | undefined {
  const content = inline(line);
  return content.length ? { type: 'paragraph', content } : undefined;
}

export function heading(line: string, level: 1 | 2 | 3 | 4 | 5 | 6 = 3): AdfNode | undefined {
  const content = inline(line.replace(/\s+/g, ' '));
  return content.length ? { type: 'heading', attrs: { level }, content } : undefined;
}

export function bulletList(lines: readonly string[]): AdfNode | undefined {
  const items = lines.map(paragraph).filter((p): p is AdfNode => p !== undefined).map((p) => ({ type: 'listItem' as const, content: [p] }));
  return items.length ? { type: 'bulletList', content: items } : undefined;
}

export function adfDoc(content: readonly (AdfNode | undefined)[]): AdfDoc {
  const blocks = content.filter((n): n is AdfNode => n !== undefined);
  // An empty document is valid ADF but an empty comment is not: keep one visible paragraph.
  return { type: 'doc', version: 1, content: blocks.length ? blocks : [{ type: 'paragraph', content: [{ type: 'text', text: '-' }] }] };
}

/** The ticket's sections: each a heading, then its one line as a paragraph or its lines as a bullet list. */
export function ticketDocument(text: TicketText, footer: readonly string[] = []): AdfDoc {
  const blocks: (AdfNode | undefined)[] = [];
  for (const section of text.sections) {
    const lines = section.lines.filter((l) => l.trim());
    if (!lines.length) continue;
    blocks.push(heading(section.heading));
    blocks.push(lines.length === 1 ? paragraph(lines[0]!) : bulletList(lines));
  }
  for (const line of footer) blocks.push(paragraph(line));
  return adfDoc(blocks);
}

/** Plain text as ADF: one paragraph per non-empty line. */
export function textDocument(text: string): AdfDoc {
  return adfDoc(text.split(/\r?\n/).map((l) => (l.trim() ? paragraph(l) : undefined)));
}
