export * from './base64';
export * from './canonical-json';
