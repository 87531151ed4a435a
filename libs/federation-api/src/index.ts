/** The server-server API: key publication and notary endpoints, the version endpoint, and the X-Matrix guard. */
export * from './tokens';
export * from './auth/x-matrix.guard';
export * from './keys/key-server.controller';
export * from './keys/key-query.controller';
export * from './version/version.controller';
export * from './federation-api.module';
export * from './rooms/federation-rooms-api.module';
export * from './rooms/room-membership.controllers';
export * from './read-api.options';
export * from './read-api.module';
export * from './media/media.controller';
