/**
 * Every proxy writes its time its own way; classifications carry it as nginx's error log does,
 * `YYYY/MM/DD HH:MM:SS` (the log's own clock, no zone), so first/last seen, rotation order and
 * timelines work the same for every format.
 */

/** CLF's month names (`30/Nov/2026:…`) → their two-digit numbers. */
export const CLF_MONTHS: Readonly<Record<string, string>> = {
  Jan: '01',
  Feb: '02',
  Mar: '03',
  Apr: '04',
  May: '05',
  Jun: '06',
  Jul: '07',
  Aug: '08',
  Sep: '09',
  Oct: '10',
  Nov: '11',
  Dec: '12',
};

/** `30/Nov/2026:21:46:10` (HAProxy's `[%tr]`, CLF) → `2026/11/30 21:46:10`; '' when malformed. */
export function fromClfTime(t: string): string {
  const month = CLF_MONTHS[t.slice(3, 6)];
  if (month === undefined || t.length < 20 || t.charCodeAt(2) !== 47 || t.charCodeAt(11) !== 58) return '';
  return `${t.slice(7, 11)}/${month}/${t.slice(0, 2)} ${t.slice(12, 20)}`;
}

/** `2016-04-15T20:17:00.310Z` (ISO 8601) → `2016/04/15 20:17:00`; '' when malformed. */
export function fromIsoTime(t: string): string {
  if (t.length < 19 || t.charCodeAt(4) !== 45 || t.charCodeAt(10) !== 84 /* T */ || t.charCodeAt(13) !== 58) return '';
  return `${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)} ${t.slice(11, 19)}`;
}

const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));
let lastEpochSecond = -1;
let lastEpochText = '';

/** Unix seconds (Caddy's `ts`) → local time `YYYY/MM/DD HH:MM:SS`, as nginx would write it on this machine. */
export function fromEpochSeconds(seconds: number): string {
  const s = Math.floor(seconds);
  if (!Number.isFinite(s) || s < 0) return '';
  if (s !== lastEpochSecond) {
    const d = new Date(s * 1000);
    lastEpochText = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    lastEpochSecond = s;
  }
  return lastEpochText;
}
