// Opens every closed <details> (the Interview corner answers) while the page prints, and closes
// them again afterwards. book.css does the same with ::details-content where the browser supports
// it (Chromium 131+); this covers the browsers that do not.
(() => {
  let opened = [];
  addEventListener("beforeprint", () => {
    opened = [...document.querySelectorAll("details:not([open])")];
    opened.forEach((details) => (details.open = true));
  });
  addEventListener("afterprint", () => {
    opened.forEach((details) => (details.open = false));
    opened = [];
  });
})();
