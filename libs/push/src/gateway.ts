/**
 * The body of `POST /_matrix/push/v1/notify` (push gateway API) for one notification and the
 * pushers of its user that share a gateway URL, and the HTTP call that sends it.
 */
import type { ClientEvent } from '@hs/projections/sync';
import type { PusherRecord } from '@hs/projections/push';

export interface NotifyDevice {
  app_id: string;
  pushkey: string;
  pushkey_ts: number;
  data: Record<string, unknown>;
  tweaks: Record<string, unknown>;
}

export interface NotifyBody {
  notification: {
    /** Absent in a badge update (counts only). */
    event_id?: string;
    /** The event id again, under the name push gateways written for older servers read (Synapse sends it too). */
    id?: string;
    room_id?: string;
    type?: string;
    sender?: string;
    sender_display_name?: string;
    room_name?: string;
    room_alias?: string;
    user_is_target?: boolean;
    /** For a member event, its membership (push gateways word invites from it; Synapse sends it too). */
    membership?: string;
    prio?: 'high' | 'low';
    content?: Record<string, unknown>;
    counts: { unread: number };
    devices: NotifyDevice[];
  };
}

export interface NotificationDetails {
  event: ClientEvent;
  /** The notification's actions (for the tweaks). */
  actions: readonly unknown[];
  highlight: boolean;
  /** The user it is for. */
  userId: string;
  senderDisplayName?: string | undefined;
  roomName?: string | undefined;
  roomAlias?: string | undefined;
  /** The user's unread notifications across their rooms. */
  unread: number;
}

/** The tweaks of the actions (`set_tweak`), highlight included, as the gateway gets them. */
export function tweaksOf(actions: readonly unknown[]): Record<string, unknown> {
  const tweaks: Record<string, unknown> = {};
  for (const action of actions) {
    if (typeof action === 'object' && action !== null && typeof (action as { set_tweak?: unknown }).set_tweak === 'string') {
      const { set_tweak: name, value } = action as { set_tweak: string; value?: unknown };
      tweaks[name] = name === 'highlight' && value === undefined ? true : value;
    }
  }
  return tweaks;
}

/** The pusher's `data` without `url`, as the gateway gets it. */
export function deviceData(pusher: PusherRecord): Record<string, unknown> {
  const { url: _url, ...data } = pusher.data;
  return data;
}

/**
 * The notify body for pushers that share one gateway URL and one `format`: the whole event
 * unless the format is `event_id_only`.
 */
export function notifyBody(details: NotificationDetails, pushers: readonly PusherRecord[]): NotifyBody {
  const tweaks = tweaksOf(details.actions);
  const event = details.event;
  const eventIdOnly = pushers.some((p) => p.data.format === 'event_id_only');
  const prio: 'high' | 'low' = details.highlight || tweaks.sound !== undefined ? 'high' : 'low';
  const devices = pushers.map((p) => ({ app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: Math.floor(p.pushkeyTs / 1000), data: deviceData(p), tweaks }));
  if (eventIdOnly) {
    return { notification: { event_id: event.event_id, room_id: event.room_id, prio, counts: { unread: details.unread }, devices } };
  }
  const notification: NotifyBody['notification'] = {
    event_id: event.event_id,
    id: event.event_id,
    room_id: event.room_id,
    type: event.type,
    sender: event.sender,
    prio,
    content: event.content,
    counts: { unread: details.unread },
    devices,
  };
  if (details.senderDisplayName !== undefined) notification.sender_display_name = details.senderDisplayName;
  if (details.roomName !== undefined) notification.room_name = details.roomName;
  if (details.roomAlias !== undefined) notification.room_alias = details.roomAlias;
  if (event.type === 'm.room.member') {
    notification.user_is_target = event.state_key === details.userId;
    const membership = (event.content as { membership?: unknown }).membership;
    if (typeof membership === 'string') notification.membership = membership;
  }
  return { notification };
}

/**
 * A badge update: the user's unread count alone, without an event, sent when they read
 * something so that their devices' badges go down.
 */
export function badgeBody(unread: number, pushers: readonly PusherRecord[]): NotifyBody {
  const devices = pushers.map((p) => ({ app_id: p.app_id, pushkey: p.pushkey, pushkey_ts: Math.floor(p.pushkeyTs / 1000), data: deviceData(p), tweaks: {} }));
  return { notification: { counts: { unread }, devices } };
}

/** What the gateway answered: delivered (with the pushkeys it rejected), or a failure worth retrying. */
export type NotifyResult = { ok: true; rejected: string[] } | { ok: false; retry: boolean; reason: string };

/** Calls a gateway: 2xx is delivered; 5xx, 429 and network errors are retried; other answers are not. */
export async function postNotify(url: string, body: NotifyBody, timeoutMs: number, signal?: AbortSignal): Promise<NotifyResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    return { ok: false, retry: true, reason: (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable' };
  }
  if (response.status >= 200 && response.status < 300) {
    let rejected: string[] = [];
    try {
      const answer = (await response.json()) as { rejected?: unknown };
      if (Array.isArray(answer?.rejected)) rejected = answer.rejected.filter((key): key is string => typeof key === 'string');
    } catch {
      // A gateway that answers 2xx without a JSON body rejected nothing.
    }
    return { ok: true, rejected };
  }
  await response.body?.cancel().catch(() => undefined);
  const retry = response.status >= 500 || response.status === 429;
  return { ok: false, retry, reason: `HTTP ${response.status}` };
}
