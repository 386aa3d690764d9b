// Marks the words of a search in a text, for the offline search on this device (online, the
// server says what its stemmed search matched: `highlight`). A word matches by a rough stem
// (common suffixes off, a doubled last consonant undone) as a prefix.
export function highlightRanges(text: string, query: string): Array<[number, number]> {
  const stems = query
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1)
    .map(stem);
  if (!stems.length) return [];
  const ranges: Array<[number, number]> = [];
  const word = /[\p{L}\p{N}]+/gu;
  for (let m = word.exec(text); m; m = word.exec(text)) {
    const lower = m[0].toLowerCase();
    if (stems.some((s) => lower.startsWith(s))) ranges.push([m.index, m.index + m[0].length]);
  }
  return ranges;
}

function stem(word: string): string {
  const bare = word.replace(/(ing|ed|es|er|ly|s)$/, "");
  if (bare.length < 3) return word;
  return /([b-df-hj-np-tv-z])\1$/.test(bare) ? bare.slice(0, -1) : bare;
}
