import { clientPaths, clientV1Paths } from './prefixes';

describe('client API paths', () => {
  it('serves v3 endpoints under v3 and r0', () => {
    expect(clientPaths('account/whoami')).toEqual(['_matrix/client/v3/account/whoami', '_matrix/client/r0/account/whoami']);
    expect(clientPaths('/rooms/:roomId/send')).toEqual(['_matrix/client/v3/rooms/:roomId/send', '_matrix/client/r0/rooms/:roomId/send']);
  });

  it('serves v1 endpoints under v1 only', () => {
    expect(clientV1Paths('register/m.login.registration_token/validity')).toEqual(['_matrix/client/v1/register/m.login.registration_token/validity']);
  });
});
