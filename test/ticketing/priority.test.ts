import { expect } from 'chai';
import type { ProfileConfig } from '../../src/config/types.js';
import { parseWorkingHours, isWithinHours } from '../../src/core/working-hours.js';
import { priorityOf, urgencyOf } from '../../src/ticketing/priority.js';

const profile = (hours: string, urgency: 1 | 2 | 3, timezone = 'America/Chicago'): ProfileConfig => ({ name: 'p', hours: parseWorkingHours(hours), hoursText: hours, timezone, urgency });

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
});
