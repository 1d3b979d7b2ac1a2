// Small progressive enhancements. Every feature here also works without JavaScript (the server
// handles the same buttons and links); this file only makes them immediate.
(function () {
  "use strict";

  // The server's suggest_link_name, in JavaScript: "Zoho Desk (EU)" → "zoho_desk_eu".
  function suggestLinkName(name) {
    let out = "";
    for (const c of name.toLowerCase()) {
      if (/[a-z0-9]/.test(c)) out += c;
      else if (out && !out.endsWith("_")) out += "_";
    }
    out = out.replace(/^[0-9_]+/, "").slice(0, 50);
    return out.replace(/_+$/, "");
  }

  // Suggest the link name from the display name until the user edits the link name themselves.
  document.addEventListener("input", function (e) {
    const el = e.target;
    if (el.matches("[data-suggest-target]")) {
      const target = document.querySelector(el.dataset.suggestTarget);
      if (target && !target.dataset.touched) target.value = suggestLinkName(el.value);
    } else if (el.id && document.querySelector('[data-suggest-target="#' + el.id + '"]')) {
      el.dataset.touched = el.value ? "1" : "";
    }
  });

  document.addEventListener("click", function (e) {
    const copy = e.target.closest("[data-copy]");
    if (copy) {
      const source = document.querySelector(copy.dataset.copy);
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          const label = copy.textContent;
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = label; }, 1500);
        });
      }
      return;
    }
    // × on a row: remove it here instead of posting the form (the last row is emptied instead).
    const remove = e.target.closest("[data-remove-row]");
    if (remove) {
      e.preventDefault();
      const row = remove.closest(".param-row, .capture-row");
      const list = row && row.parentElement;
      if (!row) return;
      // Captured values are optional, each a card of its own: the last one goes too.
      if (list.children.length > 1 || row.classList.contains("capture-row")) row.remove();
      else row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      return;
    }
    const close = e.target.closest("[data-close-dialog]");
    if (close && close.closest("dialog[open]")) {
      e.preventDefault();
      const dialog = close.closest("dialog");
      dialog.close();
      dialog.remove();
    }
  });

  // A filter box over a check list: hides the choices whose text does not contain what was typed.
  document.addEventListener("input", function (e) {
    const box = e.target.closest("[data-filter-checks]");
    const list = box && document.querySelector(box.dataset.filterChecks);
    if (!list) return;
    const wanted = box.value.trim().toLowerCase();
    list.querySelectorAll(".check").forEach(function (item) {
      item.hidden = wanted !== "" && !item.textContent.toLowerCase().includes(wanted);
    });
  });

  // A picker whose choice reloads the page (a full load, so the page's CSP fits the chosen service).
  document.addEventListener("change", function (e) {
    const form = e.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // "Select all on this page" ticks every row of its table (the server reads it as the page's rows);
  // unticking a row unticks it.
  document.addEventListener("change", function (e) {
    const table = e.target.closest("table");
    if (!table) return;
    if (e.target.matches("[data-select-all]")) {
      table.querySelectorAll("tbody input[type=checkbox][name=link]").forEach(function (box) {
        box.checked = e.target.checked;
      });
    } else if (e.target.matches("tbody input[type=checkbox][name=link]") && !e.target.checked) {
      const all = table.querySelector("[data-select-all]");
      if (all) all.checked = false;
    }
  });

  // Confirmation dialogs arrive as htmx fragments marked data-open: show them as modals.
  function openDialogs(root) {
    root.querySelectorAll("dialog[data-open]:not([open])").forEach(function (dialog) {
      if (!dialog.closest(".confirm-card")) {
        dialog.addEventListener("close", function () { dialog.remove(); });
        dialog.showModal();
      }
    });
  }
  document.addEventListener("htmx:afterSwap", function (e) { openDialogs(e.target); });
})();
