/** The /sync query side: sync service, notifier, typing and presence stores, sources, Nest module. */
export * from './sources';
export * from './typing';
export * from './presence';
export * from './presence-federation';
export * from './filter';
export * from './notifier';
export * from './unread';
export * from './lazy-members';
export * from './ignored-users';
export * from './sync.service';
export * from './legacy';
export * from './event-format';
export { SyncQueryError, type ClientEvent, type RoomEventFilter } from '@hs/projections/sync';
export * from './queries';
export * from './search';
export * from './user-directory';
export * from './handlers';
export * from './read-models';
export * from './sync.module';
export {
  SyncQueries,
  relationOf,
  type Viewer,
  type MessagesResponse,
  type ContextResponse,
  type JoinedMember,
  type RelationsRequest,
  type RelationsResponse,
  type ThreadsRequest,
  type ThreadsResponse,
} from '@hs/projections/sync';
