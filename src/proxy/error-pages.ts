/** The responses the built-in proxy makes itself, shaped like nginx's. */

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Time-out',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Time-out',
  505: 'HTTP Version Not Supported',
};

/** nginx's reason phrase for `status` (it says `504 Gateway Time-out` too). */
export const reasonPhrase = (status: number): string => REASONS[status] ?? 'Error';

/** The error page, shaped like nginx's. */
export function errorPage(status: number): string {
  const title = `${status} ${reasonPhrase(status)}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>badgateway</center>\r\n</body>\r\n</html>\r\n`;
}

/**
 * A whole response written straight to a socket, for requests node's parser refused (there is
 * no ServerResponse then): the page and `Connection: close`, as nginx closes after a bad request.
 */
export function renderErrorResponse(status: number): string {
  const page = errorPage(status);
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nServer: badgateway\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(page)}\r\nConnection: close\r\n\r\n${page}`;
}
