// An accessibility audit of the page as the browser renders it, after
// WCAG 2.1 AA: the page's language and title, a heading, a name for
// every control, button and link, unique ids, no positive tabindex, and
// a contrast of 4.5:1 (3:1 for large text) for every visible text.
// Returns the problems found, each naming the element; none is a pass.
const problems = [];
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
const visible = (el) => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return style.display !== "none" && style.visibility !== "hidden" && box.width > 1 && box.height > 1;
};
if (!document.documentElement.lang) problems.push("the page names no language");
if (!document.title.trim()) problems.push("the page has no title");
if (!document.querySelector("h1")) problems.push("the page has no h1");
const nameOf = (el) => (el.getAttribute("aria-label") || "").trim() ||
  (el.getAttribute("aria-labelledby") || "").split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join("").trim();
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  const labelled = (el.labels && [...el.labels].some((l) => l.textContent.trim())) || nameOf(el);
  if (!labelled) problems.push(describe(el) + " has no label");
}
for (const el of document.querySelectorAll("button, a[href]")) {
  if (!visible(el)) continue;
  if (!el.textContent.trim() && !nameOf(el) && !el.querySelector("img[alt]:not([alt=''])")) problems.push(describe(el) + " has no name");
}
for (const img of document.querySelectorAll("img")) {
  if (!img.hasAttribute("alt")) problems.push(describe(img) + " has no alt text");
}
const seen = new Set();
for (const el of document.querySelectorAll("[id]")) {
  if (seen.has(el.id)) problems.push("the id " + el.id + " is used twice");
  seen.add(el.id);
}
for (const el of document.querySelectorAll("[tabindex]")) {
  if (Number(el.getAttribute("tabindex")) > 0) problems.push(describe(el) + " has a positive tabindex");
}
const rgba = (text) => {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const parts = m[1].split(",").map((p) => parseFloat(p));
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
};
const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
const backgroundOf = (el) => {
  const layers = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = rgba(getComputedStyle(node).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] >= 1) break;
  }
  return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
};
const luminance = (c) => {
  const [r, g, b] = c.slice(0, 3).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
for (const el of document.querySelectorAll("body *")) {
  const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!text || !visible(el) || el.closest("[aria-hidden=true], :disabled, option")) continue;
  const style = getComputedStyle(el);
  const background = backgroundOf(el);
  const color = over(rgba(style.color), background);
  const [light, dark] = [luminance(color), luminance(background)].sort((a, b) => b - a);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) problems.push(describe(el) + " has contrast " + ratio.toFixed(2) + ":1");
}
return problems;
