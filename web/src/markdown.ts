// Markdown to safe HTML: marked renders (GitHub-flavoured), DOMPurify removes anything that
// could run script or fetch from elsewhere (event handlers, javascript: URLs, <script>, <style>,
// forms). The page's CSP is the second line: even a sanitiser miss could not run inline script.
import DOMPurify from "dompurify";
import { marked } from "marked";

marked.setOptions({ gfm: true, breaks: false });

// Links open in a new tab without giving it a handle on this one. An image written without a
// description (raw HTML `<img>`) counts as decorative: screen readers skip it instead of reading
// its file name.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG" && !node.hasAttribute("alt")) node.setAttribute("alt", "");
});

export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false });
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
    FORBID_ATTR: ["style"],
  });
}
