import { expect } from 'chai';
import { IsoTimes } from '../../src/core/iso-time.js';

describe('IsoTimes: toISOString with the minute reused', () => {
  it('writes what toISOString writes, across minutes, days, a leap day and the epoch', () => {
    const times = new IsoTimes();
    const samples = [0, 1, 999, 1000, 59_999, 60_000, 951_782_400_000 - 1, 951_782_400_000, 1_796_302_276_558, 1_796_302_276_005, 1_796_302_279_050, 4_102_444_800_000];
    for (let ms = 1_796_300_000_000; ms < 1_796_300_000_000 + 3 * 86_400_000; ms += 7_777_777) samples.push(ms, ms + 3, ms + 61);
    for (const ms of samples) expect(times.format(ms), String(ms)).to.equal(new Date(ms).toISOString());
  });
});
