/** `check|target`, or `check|target#aspect` for a prediction about it. Stable for one problem. */
export function incidentKey(checkId: string, target: string, aspect?: string): string {
  return aspect ? `${checkId}|${target}#${aspect}` : `${checkId}|${target}`;
}

/** The aspect part of a key (`predict:disk_percent:/var`), if any. */
export function aspectOf(key: string, checkId: string, target: string): string | undefined {
  const base = incidentKey(checkId, target);
  return key.length > base.length && key.startsWith(`${base}#`) ? key.slice(base.length + 1) : undefined;
}
