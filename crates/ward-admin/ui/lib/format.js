// Numbers and times as the pages show them.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** 12345 → "12,345" (in the browser's locale). */
export const count = (n) => integer.format(n ?? 0);

/** 0.1234 → "12.3 %". */
export const percent = (ratio) => `${((ratio ?? 0) * 100).toFixed(1)} %`;

/** Milliseconds, with a precision that suits their size. */
export function ms(value) {
  const v = value ?? 0;
  if (v < 1) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  return `${integer.format(v)} ms`;
}

/** What a verdict's reason means to a person. */
export function verdict(reason) {
  switch (reason) {
    case 'FilteredBlockList':
      return 'blocked';
    case 'NotFilteredAllowList':
      return 'allowed by an exception';
    case 'RewrittenRule':
      return 'rewritten';
    case 'NotFilteredNotFound':
      return 'not filtered';
    default:
      return reason || '';
  }
}
