import { readFileSync } from 'node:fs';

/**
 * Every secret value resolved from `env:`/`file:` is remembered here so the logger can redact it
 * wherever it appears (a URL, an error message from a library, a response body).
 */
const knownSecrets = new Set<string>();

export function rememberSecret(value: string): void {
  // Very short values would redact ordinary words; they are still never logged on purpose.
  if (value.length >= 4) knownSecrets.add(value);
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}

export type SecretResult = { ok: true; value: string } | { ok: false; message: string };

/** Resolves `env:NAME`, `file:/path` or a literal. Literals are allowed but discouraged for secrets. */
export function resolveSecret(spec: string, env: NodeJS.ProcessEnv = process.env): SecretResult {
  if (spec.startsWith('env:')) {
    const name = spec.slice(4);
    const value = env[name];
    if (value === undefined || value === '') return { ok: false, message: `environment variable ${name} is not set` };
    rememberSecret(value);
    return { ok: true, value };
  }
  if (spec.startsWith('file:')) {
    const path = spec.slice(5);
    try {
      const value = readFileSync(path, 'utf8').trim();
      if (!value) return { ok: false, message: `secret file ${path} is empty` };
      rememberSecret(value);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, message: `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}` };
    }
  }
  rememberSecret(spec);
  return { ok: true, value: spec };
}
