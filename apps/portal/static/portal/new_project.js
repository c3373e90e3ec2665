// The new-project form (templates/portal/projects.html): the slug follows the name as
// it is typed, until the user edits the slug itself. The server makes the same slug
// from the name when the field is left empty (apps/portal/views/projects.py).
(function () {
  "use strict";
  const slug = document.querySelector("input[data-derived-from]");
  if (!slug) return;
  const name = document.getElementById(slug.dataset.derivedFrom);
  if (!name) return;
  const MAX = 64;

  function slugOf(text) {
    return text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "") // accents go, letters stay: "Café" → "cafe"
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, MAX)
      .replace(/-+$/, "");
  }

  // A slug typed by hand (or kept from a refused form) is never overwritten.
  let follows = slug.value === "" || slug.value === slugOf(name.value);
  name.addEventListener("input", () => {
    if (follows) slug.value = slugOf(name.value);
  });
  slug.addEventListener("input", () => {
    follows = slug.value === "";
  });
})();
