/** The address a request came from, as Fastify reports it. */
export function requestIp(request: { ip?: string }): string {
  return request.ip && request.ip.length > 0 ? request.ip : 'unknown';
}

/** The User-Agent header of a request (the first, when repeated). */
export function requestUserAgent(request: { headers?: Record<string, string | string[] | undefined> }): string | undefined {
  const header = request.headers?.['user-agent'];
  return Array.isArray(header) ? header[0] : header;
}
