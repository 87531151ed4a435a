import { MatrixError } from '@hs/http';
import { RemoteRefusalError, RoomCommandError } from '@hs/room';
import { toClientError } from './params';

describe('toClientError', () => {
  it('keeps the further fields of a room error (room_version of M_INCOMPATIBLE_ROOM_VERSION)', () => {
    const error = toClientError(new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', 'upgrade', undefined, undefined, { room_version: '12' }));
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).status).toBe(400);
    expect((error as MatrixError).toJSON()).toEqual({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: 'upgrade', room_version: '12' });
  });

  it('passes another server\'s refusal on with its errcode and status', () => {
    const error = toClientError(new RemoteRefusalError('M_TEST_ERROR_CODE', 'denied!', 400)) as MatrixError;
    expect([error.status, error.toJSON()]).toEqual([400, { errcode: 'M_TEST_ERROR_CODE', error: 'denied!' }]);
  });
});
