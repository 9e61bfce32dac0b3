// Keyboard support for the physician typeahead (physicians/_physician_typeahead.html).
// htmx fetches the options; this script moves the highlight with the arrow
// keys, picks with Enter or a click, and closes with Escape.
(function () {
  "use strict";

  function options(widget) {
    return Array.from(widget.querySelectorAll(".typeahead-option"));
  }

  function highlight(widget, index) {
    const items = options(widget);
    const input = widget.querySelector("input[type=search]");
    items.forEach(function (item, i) {
      const active = i === index;
      item.classList.toggle("active", active);
      item.setAttribute("aria-selected", active ? "true" : "false");
      if (active) {
        input.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({ block: "nearest" });
      }
    });
    widget.dataset.index = String(index);
  }

  function close(widget) {
    widget.querySelector(".typeahead-results").innerHTML = "";
    const input = widget.querySelector("input[type=search]");
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    widget.dataset.index = "-1";
  }

  function choose(widget, item) {
    if (widget.dataset.mode === "navigate") {
      window.location.assign(item.dataset.url);
      return;
    }
    widget.querySelector("input[type=search]").value = item.dataset.label;
    widget.querySelector("[data-typeahead-value]").value = item.dataset.id;
    widget.dispatchEvent(new CustomEvent("typeahead:chosen", { bubbles: true, detail: item.dataset }));
    close(widget);
  }

  document.addEventListener("keydown", function (event) {
    const widget = event.target.closest && event.target.closest("[data-typeahead]");
    if (!widget || event.target.type !== "search") return;
    const items = options(widget);
    let index = Number(widget.dataset.index || -1);
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      highlight(widget, Math.min(index + 1, items.length - 1));
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      highlight(widget, Math.max(index - 1, 0));
    } else if (event.key === "Enter" && items.length) {
      event.preventDefault();
      choose(widget, items[Math.max(index, 0)]);
    } else if (event.key === "Escape") {
      close(widget);
    }
  });

  document.addEventListener("input", function (event) {
    const widget = event.target.closest && event.target.closest("[data-typeahead]");
    const hidden = widget && widget.querySelector("[data-typeahead-value]");
    if (hidden) hidden.value = "";
  });

  document.addEventListener("click", function (event) {
    const item = event.target.closest(".typeahead-option");
    if (item) {
      choose(item.closest("[data-typeahead]"), item);
      return;
    }
    document.querySelectorAll("[data-typeahead]").forEach(function (widget) {
      if (!widget.contains(event.target)) close(widget);
    });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const widget = event.target.closest && event.target.closest("[data-typeahead]");
    if (!widget) return;
    const input = widget.querySelector("input[type=search]");
    input.setAttribute("aria-expanded", options(widget).length ? "true" : "false");
    highlight(widget, -1);
  });
})();
