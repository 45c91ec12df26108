/** Escaping for the HTML report: every text and attribute goes through here. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for HTML content and quoted attributes (also valid inside SVG). */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A relative URL for a `/`-separated path below the report's folder, each segment percent-encoded. */
export function hrefOf(rel: string): string {
  return rel
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** An id usable in `id=` and `#` links, from any text. */
export function anchorOf(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, '-');
}
