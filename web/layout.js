/* layout.js: the page's arrangement on a small screen: on a phone the model's
   settings other than the model itself (crop, pixel size, averaging) fold
   behind a button, so the drop zone and the results come within the first
   screen or two; a wider screen shows them always (style.css). */

const PHONE = "(max-width: 600px)";

export function foldOnPhones() {
  const button = document.getElementById("more-settings");
  const panel = button.closest(".settings");
  const show = (open) => {
    panel.classList.toggle("folded", !open);
    button.setAttribute("aria-expanded", open);
  };
  button.addEventListener("click", () => show(panel.classList.contains("folded")));
  show(!matchMedia(PHONE).matches);
}
