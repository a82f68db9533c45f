import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transcriptMetrics } from '#core/transcript-metrics.js';
import type { TranscriptTurn } from '#core/types.js';

const turn = (role: string, time: number | null, extra: Partial<TranscriptTurn> = {}): TranscriptTurn => ({
  role,
  message: `${role} says something`,
  time_in_call_secs: time,
  ...extra,
});

describe('transcriptMetrics', () => {
  it('counts agent and user turns, and no other role', () => {
    // Arrange
    const turns = [turn('agent', 0), turn('user', 2), turn('system', 3), turn('agent', 4), turn('unknown', 5), turn('agent', 6)];

    // Act
    const m = transcriptMetrics(turns);

    // Assert
    expect(m.agent_turns).toBe(3);
    expect(m.user_turns).toBe(1);
  });

  it('counts interrupted turns of either side, only when interrupted is true', () => {
    const turns = [turn('agent', 0, { interrupted: true }), turn('user', 1, { interrupted: false }), turn('user', 2, { interrupted: true }), turn('agent', 3)];
    expect(transcriptMetrics(turns).interruptions).toBe(2);
  });

  it('averages the gap from each user turn to the agent turn that follows it', () => {
    // Arrange: gaps 2 s and 3 s
    const turns = [turn('user', 0), turn('agent', 2), turn('user', 10), turn('agent', 13)];

    // Act / Assert
    expect(transcriptMetrics(turns).mean_agent_response_gap_seconds).toBe(2.5);
  });

  it('ignores agent→agent, agent→user and user→user transitions', () => {
    // Arrange: only user@5 → agent@6 is a response
    const turns = [turn('agent', 0), turn('user', 5), turn('agent', 6), turn('agent', 20), turn('user', 30), turn('user', 31)];

    // Act / Assert
    expect(transcriptMetrics(turns).mean_agent_response_gap_seconds).toBe(1);
  });

  it('does not pair turns across a turn of another role', () => {
    const turns = [turn('user', 0), turn('system', 1), turn('agent', 5)];
    expect(transcriptMetrics(turns).mean_agent_response_gap_seconds).toBeNull();
  });

  it('ignores negative gaps (clock skew) and turns without a time', () => {
    // Arrange: user@10 → agent@5 is negative; null times are skipped; only user@20 → agent@24 counts
    const turns = [turn('user', 10), turn('agent', 5), turn('user', null), turn('agent', 7), turn('user', 8), turn('agent', null), turn('user', 20), turn('agent', 24)];

    // Act / Assert
    expect(transcriptMetrics(turns).mean_agent_response_gap_seconds).toBe(4);
  });

  it('counts a zero gap', () => {
    expect(transcriptMetrics([turn('user', 3), turn('agent', 3)]).mean_agent_response_gap_seconds).toBe(0);
  });

  it('rounds the mean to milliseconds', () => {
    // 0.3 - 0.1 is 0.19999999999999998 in floating point
    expect(transcriptMetrics([turn('user', 0.1), turn('agent', 0.3)]).mean_agent_response_gap_seconds).toBe(0.2);
    expect(transcriptMetrics([turn('user', 0), turn('agent', 1), turn('user', 1), turn('agent', 2), turn('user', 2), turn('agent', 2)]).mean_agent_response_gap_seconds).toBe(0.667);
  });

  it('gives zeros and a null gap for an empty transcript', () => {
    expect(transcriptMetrics([])).toEqual({ agent_turns: 0, user_turns: 0, interruptions: 0, mean_agent_response_gap_seconds: null });
  });

  it('keeps the mean gap between the smallest and largest response gap (property)', () => {
    const turnArb = fc.record({
      role: fc.constantFrom('agent', 'user', 'system'),
      time: fc.option(fc.integer({ min: 0, max: 600 })),
    });
    fc.assert(
      fc.property(fc.array(turnArb, { maxLength: 20 }), (spec) => {
        const turns = spec.map((s) => turn(s.role, s.time));
        const gaps: number[] = [];
        for (let i = 1; i < turns.length; i++) {
          const [p, t] = [turns[i - 1]!, turns[i]!];
          if (p.role === 'user' && t.role === 'agent' && p.time_in_call_secs !== null && t.time_in_call_secs !== null) {
            const g = t.time_in_call_secs - p.time_in_call_secs;
            if (g >= 0) gaps.push(g);
          }
        }
        const m = transcriptMetrics(turns);
        expect(m.agent_turns).toBe(spec.filter((s) => s.role === 'agent').length);
        expect(m.user_turns).toBe(spec.filter((s) => s.role === 'user').length);
        if (gaps.length === 0) expect(m.mean_agent_response_gap_seconds).toBeNull();
        else {
          expect(m.mean_agent_response_gap_seconds).toBeGreaterThanOrEqual(Math.min(...gaps));
          expect(m.mean_agent_response_gap_seconds).toBeLessThanOrEqual(Math.max(...gaps));
        }
      }),
      { numRuns: 100 },
    );
  });
});
