/** Cross-signing keys and the signatures made with them. */
export * from './cross-signing.service';
