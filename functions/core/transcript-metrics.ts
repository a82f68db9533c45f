import type { TranscriptMetrics, TranscriptTurn } from './types.js';

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Metrics the platform does not give: turns per side, interruptions, and the mean time the agent
 * took to answer (from a user turn's start to the start of the agent turn that follows it).
 */
export function transcriptMetrics(turns: readonly TranscriptTurn[]): TranscriptMetrics {
  let agent = 0;
  let user = 0;
  let interruptions = 0;
  const gaps: number[] = [];
  let prev: TranscriptTurn | undefined;
  for (const t of turns) {
    if (t.role === 'agent') agent++;
    else if (t.role === 'user') user++;
    if (t.interrupted === true) interruptions++;
    if (t.role === 'agent' && prev?.role === 'user' && t.time_in_call_secs !== null && prev.time_in_call_secs !== null) {
      const gap = t.time_in_call_secs - prev.time_in_call_secs;
      if (gap >= 0) gaps.push(gap);
    }
    prev = t;
  }
  return {
    agent_turns: agent,
    user_turns: user,
    interruptions,
    mean_agent_response_gap_seconds: gaps.length ? round3(gaps.reduce((a, b) => a + b, 0) / gaps.length) : null,
  };
}
