/**
 * Splits a stream of text chunks into whole lines (so a secret split across two chunks is
 * still redacted whole); `flush` returns what is left without a newline.
 */
export class LineBuffer {
  private rest = '';
  /** The whole lines in `chunk` (with the earlier remainder), each ending in `\n`. */
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.rest = text;
      return [];
    }
    this.rest = text.slice(cut + 1);
    return text.slice(0, cut + 1).split(/(?<=\n)/);
  }
  /** The last partial line, if any. */
  flush(): string[] {
    const out = this.rest ? [`${this.rest}\n`] : [];
    this.rest = '';
    return out;
  }
}
