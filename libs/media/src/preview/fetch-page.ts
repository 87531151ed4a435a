/**
 * Fetches a URL for a preview with node's HTTP client: http and https only, every address the
 * host name resolves to checked against the deny list before connecting (the connection uses
 * the checked address, so a DNS answer cannot change in between), redirects followed (at most
 * 5, each checked again), the body cut off at a byte limit, a time limit on the whole fetch.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { MediaError } from '../errors';
import { inRanges, type IpRange } from './ip-ranges';

export interface FetchedPage {
  url: URL;
  status: number;
  contentType: string;
  body: Buffer;
}

export interface FetchPageOptions {
  denied: readonly IpRange[];
  maxBytes: number;
  timeoutMs: number;
  userAgent: string;
}

function deniedError(): MediaError {
  return new MediaError('M_FORBIDDEN', 'The server may not fetch this URL (its address is on the deny list)');
}

/** A `lookup` for node's HTTP client that refuses denied addresses. */
function checkedLookup(denied: readonly IpRange[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      if (list.length === 0 || list.some((address) => inRanges(address.address, denied))) {
        return callback(Object.assign(new Error('denied address'), { code: 'EDENIED' }), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

function getOnce(url: URL, options: FetchPageOptions, deadline: number): Promise<{ response: IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && inRanges(host, options.denied)) return reject(deniedError());
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'GET', lookup: checkedLookup(options.denied), headers: { 'user-agent': options.userAgent, accept: 'text/html, image/*;q=0.9, */*;q=0.5' } }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          request.destroy(new MediaError('M_TOO_LARGE', 'The page is too large to preview'));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ response, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.setTimeout(Math.max(1, deadline - Date.now()), () => request.destroy(new MediaError('M_UNKNOWN', 'The page took too long to answer', {}, 504)));
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof MediaError) return reject(error);
      if (error.code === 'EDENIED') return reject(deniedError());
      reject(new MediaError('M_UNKNOWN', `The page could not be fetched (${error.code ?? 'error'})`, {}, 502));
    });
    request.end();
  });
}

export async function fetchPage(target: URL, options: FetchPageOptions): Promise<FetchedPage> {
  const deadline = Date.now() + options.timeoutMs;
  let url = target;
  for (let hop = 0; hop <= 5; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw MediaError.invalidParam('Only http and https URLs can be previewed');
    const { response, body } = await getOnce(url, options, deadline);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    return { url, status, contentType: String(response.headers['content-type'] ?? 'application/octet-stream'), body };
  }
  throw new MediaError('M_UNKNOWN', 'Too many redirects', {}, 502);
}
