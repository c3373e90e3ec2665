// The run page's tabs and its share panel (templates/portal/run/tabs.html, run.html).
//
// Tabs follow the WAI-ARIA tabs pattern: role=tablist/tab/tabpanel, aria-selected on
// the tab shown, arrow keys (and Home/End) move between tabs, the others leave the tab
// order. Each tab is a link to its panel: a click shows the panel in place (no reload)
// and puts its anchor in the address, so a reload or a copied URL opens the same tab;
// opening the page at an anchor inside a panel (#notes after saving them, #ci-report,
// #comment-12 from a mention's notification) selects that panel's tab and scrolls to it.
//
// The header's Share button opens the share panel, a modal <dialog> (Escape, the Close
// button or a click beside it closes it); opening the page at #share opens it too.
(function () {
  "use strict";

  const box = document.getElementById("run-tabs");
  if (box) {
    const tabs = Array.from(box.querySelectorAll('[role="tab"]'));
    const panelOf = (tab) => document.getElementById(tab.getAttribute("aria-controls"));
    // Without this class, a panel shows when it is the :target (kiroku.css).
    box.classList.add("js-tabs");

    const select = (tab, { focus = false, remember = false } = {}) => {
      for (const other of tabs) {
        const on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        other.tabIndex = on ? 0 : -1;
        const panel = panelOf(other);
        if (panel) panel.hidden = !on;
      }
      if (focus) tab.focus();
      if (remember) history.replaceState(history.state, "", tab.getAttribute("href"));
    };

    for (const tab of tabs) {
      tab.addEventListener("click", (event) => {
        event.preventDefault();
        select(tab, { remember: true });
      });
      tab.addEventListener("keydown", (event) => {
        const at = tabs.indexOf(tab);
        const next = {
          ArrowRight: tabs[(at + 1) % tabs.length],
          ArrowLeft: tabs[(at - 1 + tabs.length) % tabs.length],
          Home: tabs[0],
          End: tabs[tabs.length - 1],
        }[event.key];
        if (!next) return;
        event.preventDefault();
        select(next, { focus: true, remember: true });
      });
    }

    // The comment thread arrives after the page (htmx): a link to one of its comments
    // (a mention's notification) opens the Comments tab at once, and scrolls to the
    // comment when the thread is in.
    const LATER = [["comment-", "comments"]];
    let pending = null; // an anchor not in the page yet

    const showAnchor = () => {
      let id;
      try {
        id = decodeURIComponent(location.hash.slice(1));
      } catch (_) {
        return; // a malformed anchor names nothing
      }
      pending = null;
      if (!id) return;
      const target = document.getElementById(id);
      let panel = target && target.closest('[role="tabpanel"]');
      if (!target) {
        const later = LATER.find(([prefix]) => id.startsWith(prefix));
        if (!later) return;
        panel = document.getElementById(later[1]);
        pending = id;
      }
      if (!panel || !box.contains(panel)) return;
      const tab = tabs.find((candidate) => panelOf(candidate) === panel);
      if (!tab) return;
      select(tab);
      if (target) target.scrollIntoView({ block: "start" });
    };
    window.addEventListener("hashchange", showAnchor);
    document.body.addEventListener("htmx:afterSettle", () => {
      if (pending && document.getElementById(pending)) showAnchor();
    });
    showAnchor();
  }

  const dialog = document.getElementById("share");
  const opener = document.getElementById("share-open");
  if (dialog && opener && typeof dialog.showModal === "function") {
    const open = () => {
      if (dialog.open) return;
      dialog.showModal();
      opener.setAttribute("aria-expanded", "true");
    };
    opener.addEventListener("click", open);
    dialog.addEventListener("close", () => {
      opener.setAttribute("aria-expanded", "false");
      if (location.hash === "#share") {
        history.replaceState(history.state, "", location.pathname + location.search);
      }
      opener.focus();
    });
    const close = document.getElementById("share-close");
    if (close) close.addEventListener("click", () => dialog.close());
    // The panel's body fills the dialog, so a click on the dialog itself is a click on
    // its backdrop.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    if (location.hash === "#share") open();
    window.addEventListener("hashchange", () => {
      if (location.hash === "#share") open();
    });
  }
})();
