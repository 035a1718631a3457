/**
 * HTTP/1.1 on the wire, in one place: the response parser every client of badgateway uses
 * (the built-in proxy's upstream leg; the load engine) and nginx's request rules the built-in
 * proxy enforces before anything reaches an upstream.
 */
export {
  ResponseParser,
  type Framing,
  type ResponseEvents,
  type ResponseHead,
  type ResponseParseError,
  type ResponseErrorReason,
  type ResponseParserOptions,
} from './response-parser.js';
export {
  REQUEST_LIMITS,
  checkRequestHeaders,
  escapeLogValue,
  parseRequestTarget,
  rejectParserError,
  renderRejection,
  validateHost,
  type ParserError,
  type RequestHeaderFacts,
  type RequestRejection,
  type RequestStage,
  type RequestTarget,
} from './request.js';
