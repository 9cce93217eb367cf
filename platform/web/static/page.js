// What pages ask for in data- attributes, so that no page needs an inline script (the
// Content-Security-Policy allows scripts from /static only).
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
    var delay = Number(form.getAttribute("data-auto-submit")) || 0;
    setTimeout(function () { form.submit(); }, delay);
  });
  document.querySelectorAll("[data-poll-url]").forEach(function (element) {
    var url = element.getAttribute("data-poll-url");
    setInterval(function () {
      var request = new XMLHttpRequest();
      request.open("GET", url);
      request.onload = function () {
        try {
          if (JSON.parse(request.responseText).status !== "pending") location.reload();
        } catch (e) {}
      };
      request.send();
    }, 2500);
  });
});
