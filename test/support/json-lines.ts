/**
 * A 'data' listener for a child's output stream that splits it into lines
 * and hands each to `onLine`, parsed as JSON (pino's log lines) or, when it
 * is not JSON, as undefined with the raw text.
 */
export function jsonLines(onLine: (parsed: any, line: string) => void): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      let parsed: any;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      onLine(parsed, line);
    }
  };
}
