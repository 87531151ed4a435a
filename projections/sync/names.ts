/** The sync projection's name (its schemas are `proj_sync` and `proj_sync_<generation>`). */
export const SYNC_PROJECTION = 'sync';
