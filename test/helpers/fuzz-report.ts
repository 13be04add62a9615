// Reading schemathesis' console report (test/soak/schema-fuzz.soak.ts).

/**
 * Whether a round that exited non-zero found nothing about the server: no failed check, and every error in
 * its summary is a "Runtime Error", schemathesis' title for an unclassified crash inside itself (a network
 * error, a timeout or an unavailable server has titles of its own). Seen on CI: hypothesis failing to
 * describe one of its own lambdas ("SystemError: AST constructor recursion depth mismatch").
 */
export function onlyFuzzerCrashed(output: string): boolean {
  const summary = output.slice(output.lastIndexOf('SUMMARY'));
  if (/^\s*Failures:/m.test(summary)) return false;
  const errors = /^\s*Errors:\n((?:[ \t]+\S.*\n)+)/m.exec(summary)?.[1];
  if (errors === undefined) return false;
  const titles = errors.split('\n').filter((l) => l.trim() !== '').map((l) => l.replace(/^\s*\S+\s+/, '').replace(/:\s*\d+\s*$/, ''));
  return titles.length > 0 && titles.every((t) => t === 'Runtime Error');
}
