export * from './default-rules';
export * from './ruleset';
export * from './evaluate';
