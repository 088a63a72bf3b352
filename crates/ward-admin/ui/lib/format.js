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
    case 'FilteredBlockedService':
      return 'blocked service';
    case 'FilteredSafeSearch':
      return 'safe search';
    case 'FilteredSchedule':
      return 'blocked by a schedule';
    case 'NotFilteredNotFound':
      return 'not filtered';
    default:
      return reason || '';
  }
}

/** Whether a reason gets the blocking answer: a rule's, a service's or a schedule's. */
export function isBlocked(reason) {
  return reason === 'FilteredBlockList' || reason === 'FilteredBlockedService' || reason === 'FilteredSchedule';
}

/** A span of milliseconds, roughly: "12 s", "5 min", "3 h 20 min", "2 d 4 h". */
export function duration(span) {
  const s = Math.max(0, Math.floor((span ?? 0) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A Unix time in ms as how long before `now` it was: "12 s ago"; under a second (or a
 * clock ahead of this browser's) "just now". */
export const ago = (at, now = Date.now()) => (now - at < 1000 ? 'just now' : `${duration(now - at)} ago`);

/** A Unix time in ms in the browser's local date and time. */
export const localTime = (at) => new Date(at).toLocaleString();
