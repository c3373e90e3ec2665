// The runs table: the column chooser and the selection that opens the compare page.
(function () {
  const columnsField = document.getElementById("columns-field");
  const shownField = document.getElementById("shown-columns");
  const search = document.getElementById("search");
  const chooser = document.getElementById("chooser");

  // The columns the table shows: the reader's or the defaults, and those the filter
  // names (#runs-state, rendered with the table).
  function shownColumns() {
    const state = document.getElementById("runs-state");
    return ((state && state.dataset.shown) || "").split(",").filter(Boolean);
  }

  // The search form and the save-view form carry the table's filter, sort and chosen
  // columns; after a swap (a sort, a page, "Back to the default columns") they follow.
  function syncForms() {
    const state = document.getElementById("runs-state");
    if (!state) return;
    if (columnsField) columnsField.value = state.dataset.chosen || "";
    const values = { filter: state.dataset.filter, order_by: state.dataset.orderBy, columns: state.dataset.chosen };
    document.querySelectorAll("#search input[type=hidden], #save-view input[type=hidden]").forEach((input) => {
      if (input.name in values) input.value = values[input.name] || "";
    });
  }

  // Boxes ticked or cleared and not applied yet, kept while the key list is searched.
  const pending = new Map();
  document.addEventListener("change", (event) => {
    if (event.target.matches("#column-keys .column-key")) {
      pending.set(event.target.value, event.target.checked);
    }
  });

  // The chooser's boxes start from what the table shows, and follow it after a swap.
  function syncChooser() {
    const shown = new Set(shownColumns());
    if (shownField) shownField.value = Array.from(shown).join(",");
    document.querySelectorAll("#column-keys .column-key").forEach((box) => {
      box.checked = pending.has(box.value) ? pending.get(box.value) : shown.has(box.value);
    });
  }
  syncChooser();

  function chosenColumns() {
    const current = new Set(shownColumns());
    pending.forEach((checked, column) => {
      if (checked) current.add(column);
      else current.delete(column);
    });
    return Array.from(current);
  }

  const apply = document.getElementById("apply-columns");
  if (apply && columnsField && search) {
    apply.addEventListener("click", () => {
      columnsField.value = chosenColumns().join(",");
      if (chooser) chooser.open = false;
      search.requestSubmit();
    });
  }

  // "+N more" opens the chooser where it is: a panel over the table, nothing moves.
  document.addEventListener("click", (event) => {
    if (!chooser) return;
    if (event.target.closest("#more-columns")) {
      chooser.open = true;
      chooser.scrollIntoView({ block: "nearest" });
      document.getElementById("column-search")?.focus({ preventScroll: true });
      return;
    }
    // A click outside an open panel closes it, as a menu would.
    document.querySelectorAll("details.popover[open]").forEach((panel) => {
      if (!panel.contains(event.target)) panel.open = false;
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.popover[open]").forEach((panel) => {
      panel.open = false;
      panel.querySelector("summary")?.focus();
    });
  });

  function updateCompare() {
    const button = document.getElementById("compare-button");
    const count = document.getElementById("compare-count");
    if (!button) return;
    const selected = document.querySelectorAll("#runs input[name=runs]:checked").length;
    button.disabled = selected < 2 || selected > 20;
    count.textContent = selected
      ? `${selected} selected` + (selected > 20 ? " (at most 20)" : selected < 2 ? " (select at least 2)" : "")
      : "Select 2 to 20 runs.";
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("#runs input[name=runs]")) updateCompare();
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    updateCompare();
    if (event.target.id === "runs-table") {
      pending.clear();
      syncForms();
    }
    if (event.target.id === "runs-table" || event.target.id === "column-keys") syncChooser();
  });
})();
