import { isMediaRoute, servedRoutes } from './served-routes';

describe('the routes a process answers by its roles', () => {
  const media = ['/_matrix/media/v3/upload', '/_matrix/media/v3/download/:serverName/:mediaId', '/_matrix/media/v1/create', '/_matrix/client/v1/media/thumbnail/:serverName/:mediaId', '/_matrix/client/v1/media/config'];
  const client = ['/_matrix/client/v3/sync', '/_matrix/client/versions', '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId', '/_synapse/admin/v1/media/:serverName/:mediaId', '/_matrix/client/v1/rooms/:roomId/hierarchy'];

  it('tells the content repository from the rest', () => {
    for (const route of media) expect(isMediaRoute(route)).toBe(true);
    for (const route of client) expect(isMediaRoute(route)).toBe(false);
  });

  it('answers everything with both roles, as the single process does', () => {
    expect(servedRoutes(new Set(['client', 'media']))).toBeUndefined();
    expect(servedRoutes(new Set(['client', 'media', 'room-writer', 'projector']))).toBeUndefined();
  });

  it('answers only the content repository with media alone, and health and metrics always', () => {
    const serves = servedRoutes(new Set(['media']))!;
    for (const route of media) expect(serves(route)).toBe(true);
    for (const route of client) expect(serves(route)).toBe(false);
    expect(serves('/health')).toBe(true);
    expect(serves('/metrics')).toBe(true);
  });

  it('answers everything but the content repository with client alone', () => {
    const serves = servedRoutes(new Set(['client', 'room-writer']))!;
    for (const route of media) expect(serves(route)).toBe(false);
    for (const route of client) expect(serves(route)).toBe(true);
    expect(serves('/health')).toBe(true);
  });

  it('answers only health and metrics with neither', () => {
    const serves = servedRoutes(new Set(['projector']))!;
    expect(serves('/_matrix/client/v3/sync')).toBe(false);
    expect(serves('/_matrix/media/v3/upload')).toBe(false);
    expect(serves('/metrics')).toBe(true);
  });
});
