import { expect } from 'chai';
import { assign, owner, owners, type AgentSlot } from '../../src/agents/assignment.js';

const checks = Array.from({ length: 300 }, (_, i) => ({ id: `check-${i}` }));
const three: AgentSlot[] = [
  { id: 'ward-a-1', role: 'all' },
  { id: 'ward-b-1', role: 'all' },
  { id: 'ward-c-1', role: 'probe' },
];

describe('assignment: rendezvous hashing of checks over live agents', () => {
  it('spreads 300 checks over 3 agents roughly evenly', () => {
    const byOwner = assign(checks, three);
    expect(byOwner.get(undefined)).to.equal(undefined);
    for (const agent of three) expect(byOwner.get(agent.id)?.length ?? 0).to.be.within(70, 130);
  });

  it('moves only the checks of the agent that left', () => {
    const before = new Map(checks.map((c) => [c.id, owner(c, three)]));
    const two = three.filter((a) => a.id !== 'ward-b-1');
    for (const c of checks) {
      const now = owner(c, two);
      if (before.get(c.id) === 'ward-b-1') expect(now).to.be.oneOf(['ward-a-1', 'ward-c-1']);
      else expect(now).to.equal(before.get(c.id));
    }
  });

  it('gives the same answer whatever the order of the live set', () => {
    const reversed = [...three].reverse();
    for (const c of checks) expect(owner(c, reversed)).to.equal(owner(c, three));
  });

  it('runs a check with agent: only on that agent', () => {
    for (const c of checks.slice(0, 50)) expect(owner({ ...c, agent: 'ward-b-1' }, three)).to.equal('ward-b-1');
  });

  it('runs a check with agent: nowhere while that agent is not live', () => {
    expect(owner({ id: 'hl7-adt', agent: 'interface-server-1' }, three)).to.equal(undefined);
  });

  it('shares a check with site: only among live agents of that site', () => {
    const sited: AgentSlot[] = [
      { id: 'n1', site: 'north', role: 'all' },
      { id: 'n2', site: 'north', role: 'all' },
      { id: 's1', site: 'south', role: 'all' },
    ];
    const owners = new Set(checks.map((c) => owner({ ...c, site: 'north' }, sited)));
    expect([...owners].sort()).to.deep.equal(['n1', 'n2']);
    expect(owner({ id: 'x', site: 'east' }, sited)).to.equal(undefined);
  });

  it('gives no check to a worker agent', () => {
    const withWorker: AgentSlot[] = [...three, { id: 'worker-1', role: 'worker' }];
    expect(assign(checks, withWorker).get('worker-1')).to.equal(undefined);
    expect(owner({ id: 'c', agent: 'worker-1' }, withWorker)).to.equal(undefined);
  });

  it('runs a check with quorum: on one agent of each site, and moves it within its site only', () => {
    const sites: AgentSlot[] = [
      { id: 'north-1', site: 'north', role: 'all' }, { id: 'north-2', site: 'north', role: 'all' },
      { id: 'south-1', site: 'south', role: 'all' }, { id: 'solo', role: 'all' }, { id: 'w', site: 'south', role: 'worker' },
    ];
    const runners = owners({ id: 'ehr', quorum: 2 }, sites);
    // One per site; an agent with no site is a site of its own; a worker runs nothing.
    expect(runners.filter((id) => id.startsWith('north'))).to.have.length(1);
    expect(runners.filter((id) => !id.startsWith('north')).sort()).to.deep.equal(['solo', 'south-1']);
    const north = runners.find((id) => id.startsWith('north'))!;
    const after = owners({ id: 'ehr', quorum: 2 }, sites.filter((a) => a.id !== north));
    expect(after.sort()).to.deep.equal([north === 'north-1' ? 'north-2' : 'north-1', 'solo', 'south-1']);
    expect(assign([{ id: 'ehr', quorum: 2 }], sites).get('south-1')).to.deep.equal(['ehr']);
  });
});
