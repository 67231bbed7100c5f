/* pager.js: the result cards a page at a time. A card holds a decoded
   thumbnail and a few dozen elements: a thousand of them would hold a gigabyte
   and slow every layout, so only one page's cards exist; each image keeps a
   compressed thumbnail (results.js), and the table and the CSVs every row. */
import { $ } from "./dom.js";
import { makeCard, renderCard, setCardWaiting } from "./results.js";

export const PAGE_SIZE = 48;

const view = {
  items: [], // every image, in order (queue.js's)
  first: 0,  // the index of the page's first image
  shown: [], // the images with a card, in order
};

// The card of item, if it has one, as the item stands: waiting, failed or classified.
export function refreshCard(item) {
  if (!item.card) return;
  if (item.result || item.error) renderCard(item);
  else setCardWaiting(item);
}

function dropCard(item) {
  const img = item.card.querySelector(".thumb img");
  if (img.src) URL.revokeObjectURL(img.src);
  item.card.remove();
  delete item.card;
}

// Shows the page of items that holds index first (default: the page on show),
// making the cards it lacks and dropping the others.
export function showPage(items, first = view.first) {
  const last = Math.max(0, Math.floor((items.length - 1) / PAGE_SIZE) * PAGE_SIZE);
  view.items = items;
  view.first = Math.min(last, Math.max(0, first - (first % PAGE_SIZE)));
  const page = items.slice(view.first, view.first + PAGE_SIZE);
  const onPage = new Set(page);
  for (const item of view.shown) if (!onPage.has(item)) dropCard(item);
  for (const item of page) {
    if (item.card) continue;
    item.card = makeCard(item.name);
    $("cards").append(item.card);
    refreshCard(item);
  }
  view.shown = page;
  showPager();
}

const rangeText = (first, n) => `${first + 1}–${Math.min(first + PAGE_SIZE, n)}`;

// Previous, next, and a choice of every page, when there is more than one.
function showPager() {
  const n = view.items.length;
  $("card-pager").hidden = n <= PAGE_SIZE;
  if (n <= PAGE_SIZE) return;
  const select = $("card-page");
  const pages = Math.ceil(n / PAGE_SIZE);
  if (select.options.length !== pages) {
    select.replaceChildren();
    for (let p = 0; p < pages; p++) select.add(new Option(rangeText(p * PAGE_SIZE, n), p * PAGE_SIZE));
  }
  select.options[pages - 1].text = rangeText((pages - 1) * PAGE_SIZE, n);
  select.value = view.first;
  $("card-pager-total").textContent = `of ${n} images`;
  $("card-prev").disabled = view.first === 0;
  $("card-next").disabled = view.first + PAGE_SIZE >= n;
}

export function wirePager() {
  $("card-prev").addEventListener("click", () => showPage(view.items, view.first - PAGE_SIZE));
  $("card-next").addEventListener("click", () => showPage(view.items, view.first + PAGE_SIZE));
  $("card-page").addEventListener("change", (e) => showPage(view.items, Number(e.target.value)));
}
