/** `check|target`, or `check|target#aspect` for a prediction about it. Stable for one problem. */
export function incidentKey(checkId: string, target: string, aspect?: string): string {
  return aspect ? `${checkId}|${target}#${aspect}` : `${checkId}|${target}`;
}

/** The aspect part of a key (`predict:disk_percent:/var`), if any. */
export function aspectOf(key: string, checkId: string, target: string): string | undefined {
  const base = incidentKey(checkId, target);
  return key.length > base.length && key.startsWith(`${base}#`) ? key.slice(base.length + 1) : undefined;
}

/**
 * The target of one row a probe found under a configured target (a table walk: one per interface,
 * `udp://10.20.5.1:161/ward 3B uplink`). A poll of the row and a trap about it name it alike, so
 * they are one state and one incident.
 */
export function rowTarget(target: string, row: string): string {
  return `${target}/${row}`;
}
