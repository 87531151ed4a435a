export * from './ed25519';
export * from './sign-json';
export * from './key-file';
