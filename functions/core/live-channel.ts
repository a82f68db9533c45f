/**
 * Channels of the live stream on AWS (AppSync Events, namespace `live`): each bus event goes to
 *
 *   /live/<detail-type>/<agent_id>/<conversation_id>
 *
 * e.g. `/live/conversation-started/agent-7/conv-123`. AppSync subscriptions may end in a wildcard,
 * so a client picks what it receives: `/live/*` (everything), `/live/conversation-alert/*` (one
 * detail-type), `/live/conversation-alert/agent-7/*` (one type of one agent), or one exact channel.
 * Segments allow only letters, digits and `-` (at most 50): other characters become `-`, and an
 * event without the field has `none`. Sanitized ids can collide, so a client filters on `detail`.
 */
import type { DetailType } from './bus-events.js';

export const LIVE_NAMESPACE = 'live';
export const NO_VALUE_SEGMENT = 'none';
const MAX_SEGMENT = 50;

/** A channel segment for any string: `Conversation Started` → `conversation-started`. */
export function channelSegment(value: unknown, { lowerCase = false } = {}): string {
  if (typeof value !== 'string') return NO_VALUE_SEGMENT;
  let s = value.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+/, '').slice(0, MAX_SEGMENT).replace(/-+$/, '');
  if (lowerCase) s = s.toLowerCase();
  return s === '' ? NO_VALUE_SEGMENT : s;
}

/** The segment a detail-type is published under (`Conversation Alert` → `conversation-alert`). */
export const detailTypeSegment = (detailType: DetailType | string): string => channelSegment(detailType, { lowerCase: true });

/** The channel an EventBridge envelope is published to. */
export function liveChannel(envelope: { 'detail-type': string; detail?: Record<string, unknown> | null }): string {
  const detail = envelope.detail ?? {};
  return `/${LIVE_NAMESPACE}/${detailTypeSegment(envelope['detail-type'])}/${channelSegment(detail.agent_id)}/${channelSegment(detail.conversation_id)}`;
}
