// One-time codes in a message: the 4–8 digit (or short upper-case
// alphanumeric) code a signup or 2FA mail carries, found near a word that
// announces it (code, verification, OTP, PIN, …). Numbers that only look like
// codes are skipped: years, prices, phone numbers, dates and times, order
// numbers, zip codes, and anything inside a URL.

/** Characters of subject + text looked at; codes sit near the top of a mail. */
export const CODE_SCAN_MAX_CHARS = 64 * 1024;
/** A candidate counts when it starts at most this many characters after a keyword ends… */
export const CODE_AFTER_KEYWORD_CHARS = 80;
/** …or ends at most this many characters before a keyword starts ("482913 is your code"). */
export const CODE_BEFORE_KEYWORD_CHARS = 40;
/** At most this many codes are reported. */
export const CODES_MAX = 5;

// Words that announce a code. "code" may end a compound word (Bestätigungscode, passcode).
const KEYWORD_RE =
  /(?:code|codes|c[oó]digo|\b(?:verification|verify|verifying|otp|pin|passcode|one[- ]time|2fa|two[- ]factor|authentication|security|login|sign[- ]in|token|mfa))\b/giu;
// "code" that names something else: zip/postal/area/country codes, source code, promo/discount codes.
const NOT_A_CODE_KEYWORD_RE =
  /(?:zip|postal|post|area|country|dialing|dialling|source|promo|promotional|discount|coupon|voucher|referral|bar|qr|unicode|error|status|tracking)[\s-]*$/i;
// A candidate: digits, digits split 3+3 or 4+4 ("482 913", "4829-1374"), or upper-case letters and digits.
const CANDIDATE_RE = /(?<![\p{L}\p{N}_])(?:\d{3,4}[ -]\d{3,4}|[A-Z0-9]{4,8})(?![\p{L}\p{N}_])/gu;
const URL_RE = /\b(?:https?:\/\/|mailto:|www\.)\S+/gi;
const EMAIL_RE = /\S+@\S+\.\S+/g;
const YEAR_RE = /^(?:19|20)\d\d$/;
// characters that make a number part of a bigger one: a price, phone number, date, time, version or ordinal
const NUMBER_BEFORE_RE =
  /(?:[$€£¥₹#№]|\d[\s./:,-]?|[+(]|\b(?:no|nr|order|invoice|ref|tel|phone|fax|ext)\.?:?\s*)$/i;
const NUMBER_AFTER_RE =
  /^(?:[.,:/]\d|[\s-]?\d|\s?(?:%|€|\$|£|usd|eur|gbp|px|kb|mb|gb|ms|am|pm|st|nd|rd|th)\b|[)]|\s?-\s?\d)/i;
// a US-style "CA 94043" or a street "1600 Main St": addresses, not codes
const STATE_BEFORE_RE = /\b[A-Z]{2}\s$/;

interface Candidate {
  code: string;
  start: number;
  end: number;
}

/** Replaces URLs and e-mail addresses by spaces, so their digits are not candidates but positions stay. */
function blankOut(text: string): string {
  const blank = (m: string): string => " ".repeat(m.length);
  return text.replace(URL_RE, blank).replace(EMAIL_RE, blank);
}

function candidates(text: string): Candidate[] {
  const out: Candidate[] = [];
  for (const m of text.matchAll(CANDIDATE_RE)) {
    const raw = m[0];
    const start = m.index;
    const end = start + raw.length;
    const code = raw.replace(/[ -]/g, "");
    if (!/\d/.test(code)) continue; // an upper-case word, not a code
    const digitsOnly = /^\d+$/.test(code);
    if (digitsOnly && code.length === 4 && YEAR_RE.test(code)) continue;
    if (!digitsOnly && !/[A-Z]/.test(code)) continue;
    const before = text.slice(Math.max(0, start - 12), start);
    const after = text.slice(end, end + 6);
    if (NUMBER_BEFORE_RE.test(before) || NUMBER_AFTER_RE.test(after)) continue;
    if (digitsOnly && code.length === 5 && STATE_BEFORE_RE.test(before)) continue;
    out.push({ code, start, end });
  }
  return out;
}

/** Codes in one piece of text, each with its distance to the nearest announcing keyword. */
function scored(text: string): { code: string; distance: number }[] {
  const flat = blankOut(text.slice(0, CODE_SCAN_MAX_CHARS).replace(/\s+/g, " "));
  const keywords = [...flat.matchAll(KEYWORD_RE)]
    .filter((k) => !NOT_A_CODE_KEYWORD_RE.test(flat.slice(Math.max(0, k.index - 20), k.index)))
    .map((k) => ({ start: k.index, end: k.index + k[0].length }));
  if (!keywords.length) return [];
  const out: { code: string; distance: number }[] = [];
  for (const c of candidates(flat)) {
    let best = Infinity;
    for (const k of keywords) {
      if (c.start >= k.end && c.start - k.end <= CODE_AFTER_KEYWORD_CHARS)
        best = Math.min(best, c.start - k.end);
      // a code before its keyword ("482913 is your code") is slightly less likely than one after
      if (k.start >= c.end && k.start - c.end <= CODE_BEFORE_KEYWORD_CHARS)
        best = Math.min(best, k.start - c.end + 1);
    }
    if (best < Infinity) out.push({ code: c.code, distance: best });
  }
  return out;
}

/** The one-time codes in a message, most likely first (closest to its keyword; the subject first on a tie). */
export function findCodes(subject: string, text: string): string[] {
  const all = [...scored(subject), ...scored(text)];
  const best = new Map<string, number>();
  all.forEach((c, i) => {
    // order of appearance breaks ties: subject before body, earlier before later
    const rank = c.distance * 1e6 + i;
    if (!best.has(c.code) || rank < best.get(c.code)!) best.set(c.code, rank);
  });
  return [...best.entries()]
    .sort((a, b) => a[1] - b[1])
    .slice(0, CODES_MAX)
    .map(([code]) => code);
}
