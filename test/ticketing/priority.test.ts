import { expect } from 'chai';
import type { ProfileConfig } from '../../src/config/types.js';
import { parseWorkingHours, isWithinHours } from '../../src/core/working-hours.js';
import { isWorking, priorityOf, urgencyOf } from '../../src/ticketing/priority.js';

const profile = (hours: string, urgency: 1 | 2 | 3, timezone = 'America/Chicago', closed: string[] = []): ProfileConfig => ({ name: 'p', hours: parseWorkingHours(hours), hoursText: hours, timezone, urgency, closed: new Set(closed) });

describe('clinical priority', () => {
  it('follows the ITIL impact × urgency matrix', () => {
    const grid = [1, 2, 3].map((impact) => [1, 2, 3].map((urgency) => priorityOf(impact as 1, urgency as 1)));
    expect(grid).to.deep.equal([[1, 2, 3], [2, 3, 4], [3, 4, 5]]);
  });

  // 2026-11-24 is a Tuesday; 15:00 UTC is 09:00 in Chicago.
  const tuesdayMorningChicago = new Date('2026-11-24T15:00:00Z');
  const wednesdayMorningChicago = new Date('2026-11-25T15:00:00Z');

  it('takes a clinic profile at its own urgency during its hours', () => {
    expect(urgencyOf([profile('Tue,Thu 07:00-12:00', 1)], tuesdayMorningChicago)).to.equal(1);
  });

  it('lowers the urgency by one outside the profile hours', () => {
    expect(urgencyOf([profile('Tue,Thu 07:00-12:00', 1)], wednesdayMorningChicago)).to.equal(2);
  });

  it('keeps a 24x7 emergency department urgent at any hour', () => {
    expect(urgencyOf([profile('24x7', 1)], new Date('2026-11-22T08:00:00Z'))).to.equal(1);
  });

  it('lets the most urgent affected profile win', () => {
    expect(urgencyOf([profile('Tue,Thu 07:00-12:00', 2), profile('24x7', 1)], wednesdayMorningChicago)).to.equal(1);
  });

  it('uses medium urgency when no profile is named', () => {
    expect(urgencyOf([], tuesdayMorningChicago)).to.equal(2);
  });

  it('reads hours in the profile time zone, not the server one', () => {
    const hours = parseWorkingHours('Mon-Fri 08:00-17:00');
    // 14:00 UTC: 09:00 in Chicago (open), 23:00 in Tokyo (closed).
    const at = new Date('2026-11-24T14:00:00Z');
    expect(isWithinHours(hours, at, 'America/Chicago')).to.equal(true);
    expect(isWithinHours(hours, at, 'Asia/Tokyo')).to.equal(false);
  });

  it('handles a night shift that crosses midnight', () => {
    const hours = parseWorkingHours('Mon-Fri 22:00-06:00');
    expect(isWithinHours(hours, new Date('2026-11-24T23:30:00Z'), 'UTC')).to.equal(true); // Tue 23:30
    expect(isWithinHours(hours, new Date('2026-11-25T05:30:00Z'), 'UTC')).to.equal(true); // Wed 05:30
    expect(isWithinHours(hours, new Date('2026-11-25T12:00:00Z'), 'UTC')).to.equal(false);
  });

  // Impact from the check × urgency from the profiles at that moment. 2026-11-26 is Thanksgiving (a Thursday).
  const ed = () => profile('24x7', 1);
  const cardiology = (closed: string[] = []) => profile('Tue,Thu 07:00-12:00', 2, 'America/Chicago', closed);
  const table: [string, 1 | 2 | 3, ProfileConfig[], string, number][] = [
    ['EHR down, emergency department, 3 a.m. Sunday', 1, [ed()], '2026-11-22T09:00:00Z', 1],
    ['PACS slow, cardiology clinic open (Tue 09:00 Chicago)', 2, [cardiology()], '2026-11-24T15:00:00Z', 3],
    ['PACS slow, cardiology clinic closed (Tue 06:59 Chicago)', 2, [cardiology()], '2026-11-24T12:59:00Z', 4],
    ['PACS slow, the minute the clinic opens (Tue 07:00 Chicago)', 2, [cardiology()], '2026-11-24T13:00:00Z', 3],
    ['PACS slow, Thursday morning but a public holiday', 2, [cardiology(['2026-11-26'])], '2026-11-26T15:00:00Z', 4],
    ['PACS slow, the Thursday after the holiday', 2, [cardiology(['2026-11-26'])], '2026-12-03T15:00:00Z', 3],
    ['a printer (impact 3), no profile', 3, [], '2026-11-24T15:00:00Z', 4],
    ['lab interface, ED and closed clinic: the ED wins', 2, [cardiology(), ed()], '2026-11-25T15:00:00Z', 2],
  ];
  for (const [what, impact, profiles, at, expected] of table) {
    it(`gives P${expected} for ${what}`, () => {
      expect(priorityOf(impact, urgencyOf(profiles, new Date(at)))).to.equal(expected);
    });
  }

  it('counts a closed date in the profile time zone, not UTC', () => {
    // 03:00 UTC on the 27th is still the 26th (the holiday) in Chicago.
    const p = profile('24x7', 1, 'America/Chicago', ['2026-11-26']);
    expect(isWorking(p, new Date('2026-11-27T03:00:00Z'))).to.equal(false);
    expect(isWorking(p, new Date('2026-11-27T07:00:00Z'))).to.equal(true);
  });
});
