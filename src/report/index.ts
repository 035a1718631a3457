/**
 * Every renderer of the product, side by side: plain-text tables, the lab's verdict table and
 * matrix, the load report (text, JSON, progress line), and the self-contained HTML pages with
 * charts for lab runs and load runs.
 */
export { renderTable, createColors, shouldColor, type TableColumn, type Colors } from './table.js';
export {
  renderLabText,
  renderLabJson,
  LAB_JSON_SCHEMA,
  renderStatusCounts,
  renderClientOutcome,
  renderScenarioVerdict,
  renderSeconds,
  firstCauseLine,
  renderDoctorVerdict,
  shortenTempPaths,
  type LabTextOptions,
} from './lab-text.js';
export {
  createPhaseCharts,
  createClientCharts,
  createUpstreamChart,
  chartXRange,
  type ChartSpec,
  type ChartSeries,
  type ClientTimeline,
} from './charts.js';
export {
  escapeHtml,
  jsonForScript,
  readUplotAssets,
  renderHtmlPage,
  renderCollapsedLines,
  createChartCollector,
  type ChartCollector,
} from './html-page.js';
export { renderLabHtml } from './lab-html.js';
export {
  renderLoadText,
  renderLoadJson,
  LOAD_JSON_SCHEMA,
  renderProgressLine,
  formatDurationMs,
  fellBehind,
  type LoadReportInput,
} from './load-text.js';
export { renderLoadHtml, type LoadHtmlOptions } from './load-html.js';
export { renderLabMatrix, matrixRunsOf, logFlag, type MatrixRun } from './lab-matrix.js';
