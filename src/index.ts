/** badgateway's library surface. Each area's public API, re-exported. */
export * from './errors/index.js';
export * as proc from './proc/index.js';
export * as app from './app/index.js';
export * as causes from './causes/index.js';
export * as lab from './lab/index.js';
export * as report from './report/index.js';
export * as doctor from './doctor/index.js';
export * as guard from './guard/index.js';
export * as load from './load/index.js';
export * as proxy from './proxy/index.js';
export * as metrics from './metrics/index.js';
export * as mixin from './mixin/index.js';
