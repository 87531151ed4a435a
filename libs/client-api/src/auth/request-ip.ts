/** The address a request came from, as Fastify reports it. */
export function requestIp(request: { ip?: string }): string {
  return request.ip && request.ip.length > 0 ? request.ip : 'unknown';
}
