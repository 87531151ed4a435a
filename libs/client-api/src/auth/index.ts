export * from './authenticated-user';
export * from './access-token';
export * from './access-token.guard';
export * from './decorators';
