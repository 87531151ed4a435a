/**
 * EDUs of other servers about end-to-end encryption (server-server-api.md "End-to-End
 * Encryption", "Send-to-device messaging"): to-device messages for our users'
 * (`m.direct_to_device`), and announcements that a remote user's devices or cross-signing keys
 * changed (`m.device_list_update`, `m.signing_key_update`), which local users sharing a room
 * with that user then see in /sync `device_lists.changed` and query again (remote keys are
 * always asked of their server, never answered from a copy). A server speaks only for its own
 * users; anything else is ignored.
 */
import type { DeviceKeysService } from '../device-keys.service';
import type { DirectToDevice, ToDeviceService } from '../to-device.service';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function serverOf(userId: unknown): string | undefined {
  if (typeof userId !== 'string' || !userId.startsWith('@')) return undefined;
  const colon = userId.indexOf(':');
  return colon > 1 ? userId.slice(colon + 1) : undefined;
}

export class E2eeFederationInbound {
  constructor(
    private readonly keys: DeviceKeysService,
    private readonly toDevice: ToDeviceService,
  ) {}

  /** Handles one EDU of `origin`; false when it is not an e2ee EDU. */
  async receiveEdu(origin: string, eduType: unknown, content: unknown): Promise<boolean> {
    if (eduType !== 'm.direct_to_device' && eduType !== 'm.device_list_update' && eduType !== 'm.signing_key_update') return false;
    if (!isObject(content) || serverOf(content.sender ?? content.user_id) !== origin) return true;
    if (eduType === 'm.direct_to_device') {
      const { sender, type, message_id: messageId, messages } = content;
      if (typeof sender !== 'string' || typeof type !== 'string' || typeof messageId !== 'string' || !isObject(messages)) return true;
      if (type.length > 255 || messageId.length > 255 || [sender, type, messageId].some((text) => text.includes('\u0000'))) return true;
      await this.toDevice.receive(origin, { sender, type, message_id: messageId, messages: messages as DirectToDevice['messages'] });
      return true;
    }
    if ((content.user_id as string).includes('\u0000')) return true;
    await this.keys.remoteDeviceListChanged(content.user_id as string);
    return true;
  }
}
