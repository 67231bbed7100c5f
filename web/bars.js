/* bars.js: a card's class probabilities as bars, the most probable first:
   the top TOP_BARS shown, the rest of a model of many classes on demand. Each
   bar has its class's name beside its colour, and its class's index
   (data-class) and probability (data-probability) for the tests. */
import { classColour, el, percent } from "./dom.js";

export const TOP_BARS = 5;

export function renderBars(list, classes, probs) {
  const order = classes.map((_, k) => k).sort((a, b) => probs[b] - probs[a] || a - b);
  const rows = order.map((k, rank) => {
    const li = el("li", { hidden: rank >= TOP_BARS });
    li.innerHTML = `<span class="class-name"></span><span class="bar" aria-hidden="true"><span></span></span><span class="value"></span>`;
    Object.assign(li.querySelector(".class-name"), { textContent: classes[k], title: classes[k] });
    li.querySelector(".bar span").style.width = `${100 * probs[k]}%`;
    li.querySelector(".bar span").style.background = classColour(k);
    li.querySelector(".value").textContent = percent(probs[k]);
    Object.assign(li.dataset, { class: k, probability: probs[k] });
    return li;
  });
  list.replaceChildren(...rows);
  if (order.length > TOP_BARS) list.append(moreButton(rows.slice(TOP_BARS)));
}

// "All 30 classes" / "Top 5 only": shows or hides the bars below the top ones.
function moreButton(rest) {
  const button = el("button", { className: "button small", type: "button" });
  const show = (all) => {
    for (const li of rest) li.hidden = !all;
    button.textContent = all ? `Top ${TOP_BARS} only` : `All ${rest.length + TOP_BARS} classes`;
    button.setAttribute("aria-expanded", all);
  };
  button.addEventListener("click", () => show(rest[0].hidden));
  show(false);
  return el("li", { className: "probs-more" }, button);
}
