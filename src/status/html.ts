/**
 * What both status pages share: escaping, the page around them, the sparkline. Pages are whole
 * HTML built on the server with inline CSS and inline SVG only: ward browsers are locked down
 * (no JavaScript, often no outside network), and the CSP forbids anything else anyway.
 */

/** Seconds between refreshes (a meta refresh: no script needed). */
export const REFRESH_SECONDS = 30;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** For text and attribute values alike. */
export function escapeHtml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const BASE_CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;padding:1rem;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;line-height:1.4;color:#1a1a1a;background:#f6f7f9}
main{max-width:72rem;margin:0 auto}
h1{font-size:1.6rem;margin:.2rem 0 .8rem}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
a{color:#0b57d0}
.muted{color:#555}
.ok{--tone:#1e7b34}.warn{--tone:#a15c00}.bad{--tone:#b3261e}.idle{--tone:#5f6368}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;color:#fff;background:var(--tone);font-weight:600;font-size:.85em;white-space:nowrap}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid #e1e3e6;overflow-wrap:break-word}
th{font-size:.85rem;color:#444;background:#eef0f3;white-space:nowrap}
.nowrap{white-space:nowrap}
.long{overflow-wrap:anywhere}
.note{padding:.6rem .8rem;background:#fff4e5;border-left:.3rem solid #a15c00}
@media (max-width:640px){
  body{padding:.6rem}
  table,thead,tbody,tr,th,td{display:block}
  thead{display:none}
  tr{border:1px solid #e1e3e6;border-radius:.4rem;margin:0 0 .6rem;background:#fff}
  td{border:0;padding:.25rem .6rem}
  td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#444}
}`;

/** A complete page: UTF-8, phone viewport, refreshing itself, all styles inline. */
export function layout(options: { title: string; body: string; css?: string; refresh?: boolean }): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.refresh === false ? '' : `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">\n`}<title>${escapeHtml(options.title)}</title>
<style>${BASE_CSS}${options.css ?? ''}</style>
</head>
<body>
<main>
${options.body}
</main>
</body>
</html>
`;
}

/**
 * Probe durations as an inline SVG polyline scaled to the largest value shown, with the range in
 * its label for screen readers and a tooltip. Fewer than two samples draw nothing.
 */
export function sparkline(values: readonly number[], width = 120, height = 28): string {
  if (values.length < 2) return '<span class="muted">—</span>';
  const max = Math.max(...values, 1);
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  const label = `latency of the last ${values.length} probes: ${Math.round(Math.min(...values))} to ${Math.round(max)} ms, last ${Math.round(values.at(-1)!)} ms`;
  return `<svg class="spark" role="img" aria-label="${escapeHtml(label)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(label)}</title><polyline fill="none" stroke="#0b57d0" stroke-width="1.5" stroke-linejoin="round" points="${points}"/></svg>`;
}
