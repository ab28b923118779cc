// The "send a new code" countdown: counts down to data-countdown-until (epoch seconds),
// keeping the button disabled until then. Without JavaScript the page states the time
// instead, and the server refuses a request that comes too early.
"use strict";
document.querySelectorAll("[data-countdown-until]").forEach(function (note) {
  var button = document.getElementById(note.getAttribute("data-countdown-button"));
  var serverNow = Number(note.getAttribute("data-countdown-now")) || Date.now() / 1000;
  // Measured from page load against the server's clock, so a phone set to the wrong
  // time still counts the right number of seconds.
  var deadline = Date.now() + (Number(note.getAttribute("data-countdown-until")) - serverNow) * 1000;
  var pad = function (n) { return (n < 10 ? "0" : "") + n; };
  var tick = function () {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      note.textContent = note.getAttribute("data-countdown-done");
      if (button) { button.disabled = false; }
      return;
    }
    if (button) { button.disabled = true; }
    var clock = pad(Math.floor(left / 60)) + ":" + pad(left % 60);
    note.textContent = note.getAttribute("data-countdown-text").replace("{time}", clock);
    setTimeout(tick, 500);
  };
  tick();
});
