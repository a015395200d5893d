/*
 * Why here: every probe that opens a socket (tcp, tls, hl7-mllp, dicom-echo) takes a `host:port`
 * target and must read it, and reject a malformed one at load time, the same way.
 */

/** `host:port`, `[v6]:port`, with an optional `tcp://`, `mllp://`, `tls://` or `dicom://` prefix. */
export function parseHostPort(target: string): { host: string; port: number } | undefined {
  const bare = target.replace(/^(tcp|mllp|tls|dicom):\/\//, '');
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(bare);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

/** For `validateTarget` of every probe whose target is host:port. */
export function hostPortProblem(target: string, example: string): string | undefined {
  return parseHostPort(target) ? undefined : `is not host:port (e.g. ${example})`;
}
