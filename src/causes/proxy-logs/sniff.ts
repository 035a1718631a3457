import { BadgatewayError, ERROR_CODES } from '../../errors/index.js';
import { createAlbClassifier } from './alb.js';
import { createCaddyClassifier } from './caddy.js';
import { createEnvoyClassifier } from './envoy.js';
import { createHaproxyClassifier } from './haproxy.js';
import { createNginxClassifier } from './nginx.js';
import { createTraefikClassifier } from './traefik.js';
import {
  FORMAT_NAMES,
  LINE,
  PROXY_LOG_FORMATS,
  type FormatClassifier,
  type LineKind,
  type ProxyLogFormat,
} from './types.js';

const FACTORIES: Readonly<Record<ProxyLogFormat, () => FormatClassifier>> = {
  nginx: createNginxClassifier,
  haproxy: createHaproxyClassifier,
  caddy: createCaddyClassifier,
  envoy: createEnvoyClassifier,
  traefik: createTraefikClassifier,
  alb: createAlbClassifier,
};

/** The classifier of one format. */
export function createFormatClassifier(format: ProxyLogFormat): FormatClassifier {
  const factory = FACTORIES[format];
  if (!factory)
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `unknown log format ${JSON.stringify(format)} (known: ${PROXY_LOG_FORMATS.join(', ')}, auto)`,
    );
  return factory();
}

/** A format, or `auto`: each line in the first format it is a line of. */
export type ProxyLogFormatChoice = ProxyLogFormat | 'auto';

/** What a {@link LogLineClassifier} says about one line: its kind and, unless foreign, its format. */
export interface SniffedLine {
  kind: LineKind;
  format: ProxyLogFormat | null;
}

/** Classifies lines of one format, or of any (sniffed line by line). */
export interface LogLineClassifier {
  readonly formats: readonly ProxyLogFormat[];
  classify(line: string, into: Parameters<FormatClassifier['classify']>[1]): SniffedLine;
}

/**
 * Creates the classifier for `choice`. With `auto` every line is tried in each format, the format
 * of the previous line first (a log is mostly one format, so a line costs one try), so a stream that
 * mixes nginx, HAProxy and ALB lines loses none of them.
 */
export function createLogLineClassifier(choice: ProxyLogFormatChoice): LogLineClassifier {
  const formats = choice === 'auto' ? [...PROXY_LOG_FORMATS] : [choice];
  const classifiers = formats.map(createFormatClassifier);
  let last = 0;
  const out: SniffedLine = { kind: LINE.FOREIGN, format: null };
  return {
    formats,
    classify(line, into) {
      const first = classifiers[last]!;
      let kind = first.classify(line, into);
      if (kind !== LINE.FOREIGN) {
        out.kind = kind;
        out.format = first.format;
        return out;
      }
      for (let i = 0; i < classifiers.length; i++) {
        if (i === last) continue;
        kind = classifiers[i]!.classify(line, into);
        if (kind !== LINE.FOREIGN) {
          last = i;
          out.kind = kind;
          out.format = classifiers[i]!.format;
          return out;
        }
      }
      out.kind = LINE.FOREIGN;
      out.format = null;
      return out;
    },
  };
}

/** `nginx error log, HAProxy httplog, …`: the formats a reader tried, for the error of a log in none of them. */
export function describeFormats(formats: readonly ProxyLogFormat[]): string {
  return formats.map((f) => FORMAT_NAMES[f]).join(', ');
}
