import { getCause, type CauseId } from '../causes/index.js';

/** `critical`: the cause is happening now; `warning`: close to it, or it happened (logs) a little. */
export type Severity = 'critical' | 'warning';

/** Where a finding comes from. */
export type FindingSource = 'live' | 'error-log' | 'app-log' | 'access-log';

/** One diagnosed cause with what shows it and what to do. Plain JSON. */
export interface Finding {
  /** A cause id of the catalogue (`badgateway causes`). */
  cause: CauseId;
  /** The cause's title, from the catalogue. */
  title: string;
  severity: Severity;
  source: FindingSource;
  /** What was looked at: `pid 123`, `port 8080`, `unix:/run/app.sock`, `machine`, `error log`. */
  target: string;
  /** One line: what doctor saw. */
  summary: string;
  /** The facts, one per line, with numbers. */
  evidence: string[];
  /** What fixes it, most direct first (the catalogue's text). */
  fix: string[];
  /** Commands that confirm it by hand (the catalogue's, with PID/PORT/SOCKET filled in where known). */
  confirm: string[];
  /** Other causes the same symptom can stand for (log findings). */
  alsoConsistentWith: CauseId[];
  /** Findings this one brings about (keepalive-leak → fd-exhaustion): its effects, listed after it. */
  causes: CauseId[];
  /** Findings that bring this one about: it is their symptom, not the root cause. */
  causedBy: CauseId[];
}

/** What to fill into the catalogue's confirm commands. */
export interface ConfirmValues {
  pid?: number;
  port?: number;
  socket?: string;
}

/** Builds a finding; the title, fix and confirm texts come from the cause catalogue, never from here. */
export function createFinding(
  cause: CauseId,
  fields: {
    severity: Severity;
    source: FindingSource;
    target: string;
    summary: string;
    evidence: string[];
    alsoConsistentWith?: CauseId[];
    causes?: CauseId[];
    causedBy?: CauseId[];
    /** Fixes for this very case (the exact command), before the catalogue's general ones. */
    fixFirst?: string[];
  },
  values: ConfirmValues = {},
): Finding {
  const entry = getCause(cause);
  if (!entry) throw new Error(`unknown cause ${cause}`); // a bug of ours: rules only name catalogue ids
  return {
    cause,
    title: entry.title,
    severity: fields.severity,
    source: fields.source,
    target: fields.target,
    summary: fields.summary,
    evidence: fields.evidence,
    fix: [...(fields.fixFirst ?? []), ...entry.fix],
    confirm: entry.confirm.map((command) => fillConfirm(command, values)),
    alsoConsistentWith: fields.alsoConsistentWith ?? [],
    causes: fields.causes ?? [],
    causedBy: fields.causedBy ?? [],
  };
}

/** Fills PID / PORT / SOCKET placeholders of a catalogue command with known values. */
export function fillConfirm(command: string, values: ConfirmValues): string {
  let out = command;
  if (values.pid !== undefined) out = out.replace(/\bPID\b/g, String(values.pid));
  if (values.port !== undefined) out = out.replace(/\bPORT\b/g, String(values.port));
  if (values.socket !== undefined) out = out.replace(/\bSOCKET\b/g, values.socket);
  return out;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1 };
const SOURCE_RANK: Record<FindingSource, number> = { live: 0, 'error-log': 1, 'app-log': 2, 'access-log': 3 };

/**
 * Most severe first, live evidence before logs, then by cause id (stable output); then every effect
 * moves to just after its cause (keepalive-leak, then the fd-exhaustion it brings about), so the
 * first finding is a root cause whenever one was found.
 */
export function rankFindings(findings: readonly Finding[]): Finding[] {
  const sorted = [...findings].sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      SOURCE_RANK[a.source] - SOURCE_RANK[b.source] ||
      a.cause.localeCompare(b.cause) ||
      a.target.localeCompare(b.target),
  );
  const key = new Map<Finding, number>(sorted.map((f, i) => [f, i]));
  for (const [i, f] of sorted.entries()) {
    const causes = sorted.filter((g) => g !== f && f.causedBy.includes(g.cause));
    const cause = causes.find((g) => sameWhere(f, g)) ?? causes.find((g) => g.source !== f.source);
    if (cause) key.set(f, (key.get(cause) ?? 0) + 0.5 + i / (sorted.length + 1) / 2);
  }
  return sorted.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0));
}

/** Two findings about the same thing (one target of one shares a part with the other's). */
function sameWhere(a: Finding, b: Finding): boolean {
  const parts = new Set(a.target.split(', '));
  return b.target.split(', ').some((t) => parts.has(t));
}

/**
 * The one threshold check every rule uses: `critical` at or above `critical`, `warning` at or
 * above `warning`, undefined below (a threshold of 0 or less is off).
 */
export function severityOf(value: number, thresholds: { warning: number; critical: number }): Severity | undefined {
  if (thresholds.critical > 0 && value >= thresholds.critical) return 'critical';
  if (thresholds.warning > 0 && value >= thresholds.warning) return 'warning';
  return undefined;
}
