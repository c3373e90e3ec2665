// The runs table: the column chooser and the selection that opens the compare page.
(function () {
  const columnsField = document.getElementById("columns-field");
  const search = document.getElementById("search");

  function chosenColumns() {
    const current = new Set((columnsField.value || "").split(",").filter(Boolean));
    document.querySelectorAll("#column-keys .column-key").forEach((box) => {
      if (box.checked) current.add(box.value);
      else current.delete(box.value);
    });
    return Array.from(current);
  }

  const apply = document.getElementById("apply-columns");
  if (apply && columnsField && search) {
    apply.addEventListener("click", () => {
      columnsField.value = chosenColumns().join(",");
      search.requestSubmit();
    });
  }

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
  document.body.addEventListener("htmx:afterSwap", updateCompare);
})();
