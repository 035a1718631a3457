import { CAUSES, type Cause, type CauseId } from '../causes/index.js';
import { createAlertDefinitions, logCauses } from './alerts.js';
import type { MixinConfig } from './config.js';
import { recordedNames } from './rules.js';

/** A Grafana panel (the subset of the dashboard JSON model the mixin writes). */
export interface Panel {
  id: number;
  type: 'timeseries' | 'table' | 'text' | 'row';
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: 'prometheus'; uid: string };
  targets?: { refId: string; expr: string; legendFormat?: string; instant?: boolean; format?: string }[];
  fieldConfig?: unknown;
  options?: unknown;
  collapsed?: boolean;
  panels?: Panel[];
}

/** A panel before it is placed: its queries and how to show them. */
interface PanelSpec {
  title: string;
  type?: 'timeseries' | 'table' | 'text';
  queries?: { expr: string; legend?: string }[];
  unit?: string;
  /** Orange and red thresholds (ratios, counts). */
  thresholds?: [number, number];
  max?: number;
  markdown?: string;
  width?: number;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
const SEL = 'instance=~"$instance"';

/** Every PromQL expression of a dashboard's panels (for validation). */
export function dashboardExpressions(dashboard: { panels: Panel[] }): string[] {
  const all: string[] = [];
  const visit = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) all.push(t.expr);
      visit(p.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return all;
}

/**
 * The Grafana dashboard: a fleet overview (fds vs limit, accept queues, the guard's shed rate,
 * 502/504 by upstream and cause, firing alerts), then one collapsed row per cause of the
 * catalogue with its live metrics, its error-log lines and what to do. A `datasource` variable
 * makes it import into any Grafana; `instance` narrows it to some machines.
 * Long on purpose: the dashboard as data, panel after panel in the order Grafana shows them.
 */
export function createDashboard(c: MixinConfig): Record<string, unknown> {
  const n = recordedNames(c);
  const w = c.rateInterval;
  // Raw series take the user's selector too (recorded ones were computed from selected series).
  const raw = c.selector === '' ? SEL : `${SEL}, ${c.selector}`;
  let id = 0;
  let y = 0;
  const place = (specs: PanelSpec[]): Panel[] => {
    const out: Panel[] = [];
    let x = 0;
    for (const s of specs) {
      const width = s.width ?? 12;
      if (x + width > 24) {
        x = 0;
        y += 8;
      }
      out.push(toPanel(s, ++id, { h: 8, w: width, x, y }));
      x += width;
    }
    y += 8;
    return out;
  };
  const row = (title: string, collapsed: boolean, specs: PanelSpec[]): Panel[] => {
    const header: Panel = {
      id: ++id,
      type: 'row',
      title,
      gridPos: { h: 1, w: 24, x: 0, y: y++ },
      collapsed,
      panels: [],
    };
    const panels = place(specs);
    if (!collapsed) return [header, ...panels];
    header.panels = panels;
    return [header];
  };

  const overview: PanelSpec[] = [
    {
      title: 'File descriptors in use (open / soft limit)',
      queries: [{ expr: `${n.fdRatio}{${SEL}}`, legend: '{{instance}} {{target}}' }],
      unit: 'percentunit',
      thresholds: [c.fdWarningRatio, c.fdCriticalRatio],
      max: 1,
    },
    {
      title: 'Open fds vs limit',
      queries: [
        { expr: `badgateway_process_open_fds{${raw}}`, legend: '{{instance}} {{target}} open' },
        { expr: `badgateway_process_max_fds{${raw}}`, legend: '{{instance}} {{target}} limit' },
      ],
      unit: 'short',
    },
    {
      title: 'Accept queue fill (queue / backlog)',
      queries: [{ expr: `${n.queueRatio}{${SEL}}`, legend: '{{instance}} {{listener}}' }],
      unit: 'percentunit',
      thresholds: [c.queueWarningRatio, 1],
      max: 1,
    },
    {
      title: 'Guard: requests shed (503) by reason',
      queries: [{ expr: `${n.shedRate}{${SEL}}`, legend: '{{instance}} {{reason}}' }],
      unit: 'reqps',
    },
    {
      title: '502/504 by upstream and cause (proxy error log)',
      queries: [
        {
          expr: `sum by (status, cause, upstream) (${n.errorLogRate}{${SEL}, status=~"502|504"})`,
          legend: '{{status}} {{cause}} {{upstream}}',
        },
      ],
      unit: 'short',
    },
    {
      title: '502/504 share of responses (proxy access log)',
      queries: [{ expr: `${n.badGatewayRatio}{${SEL}}`, legend: '{{instance}}' }],
      unit: 'percentunit',
      thresholds: [c.badGatewayWarningRatio, c.badGatewayCriticalRatio],
    },
    {
      title: 'Firing badgateway alerts',
      type: 'table',
      queries: [{ expr: `ALERTS{alertname=~"Badgateway.*", alertstate="firing", ${SEL}}` }],
    },
    {
      title: "doctor's findings by cause",
      queries: [
        { expr: `sum by (cause, severity) (badgateway_doctor_findings{${raw}})`, legend: '{{severity}} {{cause}}' },
      ],
      unit: 'short',
    },
  ];
  const panels = [...row('Fleet overview', false, overview)];
  const alertsByCause = new Map<CauseId, string[]>();
  for (const d of createAlertDefinitions(c)) {
    for (const cause of d.causes) {
      const names = alertsByCause.get(cause) ?? [];
      if (!names.includes(d.rule.alert)) names.push(d.rule.alert);
      alertsByCause.set(cause, names);
    }
  }
  const fromLog = new Set(logCauses());
  for (const cause of CAUSES) {
    const specs: PanelSpec[] = [
      {
        title: 'What it is, what to do',
        type: 'text',
        markdown: causeMarkdown(cause, alertsByCause.get(cause.id) ?? [], c),
        width: 8,
      },
    ];
    specs.push(...livePanels(cause.id, n, w, raw));
    if (fromLog.has(cause.id)) {
      specs.push({
        title: `Error-log lines of ${cause.id} by upstream`,
        queries: [
          {
            expr: `sum by (upstream, status) (${n.errorLogRate}{${SEL}, cause="${cause.id}"})`,
            legend: '{{status}} {{upstream}}',
          },
        ],
        unit: 'short',
        width: 8,
      });
    }
    for (const s of specs.slice(1)) s.width ??= 8;
    panels.push(...row(`${cause.id}: ${cause.title}`, true, specs));
  }
  return {
    uid: c.dashboard.uid,
    title: c.dashboard.title,
    tags: c.dashboard.tags,
    timezone: 'utc',
    refresh: c.dashboard.refresh,
    schemaVersion: 38,
    version: 1,
    editable: true,
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          refresh: 1,
          regex: '',
          options: [],
        },
        {
          name: 'instance',
          label: 'Instance',
          type: 'query',
          datasource: DATASOURCE,
          definition: 'label_values({__name__=~"badgateway_.+"}, instance)',
          query: { query: 'label_values({__name__=~"badgateway_.+"}, instance)', refId: 'instance' },
          multi: true,
          includeAll: true,
          allValue: '.*',
          current: { selected: true, text: ['All'], value: ['$__all'] },
          refresh: 2,
          sort: 1,
          hide: 0,
          options: [],
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

/** Panels of a cause's live metrics (doctor's and the guard's), if it has any. */
function livePanels(cause: CauseId, n: ReturnType<typeof recordedNames>, w: string, raw: string): PanelSpec[] {
  switch (cause) {
    case 'fd-exhaustion':
      return [
        {
          title: 'fds in use',
          queries: [{ expr: `${n.fdRatio}{${SEL}}`, legend: '{{instance}} {{target}}' }],
          unit: 'percentunit',
          max: 1,
        },
        {
          title: 'Guard: shed for fds',
          queries: [{ expr: `${n.shedRate}{${SEL}, reason="fds"}`, legend: '{{instance}}' }],
          unit: 'reqps',
        },
      ];
    case 'keepalive-leak':
      return [
        {
          title: 'Idle connections',
          queries: [
            { expr: `badgateway_idle_connections{${raw}}`, legend: '{{instance}} {{listener}} (doctor)' },
            { expr: `badgateway_guard_connections_idle{${raw}}`, legend: '{{instance}} between requests (guard)' },
          ],
          unit: 'short',
        },
        {
          title: 'Guard: idle connections reaped',
          queries: [{ expr: `rate(badgateway_guard_reaped_connections_total{${raw}}[${w}])`, legend: '{{instance}}' }],
          unit: 'short',
        },
      ];
    case 'backlog-overflow-unix':
    case 'backlog-overflow-tcp': {
      const kind = cause === 'backlog-overflow-unix' ? 'unix' : 'tcp';
      const panels: PanelSpec[] = [
        {
          title: `Accept queue and backlog (${kind})`,
          queries: [
            {
              expr: `badgateway_accept_queue_length{${raw}, kind="${kind}"}`,
              legend: '{{instance}} {{listener}} queue',
            },
            { expr: `badgateway_accept_backlog{${raw}, kind="${kind}"}`, legend: '{{instance}} {{listener}} backlog' },
          ],
          unit: 'short',
        },
      ];
      if (kind === 'tcp')
        panels.push({
          title: 'SYNs dropped at full queues (ListenOverflows)',
          queries: [{ expr: `rate(badgateway_tcp_listen_overflows_total{${raw}}[${w}])`, legend: '{{instance}}' }],
          unit: 'short',
        });
      return panels;
    }
    case 'upstream-down':
      return [
        {
          title: 'Something listens (1) or not (0)',
          queries: [{ expr: `badgateway_listener_up{${raw}}`, legend: '{{instance}} {{target}}' }],
          unit: 'short',
          max: 1,
        },
      ];
    default:
      return [];
  }
}

/** The text panel of a cause's row: the catalogue's summary and fixes, the doctor command, the alerts. */
function causeMarkdown(cause: Cause, alerts: string[], c: MixinConfig): string {
  return [
    `**${cause.title}** (client sees ${cause.statuses.join('/')})`,
    '',
    cause.summary,
    '',
    `Diagnose on the machine: \`badgateway doctor --port PORT\` (or \`--unix-socket PATH\`, \`--pid PID\`; \`--nginx-error-log ${c.nginxErrorLog}\` for the proxy's side).`,
    '',
    'Fix:',
    ...cause.fix.map((f) => `- ${f}`),
    '',
    `Alerts: ${alerts.length > 0 ? alerts.join(', ') : 'none'} · [runbook](${c.runbookUrlPattern.replace('%s', cause.id)})`,
  ].join('\n');
}

function toPanel(s: PanelSpec, id: number, gridPos: Panel['gridPos']): Panel {
  if (s.type === 'text')
    return { id, type: 'text', title: s.title, gridPos, options: { mode: 'markdown', content: s.markdown ?? '' } };
  const targets = (s.queries ?? []).map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    expr: q.expr,
    ...(q.legend !== undefined ? { legendFormat: q.legend } : {}),
    ...(s.type === 'table' ? { instant: true, format: 'table' } : {}),
  }));
  if (s.type === 'table')
    return {
      id,
      type: 'table',
      title: s.title,
      gridPos,
      datasource: DATASOURCE,
      targets,
      options: { showHeader: true },
    };
  const thresholds = {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      ...(s.thresholds
        ? [
            { color: 'orange', value: s.thresholds[0] },
            { color: 'red', value: s.thresholds[1] },
          ]
        : []),
    ],
  };
  return {
    id,
    type: 'timeseries',
    title: s.title,
    gridPos,
    datasource: DATASOURCE,
    targets,
    fieldConfig: {
      defaults: {
        unit: s.unit ?? 'short',
        min: 0,
        ...(s.max !== undefined ? { max: s.max } : {}),
        thresholds,
        custom: { thresholdsStyle: { mode: s.thresholds ? 'line' : 'off' } },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi' },
    },
  };
}
