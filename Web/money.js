// Amounts as integer kopiyky: the page never does arithmetic on binary floating point money.

/** "480.50" or 480.5 → 48050; null for anything that is not an amount with at most 2 decimals. */
export function parseKopiyky(input) {
  const text = String(input).trim().replace(",", ".").replace(/\s/g, "");
  const match = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** 48050 → "480.50". */
export function formatKopiyky(kopiyky) {
  const sign = kopiyky < 0 ? "-" : "";
  const value = Math.abs(kopiyky);
  return `${sign}${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
}

/** "480.50" → "480,50" grouped for display in the page's language. */
export function display(amountText, language) {
  const kopiyky = parseKopiyky(amountText);
  if (kopiyky === null) return amountText ?? "—";
  const whole = Math.floor(kopiyky / 100).toLocaleString(language === "en" ? "en-GB" : "uk-UA");
  return `${whole}${language === "en" ? "." : ","}${String(kopiyky % 100).padStart(2, "0")}`;
}

/** "9/7" → [9, 7]. */
export function parseRatio(text) {
  const [numerator, denominator] = String(text ?? "1").split("/").map(Number);
  return [numerator || 1, denominator || 1];
}
