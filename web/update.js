/* update.js: a new build of the page, deployed while this one is open. The
   service worker (sw.js) keeps the new build waiting, so that this page only
   ever runs its own build's files; the page says "A new version is ready:
   reload", and the button lets the new build take over and reloads. */
import { $ } from "./dom.js";

// Shows the notice; activate, if given, is what lets the new build take over
// before the reload.
export function offerUpdate(activate = null) {
  $("update-notice").hidden = false;
  $("update-reload").onclick = () => {
    if (!activate) return location.reload();
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload());
    activate();
  };
}

// Offers the build that registration holds waiting, now or once it has installed.
export function watchForUpdates(registration) {
  const offer = () => {
    const waiting = registration.waiting;
    // No controller: the first visit, whose worker takes over by itself.
    if (waiting && navigator.serviceWorker.controller) offerUpdate(() => waiting.postMessage("activate"));
  };
  registration.addEventListener("updatefound", () => {
    const installing = registration.installing;
    if (installing) installing.addEventListener("statechange", () => installing.state === "installed" && offer());
  });
  offer();
}
