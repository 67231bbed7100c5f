/* layout.js: the page's arrangement on a small screen: on a phone the model's
   settings other than the model itself (crop, pixel size, averaging) fold
   behind a button, so the drop zone and the results come within the first
   screen or two; a wider screen shows them always (style.css). Open or closed
   as the user left them, for the session, as the Teach panel. */

const PHONE = "(max-width: 600px)";
const OPEN_KEY = "cellsight.settings.open"; // sessionStorage: "open" or "closed"

function keptOpen() {
  try {
    const kept = sessionStorage.getItem(OPEN_KEY);
    return kept === null ? null : kept === "open";
  } catch {
    return null; // no sessionStorage (a sandboxed frame): folded on a phone each visit
  }
}

function keepOpen(open) {
  try {
    sessionStorage.setItem(OPEN_KEY, open ? "open" : "closed");
  } catch {
    // not kept; the button still works for this page
  }
}

export function foldOnPhones() {
  const button = document.getElementById("more-settings");
  const panel = button.closest(".settings");
  const show = (open) => {
    panel.classList.toggle("folded", !open);
    button.setAttribute("aria-expanded", open);
  };
  button.addEventListener("click", () => {
    const open = panel.classList.contains("folded");
    show(open);
    keepOpen(open);
  });
  show(keptOpen() ?? !matchMedia(PHONE).matches);
}
