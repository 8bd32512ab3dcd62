// HTML escaping for the screens' template strings.

/** `value` as text safe inside HTML content and quoted attributes. */
export function esc(value) {
  return String(value).replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch],
  );
}
