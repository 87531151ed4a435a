/** Our signing keys, other servers' keys (fetch, cache, notary), X-Matrix request signing and checking, server discovery and the federation allow and deny lists. */
export * from './our-keys';
export * from './server-resolution';
export * from './well-known';
export * from './server-policy';
export * from './federation-client';
export * from './key-fetcher';
export * from './key-store';
export * from './key-ring';
export * from './request-authenticator';
export * from './federation-keys';
export * from './keys.module';
