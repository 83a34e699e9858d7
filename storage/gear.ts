// The gear table for FastCDC: 256 pseudo-random 32-bit words. Generated here by
// splitmix64 from a fixed seed so chunk boundaries are identical on every machine
// and every release: changing the seed changes every chunk boundary, which would
// defeat deduplication between stores. Never change GEAR_SEED.
const GEAR_SEED = 0x726f616d_73746f72n; // "roamstor"
const MASK64 = (1n << 64n) - 1n;

function buildGearTable(): Uint32Array {
  const table = new Uint32Array(256);
  let state = GEAR_SEED;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    z = z ^ (z >> 31n);
    table[i] = Number(z >> 32n); // the high half is the better-mixed half
  }
  return table;
}

export const GEAR: Uint32Array = buildGearTable();
