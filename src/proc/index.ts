/** Linux facts about processes and sockets, as plain data (read from /proc and `ss`). */
export {
  readFdStats,
  readFdLimits,
  countFds,
  parseNofileLimits,
  classifyFdTarget,
  type FdKind,
  type FdLimits,
  type FdStats,
} from './fds.js';
