/**
 * Builders of ThreeTone webhook envelopes (`{event, timestamp, data}`, README "The webhook contract"), shared by the
 * tests and the local sender/demo. Pure: no clock reads unless no timestamp is given.
 */
import { parseTimestamp } from '#core/envelope.js';
import { eventKey } from '#core/event-key.js';
import type { Envelope } from '#core/types.js';

/** One webhook envelope. `timestamp` defaults to now (ISO-8601), which the replay window accepts. */
export function envelope(event: string, data: Record<string, unknown>, timestamp: string | number = new Date().toISOString()): Envelope {
  return { event, timestamp, data };
}

/** An envelope as the processor stores it: with its key and parsed time (a `FoldableEvent`). */
export function stored(env: Envelope, receivedAt = '2024-01-15T12:00:00.000Z') {
  const timestampMs = parseTimestamp(env.timestamp);
  if (timestampMs === null) throw new Error(`stored(): unparseable timestamp ${String(env.timestamp)}`);
  return { envelope: env, key: eventKey(env), timestampMs, receivedAt };
}

export interface ConversationScriptOptions {
  conversationId?: string;
  agentId?: string;
  callId?: string;
  /** When the conversation starts: ISO-8601 or epoch milliseconds. Default 2024-01-15T10:30:00Z. */
  start?: string | number;
  /** Seconds from start to end. Default 180. */
  durationSeconds?: number;
  direction?: 'inbound' | 'outbound' | 'web';
  phoneNumber?: string;
  /** Adds an `escalation_triggered` (`true`: halfway, reason "customer asked for a human"). */
  escalate?: boolean | { reason?: string; afterSeconds?: number };
  /** Which event family to send: `conversation_*`, `call_*`, or both. Default "conversation". */
  family?: 'conversation' | 'call' | 'both';
  /** Stop after the start (and escalation): a conversation still in progress. Default false. */
  ongoing?: boolean;
  /** Envelope timestamps as ISO-8601 (default) or Unix seconds. */
  timestampFormat?: 'iso' | 'unix';
}

/**
 * The webhooks of one realistic conversation, in chronological order: started, optional
 * escalation, ended (conversation_* and/or call_* variants). Shuffle it to test order independence.
 */
export function conversationScript(opts: ConversationScriptOptions = {}): Envelope[] {
  const conversationId = opts.conversationId ?? 'conv_0001';
  const agentId = opts.agentId ?? 'agent_support';
  const callId = opts.callId ?? `call_${conversationId}`;
  const startMs = opts.start === undefined ? Date.UTC(2024, 0, 15, 10, 30) : typeof opts.start === 'number' ? opts.start : Date.parse(opts.start);
  if (!Number.isFinite(startMs)) throw new Error(`conversationScript(): bad start ${String(opts.start)}`);
  const duration = opts.durationSeconds ?? 180;
  const direction = opts.direction ?? 'inbound';
  const phone = opts.phoneNumber ?? '+15555550100';
  const family = opts.family ?? 'conversation';
  const at = (offsetSecs: number): string | number => {
    const ms = startMs + offsetSecs * 1000;
    return opts.timestampFormat === 'unix' ? ms / 1000 : new Date(ms).toISOString();
  };

  const out: Envelope[] = [];
  if (family !== 'conversation') {
    out.push(envelope('call_started', { call_id: callId, conversation_id: conversationId, agent_id: agentId, phone_number: phone, caller_id: phone, direction }, at(0)));
  }
  if (family !== 'call') {
    out.push(envelope('conversation_started', { conversation_id: conversationId, agent_id: agentId, call_id: callId, direction, phone_number: phone }, at(0)));
  }
  if (opts.escalate) {
    const e = opts.escalate === true ? {} : opts.escalate;
    const after = e.afterSeconds ?? Math.floor(duration / 2);
    out.push(
      envelope(
        'escalation_triggered',
        { conversation_id: conversationId, agent_id: agentId, reason: e.reason ?? 'customer asked for a human', escalated_at: new Date(startMs + after * 1000).toISOString() },
        at(after),
      ),
    );
  }
  if (opts.ongoing) return out;
  if (family !== 'call') {
    out.push(envelope('conversation_ended', { conversation_id: conversationId, agent_id: agentId, call_id: callId, duration_seconds: duration }, at(duration)));
  }
  if (family !== 'conversation') {
    out.push(envelope('call_ended', { call_id: callId, conversation_id: conversationId, agent_id: agentId, duration }, at(duration)));
  }
  return out;
}
