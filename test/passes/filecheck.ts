// A small FileCheck: `// CHECK: text` must appear in order, `// CHECK-NEXT:` on the line right
// after the previous match, `// CHECK-NOT: text` nowhere between the previous and the next match.
export function fileCheck(output: string, checks: string[]): string | undefined {
  const lines = output.split('\n');
  let at = -1;
  let pendingNot: string[] = [];
  for (const check of checks) {
    const m = /^\/\/ (CHECK|CHECK-NEXT|CHECK-NOT): ?(.*)$/.exec(check.trim());
    if (!m) continue;
    const [, kind, text] = m as unknown as [string, string, string];
    if (kind === 'CHECK-NOT') {
      pendingNot.push(text);
      continue;
    }
    const from = at + 1;
    const found = kind === 'CHECK-NEXT' ? (lines[from]?.includes(text) ? from : -1) : lines.findIndex((l, i) => i >= from && l.includes(text));
    if (found < 0) return `${kind}: '${text}' not found after line ${at + 1}`;
    for (const not of pendingNot) {
      const bad = lines.slice(from, found).find((l) => l.includes(not));
      if (bad) return `CHECK-NOT: '${not}' found: ${bad.trim()}`;
    }
    pendingNot = [];
    at = found;
  }
  for (const not of pendingNot) {
    const bad = lines.slice(at + 1).find((l) => l.includes(not));
    if (bad) return `CHECK-NOT: '${not}' found: ${bad.trim()}`;
  }
  return undefined;
}
