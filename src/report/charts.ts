import type { PhaseResult, UpstreamSample } from '../lab/index.js';

/** One series of a chart: a label and one value per x (null = gap). */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: boolean;
  /** Drawn against the chart's second y axis (right side). */
  right?: boolean;
  /** What the legend shows while no point is hovered: the series' total or peak, e.g. `120 requests`. */
  summary: string;
}

/** A line chart drawn by uPlot in the page; x is seconds since the load started. */
export interface ChartSpec {
  title: string;
  yLabel: string;
  /** Label of the right y axis, when a series uses it. */
  y2Label?: string;
  /** The axis counts things (connections, fds): whole-number ticks only. */
  yInteger?: boolean;
  y2Integer?: boolean;
  x: number[];
  /** The x range drawn, in seconds: the same for every chart of one run or phase, so their time axes line up. */
  xRange: [number, number];
  /** What the x legend shows while no point is hovered. */
  xSummary: string;
  series: ChartSeries[];
}

/** The client's view charts are drawn from: a load run's metrics, or a lab phase's client view. */
export interface ClientTimeline {
  bucketMs: number;
  latenciesMs: { p50: number; p99: number };
  timeline: readonly {
    tMs: number;
    statusCodes: Record<string, number>;
    errors: Record<string, number>;
    p50: number | null;
    p99: number | null;
  }[];
}

const STATUS_COLORS: Record<string, string> = {
  '502': '#d62728',
  '504': '#9467bd',
  '503': '#ff7f0e',
  '500': '#8c564b',
};

function statusColor(key: string): string {
  if (STATUS_COLORS[key]) return STATUS_COLORS[key];
  if (key.startsWith('2')) return '#2ca02c';
  if (key.startsWith('error:')) return '#7f7f7f';
  return '#17becf';
}

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
const ms = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
const maxOf = (values: readonly (number | null)[]): number =>
  Math.max(0, ...values.filter((v): v is number => v !== null));
const peak = (values: readonly (number | null)[]): string =>
  values.some((v) => v !== null) ? `peak ${maxOf(values)}` : 'not read';

/** The x range that holds both the client's timeline and the upstream samples (at least one bucket wide). */
export function chartXRange(client: ClientTimeline, samples: readonly UpstreamSample[] = []): [number, number] {
  const bucketS = client.bucketMs / 1000;
  const ends = [...client.timeline.map((p) => p.tMs / 1000 + bucketS), ...samples.map((s) => s.tMs / 1000)];
  return [0, Math.max(bucketS, ...ends)];
}

/** Requests/s by status and latency p50/p99 over time: the charts of any load run. */
export function createClientCharts(
  client: ClientTimeline,
  xRange: [number, number] = chartXRange(client),
): ChartSpec[] {
  const timeline = client.timeline;
  const bucketS = Math.max(1, client.bucketMs) / 1000;
  const x = timeline.map((p) => p.tMs / 1000);
  const totals = new Map<string, number>();
  for (const p of timeline) {
    for (const [k, n] of Object.entries(p.statusCodes)) if (n > 0) totals.set(k, (totals.get(k) ?? 0) + n);
    for (const [k, n] of Object.entries(p.errors))
      if (n > 0) totals.set(`error:${k}`, (totals.get(`error:${k}`) ?? 0) + n);
  }
  const xSummary = `${xRange[0]}–${Number(xRange[1].toFixed(1))} s`;
  const rate: ChartSpec = {
    title: 'Requests/s by status (client view)',
    yLabel: 'req/s',
    x,
    xRange,
    xSummary,
    series: [...totals.keys()].sort().map((key) => ({
      label: key,
      color: statusColor(key),
      summary: plural(totals.get(key) ?? 0, 'request'),
      values: timeline.map((p) => {
        const n = key.startsWith('error:') ? p.errors[key.slice(6)] : p.statusCodes[key];
        return Math.round(((n ?? 0) / bucketS) * 10) / 10;
      }),
    })),
  };
  const latency: ChartSpec = {
    title: 'Latency from due time (ms)',
    yLabel: 'ms',
    x,
    xRange,
    xSummary,
    series: [
      {
        label: 'p50',
        color: '#1f77b4',
        summary: `${ms(client.latenciesMs.p50)} overall`,
        values: timeline.map((p) => p.p50),
      },
      {
        label: 'p99',
        color: '#d62728',
        summary: `${ms(client.latenciesMs.p99)} overall`,
        values: timeline.map((p) => p.p99),
      },
    ],
  };
  return [rate, latency];
}

/** The upstream's open fds (left axis) and listen queue and requests in flight (right axis). */
export function createUpstreamChart(samples: readonly UpstreamSample[], xRange: [number, number]): ChartSpec {
  const fds = samples.map((s) => s.fds);
  const queue = samples.map((s) => s.listenQueue);
  const limits = samples.map((s) => s.fdLimit);
  const backlogs = samples.map((s) => s.listenBacklog);
  // A limit far above what was used (an inherited 20,000) would flatten the fd line: leave it out then.
  const showLimit = maxOf(limits) <= 4 * Math.max(1, maxOf(fds));
  const showBacklog = maxOf(backlogs) <= 4 * Math.max(8, maxOf(queue));
  const inflight = samples.map((s) => s.inflight);
  return {
    title: 'Upstream: open fds (left) and listen queue (right)',
    yLabel: 'fds',
    y2Label: 'queued connections',
    yInteger: true,
    y2Integer: true,
    x: samples.map((s) => s.tMs / 1000),
    xRange,
    xSummary: `${plural(samples.length, 'sample')}`,
    series: [
      { label: 'open fds', color: '#1f77b4', summary: peak(fds), values: fds },
      {
        label: 'fd limit',
        color: '#1f77b4',
        dash: true,
        summary: String(maxOf(limits)),
        values: showLimit ? limits : [],
      },
      { label: 'listen queue', color: '#ff7f0e', right: true, summary: peak(queue), values: queue },
      {
        label: 'backlog',
        color: '#ff7f0e',
        dash: true,
        right: true,
        summary: String(maxOf(backlogs)),
        values: showBacklog ? backlogs : [],
      },
      { label: 'in flight', color: '#2ca02c', right: true, summary: peak(inflight), values: inflight },
    ].filter((s) => s.values.some((v) => v !== null)),
  };
}

/** The charts of one lab phase: requests/s by status, latency p50/p99, upstream fds and listen queue, on one time range. */
export function createPhaseCharts(phase: PhaseResult): ChartSpec[] {
  const xRange = chartXRange(phase.client, phase.samples);
  return [...createClientCharts(phase.client, xRange), createUpstreamChart(phase.samples, xRange)];
}
