import { createProxyLogClassifier } from '../classify.js';
import { LINE, type FormatClassifier } from './types.js';

/** `YYYY/MM/DD HH:MM:SS [` — the start of every nginx error-log line (cheap: three char codes). */
export function looksLikeNginxErrorLine(line: string): boolean {
  return (
    line.length > 22 &&
    line.charCodeAt(4) === 47 /* / */ &&
    line.charCodeAt(10) === 32 &&
    line.charCodeAt(20) === 91 /* [ */
  );
}

/** nginx's error log (and the built-in proxy's) through the memoising pattern classifier of classify.ts. */
export function createNginxClassifier(): FormatClassifier {
  const classifier = createProxyLogClassifier();
  return {
    format: 'nginx',
    classify(line, into) {
      if (!looksLikeNginxErrorLine(line)) return LINE.FOREIGN;
      return classifier.classify(line, into) ? LINE.FAILURE : LINE.OK;
    },
  };
}
