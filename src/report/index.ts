/** Renderers shared by the product: plain-text tables, the lab's verdict table, JSON and the self-contained HTML report. */
export { renderTable, createColors, shouldColor, type TableColumn, type Colors } from './table.js';
export {
  renderLabText,
  renderLabJson,
  renderStatusCounts,
  renderClientOutcome,
  renderSeconds,
  firstCauseLine,
  renderDoctorVerdict,
  shortenTempPaths,
  type LabTextOptions,
} from './lab-text.js';
export { renderLabHtml, createPhaseCharts, escapeHtml, jsonForScript, readUplotAssets, type ChartSpec, type ChartSeries } from './html.js';
export { renderLabMatrix, matrixRunsOf, logFlag, type MatrixRun } from './lab-matrix.js';
