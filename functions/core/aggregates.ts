/**
 * Per-agent daily aggregates, exactly once.
 *
 * A completed conversation *contributes* a small vector to the bucket (agent, UTC day of `ended_at`).
 * The record remembers what it contributed; any later correction applies `delta(old, new)`, so the
 * aggregates always equal the sum of the current contributions. Values are stored as integers
 * (milliseconds, thousandths) so that adding and subtracting is exact in DynamoDB.
 */
import type { ConversationRecord } from './types.js';

export interface Contribution {
  agent_id: string;
  /** UTC day, YYYY-MM-DD. */
  date: string;
  resolved: 0 | 1;
  duration_ms: number | null;
  turns: number | null;
  satisfaction_milli: number | null;
  escalated: 0 | 1;
  topics: string[];
}

/** Integer counters of one agent-day. */
export const COUNTERS = [
  'conversations',
  'resolved',
  'duration_ms_sum',
  'duration_n',
  'turns_sum',
  'turns_n',
  'satisfaction_milli_sum',
  'satisfaction_n',
  'escalations',
] as const;
export type Counter = (typeof COUNTERS)[number];

/** A change to add to one agent-day bucket (negative values subtract). */
export interface AggregateDelta {
  agentId: string;
  date: string;
  counters: Partial<Record<Counter, number>>;
  topics: Record<string, number>;
}

/** A stored agent-day bucket. */
export interface AgentDay {
  date: string;
  counters: Record<Counter, number>;
  topics: Record<string, number>;
}

export const UNKNOWN_AGENT = 'unknown';

export function contributionOf(record: ConversationRecord): Contribution | null {
  // Counted once enriched, or once completed from webhook facts after waiting (`gave_up`).
  if (record.status !== 'ended' || record.enrichment === 'pending' || !record.ended_at) return null;
  return {
    agent_id: record.agent_id ?? UNKNOWN_AGENT,
    date: record.ended_at.slice(0, 10),
    resolved: record.resolution_status === 'resolved' ? 1 : 0,
    duration_ms: record.duration_seconds === null ? null : Math.round(record.duration_seconds * 1000),
    turns: record.turn_count === null ? null : Math.round(record.turn_count),
    satisfaction_milli: record.satisfaction_score === null ? null : Math.round(record.satisfaction_score * 1000),
    escalated: record.escalated ? 1 : 0,
    topics: [...new Set(record.topics)].sort(),
  };
}

function vector(c: Contribution, sign: 1 | -1): AggregateDelta {
  const counters: Partial<Record<Counter, number>> = {
    conversations: sign,
    resolved: sign * c.resolved,
    duration_ms_sum: sign * (c.duration_ms ?? 0),
    duration_n: sign * (c.duration_ms === null ? 0 : 1),
    turns_sum: sign * (c.turns ?? 0),
    turns_n: sign * (c.turns === null ? 0 : 1),
    satisfaction_milli_sum: sign * (c.satisfaction_milli ?? 0),
    satisfaction_n: sign * (c.satisfaction_milli === null ? 0 : 1),
    escalations: sign * c.escalated,
  };
  const topics: Record<string, number> = {};
  for (const t of c.topics) topics[t] = sign;
  return { agentId: c.agent_id, date: c.date, counters, topics };
}

function prune(d: AggregateDelta): AggregateDelta | null {
  const counters: Partial<Record<Counter, number>> = {};
  for (const [k, v] of Object.entries(d.counters)) if (v) counters[k as Counter] = v;
  const topics: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.topics)) if (v) topics[k] = v;
  if (Object.keys(counters).length === 0 && Object.keys(topics).length === 0) return null;
  return { ...d, counters, topics };
}

/** What to add to the aggregates when a conversation's contribution goes from `before` to `after`. */
export function aggregateDelta(before: Contribution | null, after: Contribution | null): AggregateDelta[] {
  if (!before && !after) return [];
  if (!before) return [vector(after!, 1)];
  if (!after) return [vector(before, -1)];
  if (before.agent_id !== after.agent_id || before.date !== after.date) {
    return [vector(before, -1), vector(after, 1)];
  }
  const minus = vector(before, -1);
  const plus = vector(after, 1);
  const counters: Partial<Record<Counter, number>> = {};
  for (const k of COUNTERS) counters[k] = (plus.counters[k] ?? 0) + (minus.counters[k] ?? 0);
  const topics: Record<string, number> = {};
  for (const [k, v] of [...Object.entries(minus.topics), ...Object.entries(plus.topics)]) topics[k] = (topics[k] ?? 0) + v;
  const merged = prune({ agentId: after.agent_id, date: after.date, counters, topics });
  return merged ? [merged] : [];
}

export interface DaySummary {
  date: string;
  conversations: number;
  resolved: number;
  resolution_rate: number | null;
  avg_duration_seconds: number | null;
  avg_turn_count: number | null;
  avg_satisfaction: number | null;
  escalations: number;
  topics: Record<string, number>;
}

export interface AgentMetrics {
  agent_id: string;
  from: string;
  to: string;
  conversations: number;
  resolved: number;
  resolution_rate: number | null;
  avg_duration_seconds: number | null;
  avg_turn_count: number | null;
  avg_satisfaction: number | null;
  escalations: number;
  topics: Record<string, number>;
  days: DaySummary[];
}

const round = (n: number, places = 4) => Math.round(n * 10 ** places) / 10 ** places;
const avg = (sum: number, n: number, scale = 1) => (n > 0 ? round(sum / n / scale) : null);

function summarize(counters: Record<Counter, number>, topics: Record<string, number>) {
  const c = counters;
  return {
    conversations: c.conversations,
    resolved: c.resolved,
    resolution_rate: c.conversations > 0 ? round(c.resolved / c.conversations) : null,
    avg_duration_seconds: avg(c.duration_ms_sum, c.duration_n, 1000),
    avg_turn_count: avg(c.turns_sum, c.turns_n),
    avg_satisfaction: avg(c.satisfaction_milli_sum, c.satisfaction_n, 1000),
    escalations: c.escalations,
    topics: Object.fromEntries(Object.entries(topics).filter(([, v]) => v > 0).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function emptyCounters(): Record<Counter, number> {
  return Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<Counter, number>;
}

/** The agent metrics response of the query API, from the stored day buckets. */
export function agentMetrics(agentId: string, from: string, to: string, days: readonly AgentDay[]): AgentMetrics {
  const total = emptyCounters();
  const topics: Record<string, number> = {};
  const daySummaries: DaySummary[] = [];
  for (const day of [...days].sort((a, b) => a.date.localeCompare(b.date))) {
    if (day.counters.conversations <= 0) continue;
    for (const k of COUNTERS) total[k] += day.counters[k];
    for (const [t, n] of Object.entries(day.topics)) topics[t] = (topics[t] ?? 0) + n;
    daySummaries.push({ date: day.date, ...summarize(day.counters, day.topics) });
  }
  return { agent_id: agentId, from, to, ...summarize(total, topics), days: daySummaries };
}
