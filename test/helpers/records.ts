/**
 * One conversation record fixture for the tests that need a whole record: an ended, enriched
 * conversation with every field of the public record, changed by `overrides`.
 */
import type { ConversationRecord } from '#core/types.js';

export function conversationRecord(overrides: Partial<ConversationRecord> = {}): ConversationRecord {
  return {
    conversation_id: 'conv_1',
    agent_id: 'agent_a',
    call_id: null,
    status: 'ended',
    direction: 'inbound',
    started_at: '2024-03-01T10:00:00.000Z',
    ended_at: '2024-03-01T10:05:00.000Z',
    duration_seconds: 300,
    turn_count: 4,
    resolution_status: 'resolved',
    satisfaction_score: 4.5,
    topics: ['billing'],
    escalated: false,
    escalation_reason: null,
    alerts: [],
    transcript_turns: 2,
    summary: null,
    details_stored: true,
    enrichment: 'done',
    derived: [],
    metrics: null,
    ...overrides,
  };
}
